"""Which records a transaction locks, and in what order, so concurrent writers never lose a
write and never deadlock (docs/protocol.md §6.5).

Scope flows down the inheritance tree (a child's keys come from its parent), so a writer that
changes a parent's scope re-keys its children, and a writer that creates or changes a child
computes the child's keys from its parent. Both must see the other's committed work:

- a writer locks every record it writes FOR UPDATE, and every ancestor its records inherit
  scope from FOR SHARE, before it reads anything it decides on;
- locks are taken in one global order: by depth in the inheritance tree (roots first), then
  entity name, then id;
- children re-keyed by a scope change are locked FOR UPDATE after their parent, which the
  writer already holds FOR UPDATE. Anyone else holding such a child holds its parent FOR
  SHARE, acquired before it, so a cascade only ever waits for a writer that does not wait
  for it.

A lock plan is computed from records read without locks; once the locks are held, the plan
is computed again from the locked copies. A record re-parented meanwhile makes the second
plan ask for an ancestor not locked yet: `LockPlanChanged` is raised and the whole
transaction must be run again (sync.database.retrying), as for a deadlock PostgreSQL detects
despite all this (a share lock upgraded by two writers at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sync.entities import Inherit, Registry
from sync.errors import RetryTransaction
from sync.protocol import Mutation, Op

Key = tuple[str, str]
MAX_DEPTH = 16  # levels of scope inheritance followed (the registry refuses cycles)


class LockPlanChanged(RetryTransaction):
    """A record's parent changed between the unlocked read and the lock: run again."""


def plan(registry: Registry, mutations: Iterable[Mutation], current) -> dict[Key, bool]:
    """The records to lock for `mutations`: key -> exclusive (FOR UPDATE) or not (FOR SHARE).

    `current(entity, id)` returns the record's data as last read (None when unknown).
    Updated and deleted records are locked exclusively; the ancestors of every record
    written, through both its current and its new parent, are share-locked.
    """
    wanted: dict[Key, bool] = {}
    for m in mutations:
        if m.entity not in registry:
            continue
        if m.op is not Op.CREATE:
            wanted[(m.entity, m.record_id)] = True
        for ancestor in ancestors(registry, m.entity, _parents_of(registry, m, current),
                                  current):
            wanted.setdefault(ancestor, False)
    return wanted


def _parents_of(registry: Registry, m: Mutation, current) -> set[str]:
    rule = registry[m.entity].scope
    if not isinstance(rule, Inherit):
        return set()
    data = current(m.entity, m.record_id) or {}
    return {p for p in (m.fields.get(rule.field), data.get(rule.field)) if isinstance(p, str)}


def ancestors(registry: Registry, entity: str, parent_ids: Iterable[str],
              current) -> list[Key]:
    """The chain of scope parents above a record of `entity` whose parents are `parent_ids`
    (every level, nearest first), as far as they are known to `current`."""
    found: list[Key] = []
    level = [(entity, p) for p in parent_ids]
    for _ in range(MAX_DEPTH):
        above = []
        for child_entity, parent_id in level:
            rule = registry[child_entity].scope
            if not isinstance(rule, Inherit):
                continue
            found.append((rule.entity, parent_id))
            data = current(rule.entity, parent_id) or {}
            parent_rule = registry[rule.entity].scope
            if isinstance(parent_rule, Inherit) and isinstance(data.get(parent_rule.field), str):
                above.append((rule.entity, data[parent_rule.field]))
        if not above:
            return found
        level = above
    return found


def missing(wanted: Mapping[Key, bool], held: Mapping[Key, bool]) -> list[Key]:
    """The locks of `wanted` not covered by `held` (a share lock does not cover exclusive)."""
    return [key for key, exclusive in wanted.items()
            if key not in held or (exclusive and not held[key])]
