"""Apply one mutation to the current state: validate, authorise, merge, write.

Used by push (a device's batch) and by server-side writers (back office, imports, conflict
overrides) alike, so every write to a replicated record follows the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync import hlc as hlc_mod
from sync import locking
from sync.entities import Actor, EntitySpec, FieldErrors, Registry
from sync.errors import MutationRejected
from sync.ids import CANONICAL_UUID, new_id
from sync.merge import FieldMerge, MergeError, merge_fields
from sync.policies import DeleteRule, Policy
from sync.protocol import FieldConflict, Mutation, MutationResult, Op, RecordState, Status
from sync.records import ChangeEntry, Current, RecordStore
from sync.store import SyncTables

MAX_DRIFT_MS = 5 * 60 * 1000


class Postpone(Exception):
    """The mutation needs a record that a later mutation of the same batch creates."""


def reject(code: str, message: str, /, **fields: Any) -> MutationRejected:
    """A rejection naming the offending `fields`. `code` and `message` are positional-only,
    so a field of any name (a territory's `code`, an unknown `message`) is just a field."""
    return MutationRejected(code, message, fields=fields)


@dataclass
class Outcome:
    result: MutationResult
    changes: list[ChangeEntry] = field(default_factory=list)


class Applier:
    """Applies mutations for one actor inside one transaction."""

    def __init__(self, conn: sa.Connection, tables: SyncTables, registry: Registry,
                 actor: Actor, *, clock: hlc_mod.Clock, now: datetime, source: str = "push"):
        """`source` names how the writes came in the audit trail (sync_audit)."""
        self.conn, self.tables, self.registry, self.actor = conn, tables, registry, actor
        self.store = RecordStore(conn, tables, registry, author={
            "user_id": actor.user_id, "device_id": actor.device_id, "source": source})
        self.clock, self.now = clock, now
        self.pending_creates: set[tuple[str, str]] = set()

    # -- entry point -------------------------------------------------------------------

    def apply(self, m: Mutation, *, may_postpone: bool = False) -> Outcome:
        """Apply `m`; raises MutationRejected, or Postpone when `may_postpone`."""
        spec = self.registry.specs.get(m.entity)
        if spec is None:
            raise reject("unknown_entity", f"no replicated entity named {m.entity!r}",
                         entity=["unknown entity"])
        _canonical_uuid(m.record_id)
        stamp = self._stamp(m.hlc)
        self.store.mutation_id = m.mutation_id or None
        current = self.store.get(m.entity, m.record_id)
        if current is None and may_postpone and (m.entity, m.record_id) in self.pending_creates \
                and m.op is not Op.CREATE:
            raise Postpone
        if m.op is Op.CREATE:
            outcome = self._create(spec, m, current, stamp, may_postpone)
            self.pending_creates.discard((m.entity, m.record_id))
            return outcome
        if current is None:
            raise reject("not_found", f"{m.entity} {m.record_id} does not exist", id=["unknown"])
        if not self.actor.sees(current.keys):
            raise reject("out_of_scope", f"this {m.entity} is outside what you may change")
        if m.base_version is None or not 0 < m.base_version <= current.version:
            raise reject("invalid_base_version",
                         f"base_version must be between 1 and {current.version}",
                         base_version=["out of range"])
        if m.op is Op.UPDATE:
            return self._update(spec, m, current, stamp, may_postpone)
        return self._delete(spec, m, current, stamp)

    def _stamp(self, text: str | None) -> str:
        if text is None:
            return self.clock.now()
        try:  # observe parses the timestamp: one parse, not a check and then a parse
            return self.clock.observe(text, max_drift_ms=MAX_DRIFT_MS)
        except hlc_mod.NOT_A_TIMESTAMP:
            raise reject("validation_failed", "hlc is not a hybrid logical clock timestamp",
                         hlc=["not an HLC timestamp"]) from None

    # -- create ------------------------------------------------------------------------

    def _create(self, spec: EntitySpec, m: Mutation, current: Current | None, stamp: str,
                may_postpone: bool) -> Outcome:
        if current is not None:
            raise reject("already_exists", f"{m.entity} {m.record_id} already exists",
                         id=["already exists"])
        data = _load(spec, m.fields, partial=False)
        self._authorize(spec, "create", None, data)
        data = self._derive(spec, data)
        conflicts = self._check_references(spec, m, data, data, may_postpone)
        self._check(spec, None, data)
        self._check_workflow(spec, None, data)
        moved_away = any(c.kind == "parent_out_of_scope" for c in conflicts)
        keys = self._visible_keys(spec, m.record_id, data, allow_hidden=moved_away)
        record = self.store.insert(spec, m.record_id, data, hlc=stamp, keys=keys, now=self.now,
                                   device_id=self.actor.device_id)
        self._store_conflicts(m, conflicts)
        status = Status.CONFLICT if conflicts else Status.APPLIED
        return Outcome(self._result(m, status, record, conflicts), [self._entry(record, keys)])

    # -- update ------------------------------------------------------------------------

    def _update(self, spec: EntitySpec, m: Mutation, current: Current, stamp: str,
                may_postpone: bool) -> Outcome:
        incoming = _load(spec, m.fields, partial=True)
        self._authorize(spec, "update", current.data, incoming)
        base = _base(spec, m, current)
        policy = spec.merge_policy
        # Deleted since the device's base version: the policy decides. A writer that saw the
        # tombstone (base_version is its version) restores the record on purpose.
        concurrent_delete = current.deleted and m.base_version < current.version
        if concurrent_delete and policy.on_update_deleted is DeleteRule.DELETE_WINS:
            conflict = FieldConflict(None, "update_deleted", str(DeleteRule.DELETE_WINS),
                                     base or None, None, incoming, "deleted")
            self._store_conflicts(m, [conflict])
            return Outcome(self._result(m, Status.CONFLICT, current, [conflict]))
        try:
            merged = merge_fields(current=current.data, base=base, incoming=incoming,
                                  policy=policy, current_hlc=current.hlc, incoming_hlc=stamp)
        except MergeError as exc:
            raise reject("unmergeable", str(exc), **{exc.field: [str(exc)]}) from exc
        counters = {k: v for k, v in merged.values.items()
                    if policy.for_field(k).kind is Policy.COUNTER}
        if counters:  # a merged total must still be a valid value (van stock never below 0)
            _load(spec, counters, partial=True)
        conflicts = list(merged.conflicts)
        if concurrent_delete:
            conflicts.append(FieldConflict(None, "update_deleted", str(DeleteRule.UPDATE_WINS),
                                           base or None, None, incoming, "restored"))
        # Rules about transitions (a closed work order stays closed) judge the state the
        # device edited; a concurrent change it never saw is the merge policy's to decide.
        seen = {**current.data, **{k: v for k, v in base.items() if k in incoming}}
        return self._write_update(spec, m, current, merged, conflicts, stamp, may_postpone,
                                  seen)

    def _write_update(self, spec: EntitySpec, m: Mutation, current: Current,
                      merged: FieldMerge, conflicts: list[FieldConflict], stamp: str,
                      may_postpone: bool, seen: dict[str, Any]) -> Outcome:
        data = self._derive(spec, {**current.data, **merged.values})
        changes = {k: v for k, v in data.items() if current.data.get(k) != v}
        conflicts += self._check_references(spec, m, changes, data, may_postpone)
        self._check(spec, seen, data)
        self._check_workflow(spec, current.data, data)
        keys = self._visible_keys(spec, current.record_id, data)
        if not changes and not current.deleted:
            self._store_conflicts(m, conflicts)
            return Outcome(self._result(m, _status(m, current, conflicts), current, conflicts))
        record = self.store.update(spec, current, changes, hlc=stamp, deleted=False, keys=keys,
                                   now=self.now)
        self._store_conflicts(m, conflicts)
        entries = [self._entry(record, keys | current.keys)]
        if keys != current.keys:
            entries += self._cascade(spec, record)
        return Outcome(self._result(m, _status(m, current, conflicts), record, conflicts),
                       entries)

    # -- delete ------------------------------------------------------------------------

    def _delete(self, spec: EntitySpec, m: Mutation, current: Current, stamp: str) -> Outcome:
        self._authorize(spec, "delete", current.data, {})
        if current.deleted:
            return Outcome(self._result(m, Status.APPLIED, current, []))
        if spec.workflow is not None:
            reason = spec.workflow.delete_refusal(self.actor.role,
                                                  current.data.get(spec.workflow.field))
            if reason:
                raise reject("transition_not_allowed", reason)
        rule = spec.merge_policy.on_delete_updated
        conflicts: list[FieldConflict] = []
        if self._updated_by_others(current, m.base_version):
            result = "kept" if rule is DeleteRule.UPDATE_WINS else "deleted"
            conflicts.append(FieldConflict(None, "delete_updated", str(rule), None,
                                           current.data, None, result))
            if rule is DeleteRule.UPDATE_WINS:
                self._store_conflicts(m, conflicts)
                return Outcome(self._result(m, Status.CONFLICT, current, conflicts))
        record = self.store.update(spec, current, {}, hlc=stamp, deleted=True,
                                   keys=current.keys, now=self.now)
        self._store_conflicts(m, conflicts)
        status = Status.CONFLICT if conflicts else Status.APPLIED
        return Outcome(self._result(m, status, record, conflicts),
                       [self._entry(record, current.keys)])

    def _updated_by_others(self, current: Current, base_version: int) -> bool:
        """Whether anyone but this device changed the record after `base_version`.

        The device's own earlier mutations of the record raise its version too (earlier in
        this batch, or in a batch whose answer it has not stored yet): deleting what it
        edited itself is no concurrent update. A version is the device's if this transaction
        wrote it, or if the change log's first entry for it names the device's receipt stream
        (so a device signed in after a revoked one of its installation owns what that one
        wrote); a version whose entries were compacted away counts as someone else's.
        """
        versions = range(base_version + 1, current.version + 1)
        unknown = [v for v in versions
                   if not self.store.made_here(current.entity, current.record_id, v)]
        if not unknown or self.actor.stream is None:
            return bool(unknown)
        c = self.tables.change
        rows = self.conn.execute(
            sa.select(c.c.version, c.c.device_id).where(
                c.c.entity == current.entity, c.c.record_id == current.record_id,
                c.c.version > base_version, c.c.version <= current.version,
            ).order_by(c.c.seq))
        authors: dict[int, str | None] = {}
        for version, device_id in rows:
            authors.setdefault(version, device_id)  # later entries only re-key (a cascade)
        return any(authors.get(v) != self.actor.stream for v in unknown)

    # -- rules shared by the operations --------------------------------------------------

    def _authorize(self, spec: EntitySpec, op: str, current, changes) -> None:
        try:
            reason = spec.authorize(self.actor, op, current, changes, RecordLookup(self.store))
        except FieldErrors as exc:
            raise reject("validation_failed", f"invalid {spec.name}", **exc.fields) from exc
        if reason:
            raise reject("forbidden", reason)

    def _check_workflow(self, spec: EntitySpec, old, new) -> None:
        """The actor may make the move this write makes, whatever the device saw: a move
        that became illegal while it was offline is refused, not merged."""
        flow = spec.workflow
        if flow is None:
            return
        name = flow.field
        reason = flow.refusal(self.actor.role, old.get(name) if old else None, new.get(name))
        if reason:
            raise reject("transition_not_allowed", reason, **{name: [reason]})

    def _derive(self, spec: EntitySpec, data: dict[str, Any]) -> dict[str, Any]:
        if spec.derive is None:
            return data
        try:
            return spec.derive(RecordLookup(self.store), dict(data))
        except FieldErrors as exc:
            raise reject("validation_failed", f"invalid {spec.name}", **exc.fields) from exc

    def _check(self, spec: EntitySpec, old, new) -> None:
        errors = spec.check(old, new) if spec.check else {}
        if errors:
            raise reject("validation_failed", "the record breaks a rule of its entity", **errors)

    def _visible_keys(self, spec: EntitySpec, record_id: str, data, *,
                      allow_hidden: bool = False) -> frozenset[str]:
        keys = self.store.scope_of(spec, record_id, data)
        if not allow_hidden and not self.actor.sees(keys):
            raise reject("out_of_scope", f"this {spec.name} would be outside what you may see")
        return keys

    def _check_references(self, spec: EntitySpec, m: Mutation, changed: Mapping[str, Any],
                          data: Mapping[str, Any], may_postpone: bool) -> list[FieldConflict]:
        conflicts = []
        for name, target in spec.references.items():
            value = changed.get(name)
            if value is None or target not in self.registry:
                continue
            parent = self.store.get(target, value)
            if parent is None and may_postpone and (target, value) in self.pending_creates:
                raise Postpone
            append_only = spec.merge_policy.append_only
            if parent is not None and not self.actor.sees(parent.keys) and append_only \
                    and self._saw_before(parent):
                # Its parent left the author's scope meanwhile (a work order reassigned):
                # the child is kept, and the back office decides.
                conflicts.append(FieldConflict(name, "parent_out_of_scope", "append_only",
                                               None, None, value, "kept", open=True))
                continue
            if parent is None or not self.actor.sees(parent.keys):
                raise reject("missing_reference", f"{name} names no {target} you can see",
                             **{name: [f"unknown {target}"]})
            if parent.deleted:
                if not spec.merge_policy.append_only:
                    raise reject("reference_deleted", f"{name} names a deleted {target}",
                                 **{name: [f"deleted {target}"]})
                conflicts.append(FieldConflict(name, "parent_deleted", "append_only", None,
                                               None, value, "kept", open=True))
        return conflicts

    def _saw_before(self, record: Current) -> bool:
        """Whether the record was in the actor's scope within the retained change history."""
        c = self.tables.change
        history = self.conn.execute(sa.select(c.c.scope_keys).where(
            c.c.entity == record.entity, c.c.record_id == record.record_id)).scalars()
        return any(self.actor.sees(keys.split()) for keys in history)

    def _cascade(self, spec: EntitySpec, parent: Current) -> list[ChangeEntry]:
        """Children inherit scope: re-key them (and theirs) after the parent's keys changed."""
        entries = []
        for child_spec, child_id in self.store.children_of(spec, parent.record_id, lock=True):
            child = self.store.get(child_spec.name, child_id)
            keys = self.store.scope_of(child_spec, child_id, child.data)
            if keys == child.keys:
                continue
            moved = self.store.rescope(child, keys, self.now)
            entries.append(self._entry(moved, keys | child.keys))
            entries += self._cascade(child_spec, moved)
        return entries

    def _entry(self, record: Current, keys: frozenset[str]) -> ChangeEntry:
        return ChangeEntry(record.entity, record.record_id, record.version, record.deleted,
                           keys, self.actor.stream, self.now)

    def _result(self, m: Mutation, status: Status, record: Current,
                conflicts) -> MutationResult:
        state = RecordState(record.entity, record.record_id, record.version, record.hlc,
                            record.deleted, record.data)
        if not self.actor.sees(record.keys):
            state = None  # kept, but now outside the author's scope: the device drops it
        return MutationResult(m.mutation_id, status, m.entity, m.record_id, state,
                              tuple(conflicts))

    def _store_conflicts(self, m: Mutation, conflicts) -> None:
        if not conflicts:
            return
        self.store.add_conflicts([
            {"id": new_id(), "entity": m.entity, "record_id": m.record_id,
             "field": c.field, "kind": c.kind, "policy": c.policy, "base": c.base,
             "server_value": c.server, "client_value": c.client, "result": c.result,
             "status": "open" if c.open else "resolved", "device_id": self.actor.device_id,
             "user_id": self.actor.user_id, "mutation_id": m.mutation_id or None,
             "mutation": m.to_wire(), "created_at": self.now}
            for c in conflicts
        ])

    def prefetch(self, mutations, *, look_up_creates: bool = True) -> None:
        """Load the batch's records and the records they reference in a few queries, then
        lock what the batch writes and the ancestors it inherits scope from, and read those
        again (see `lock`).

        Without `look_up_creates`, the records the batch creates are taken to be new, not
        looked up (for a push of 500 new records, 2% of its time): for a caller whose bulk
        write then fails on any that exists after all (on its primary key), and who applies
        the batch again, looking them up (sync.push).
        """
        if not look_up_creates:
            self.store.assume_absent((m.entity, m.record_id) for m in mutations
                                     if m.op == Op.CREATE)
        wanted = []
        for m in mutations:
            wanted.append((m.entity, m.record_id))
            spec = self.registry.specs.get(m.entity)
            if spec is None:
                continue
            for name, target in spec.references.items():
                value = m.fields.get(name)
                if isinstance(value, str) and target in self.registry:
                    wanted.append((target, value))
        self.store.prefetch(wanted)
        self.lock(mutations)

    def lock(self, mutations) -> None:
        """Lock the records `mutations` write (exclusively) and their scope ancestors
        (shared), in the global order of sync.locking, so every decision below is made on
        the latest committed versions. Raises LockPlanChanged when a record was moved to
        another parent before its lock was granted: the transaction must run again."""
        store = self.store

        def data(entity: str, record_id: str):
            record = store.get(entity, record_id)
            return None if record is None else record.data

        store.lock(locking.plan(self.registry, mutations, data))
        if locking.missing(locking.plan(self.registry, mutations, data), store.locked):
            raise locking.LockPlanChanged("a record moved to another parent meanwhile")


class RecordLookup:
    """The `Lookup` handed to derive hooks: current records by id or by column values.

    `get` returns deleted records too: whether a deleted parent refuses a child is the
    engine's decision (append-only children are kept), and a kept child must still be derived
    from its parent (an order line priced from its order's price list). `find` sees only
    live records.
    """

    def __init__(self, store: RecordStore):
        self.store = store

    def get(self, entity: str, record_id: str):
        record = self.store.get(entity, record_id)
        return None if record is None else record.data

    def find(self, entity: str, **equals: Any):
        record_id = self.store.find_id(entity, **equals)
        return self.get(entity, record_id) if record_id else None


def _status(m: Mutation, current: Current, conflicts) -> Status:
    if conflicts:
        return Status.CONFLICT
    return Status.MERGED if m.base_version < current.version else Status.APPLIED


def _load(spec: EntitySpec, values: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    try:
        return spec.codec.load(values, partial=partial)
    except FieldErrors as exc:
        raise reject("validation_failed", f"invalid {spec.name} fields", **exc.fields) from exc


def _base(spec: EntitySpec, m: Mutation, current: Current) -> dict[str, Any]:
    """The values the device edited from: the current record when it edited the current
    version, except counters, whose base is always the one sent. A counter's base is the
    device's view, which may include its own earlier mutations that changed nothing here
    (rejected ones, say a count below zero): the increment it meant is fields - base.

    Raises MutationRejected (unmergeable) for a counter sent without its base, even at the
    current version: the server cannot tell which increment was meant (docs/protocol.md
    §6.1), and taking the value as absolute could count a rejected change after all."""
    policy = spec.merge_policy
    blind = [k for k in m.fields if k not in m.base and policy.for_field(k).kind is Policy.COUNTER]
    if blind:
        raise reject("unmergeable", "a counter change must carry the base value it was made from",
                     **{k: ["base value missing"] for k in blind})
    base = current.data if m.base_version == current.version else _load_base(spec, m.base)
    sent = {k: v for k, v in m.base.items()
            if k in m.fields and policy.for_field(k).kind is Policy.COUNTER}
    return {**base, **sent}


def _load_base(spec: EntitySpec, base: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical base values; a base value that does not validate counts as unknown."""
    loaded = {}
    for name, value in base.items():
        try:
            loaded.update(spec.codec.load({name: value}, partial=True))
        except FieldErrors:
            continue
    return loaded


def _canonical_uuid(text: str) -> None:
    """Refuse a record id that is not a UUID in canonical form (lowercase 8-4-4-4-12): the
    same UUID spelt otherwise would be a second record to the database."""
    if type(text) is not str or CANONICAL_UUID.fullmatch(text) is None:
        raise reject("validation_failed", "id must be a UUID in lowercase 8-4-4-4-12 form",
                     id=["not a canonical UUID"])
