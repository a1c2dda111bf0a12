"""How the domain describes a replicated entity to the engine.

The engine never imports the domain: the domain builds an `EntitySpec` per entity (its
table, a codec that validates and canonicalises wire values, its scope rule, its references
and write rules) and hands a `Registry` of them to push, pull and the server-side writers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa

from sync.policies import EntityPolicy
from sync.workflows import Workflow

ALL = "*"  # the scope key of users who see everything (back office)

META_COLUMNS = frozenset({"id", "version", "created_at", "updated_at", "deleted_at"})


class FieldErrors(ValueError):
    """Validation failed; `fields` maps field names to lists of messages."""

    def __init__(self, fields: Mapping[str, Any], message: str = "invalid fields"):
        super().__init__(message)
        self.fields = dict(fields)


class RecordCodec(Protocol):
    """Validates wire values and converts them for the table."""

    def load(self, values: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
        """Validate `values`; return them in canonical wire form. Raises FieldErrors."""

    def to_row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Canonical wire values -> column values for the entity's table."""


@dataclass(frozen=True)
class Actor:
    """Who writes or reads: a user on a device (device None for server-side changes).

    `stream_id` names the device's receipt stream (docs/protocol.md §6.3): the mutation ids
    it has handled and their receipts. Devices of one installation share one, so a device
    that replaced a revoked one is answered for what the old one sent; None: the device's
    own id.
    """

    user_id: str | None
    role: str
    keys: frozenset[str]
    device_id: str | None = None
    stream_id: str | None = None

    @property
    def stream(self) -> str | None:
        """The id the device's pushes are de-duplicated under."""
        return self.stream_id or self.device_id

    def sees(self, keys: Iterable[str]) -> bool:
        return ALL in self.keys or not self.keys.isdisjoint(keys)


@dataclass(frozen=True)
class OwnKeys:
    """Scope keys computed from the record's own fields (the dict includes "id")."""

    compute: Callable[[Mapping[str, Any]], Iterable[str]]


@dataclass(frozen=True)
class Inherit:
    """Scope keys inherited from the parent named by `field`, those starting with `prefixes`."""

    field: str
    entity: str
    prefixes: tuple[str, ...]


ScopeRule = OwnKeys | Inherit

Authorizer = Callable[[Actor, str, Mapping[str, Any] | None, Mapping[str, Any], "Lookup"],
                      str | None]
Deriver = Callable[["Lookup", dict[str, Any]], dict[str, Any]]
Checker = Callable[[Mapping[str, Any] | None, Mapping[str, Any]], dict[str, list[str]]]


class Lookup(Protocol):
    """Read access to current records, for derive hooks (e.g. a price from the price list)."""

    def get(self, entity: str, record_id: str) -> Mapping[str, Any] | None: ...

    def find(self, entity: str, **equals: Any) -> Mapping[str, Any] | None: ...


def allow_all(actor: Actor, op: str, current, changes, lookup) -> str | None:
    return None


@dataclass(frozen=True)
class EntitySpec:
    """One replicated entity.

    authorize(actor, op, current, changes, lookup) returns None or a reason to refuse (or
    raises FieldErrors, or MutationRejected with a code of its own); derive computes
    server-owned fields; check validates the whole new record against the old one and
    returns field errors; workflow declares the states of a status field and who may move
    it where; policy is the entity's conflict policies (default: last writer wins).
    """

    name: str
    table: sa.Table
    codec: RecordCodec
    scope: ScopeRule
    references: Mapping[str, str] = field(default_factory=dict)
    authorize: Authorizer = allow_all
    derive: Deriver | None = None
    check: Checker | None = None
    policy: EntityPolicy | None = None
    workflow: Workflow | None = None

    @functools.cached_property  # read for every mutation; specs and policies are fixed
    def merge_policy(self) -> EntityPolicy:
        return self.policy or EntityPolicy()


class Registry:
    """The replicated entities, by wire name, with their scope children precomputed."""

    def __init__(self, specs: Iterable[EntitySpec]):
        self.specs: dict[str, EntitySpec] = {}
        for spec in specs:
            self.specs[spec.name] = spec
        self.children: dict[str, list[EntitySpec]] = {name: [] for name in self.specs}
        for spec in self.specs.values():
            if isinstance(spec.scope, Inherit):
                self.children[spec.scope.entity].append(spec)
        # Depth in the scope inheritance tree (0: keys of its own): writers lock records
        # shallowest first (sync.locking)
        self.depth: dict[str, int] = {}
        level = [s.name for s in self.specs.values() if not isinstance(s.scope, Inherit)]
        for depth in range(len(self.specs) + 1):
            self.depth.update((name, depth) for name in level)
            level = [child.name for name in level for child in self.children[name]]
        if len(self.depth) != len(self.specs):
            raise ValueError("scope inheritance has a cycle: "
                             + ", ".join(sorted(set(self.specs) - set(self.depth))))

    def __getitem__(self, name: str) -> EntitySpec:
        return self.specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def __iter__(self):
        return iter(self.specs.values())
