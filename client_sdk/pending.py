"""Pending changes: the outbox as the app and its user see it, and the edits allowed on it.

A change may be edited or dropped only while it has never been sent, or after the server
refused the request that carried it whole (a 4xx answer changes nothing on the server). A
change in flight (sent, its result not stored) is left alone: the server may have applied
it, and a re-sent id is answered from its receipt, so an altered copy would be taken for
the original and the edit silently lost (docs/protocol.md §6.6).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from client_sdk.errors import ChangeInFlight, LocalValidationError
from client_sdk.replica import local_view
from client_sdk.store import LocalStore
from sync.protocol import Mutation, Op, compact_json


@dataclass(frozen=True)
class PendingChange:
    """One outbox entry, and whether it is in flight (then it cannot be edited or dropped)."""

    mutation: Mutation
    created_at: str
    in_flight: bool

    def to_dict(self) -> dict[str, Any]:
        m = self.mutation
        return {"mutation_id": m.mutation_id, "entity": m.entity, "id": m.record_id,
                "op": str(m.op), "fields": m.fields, "base": m.base,
                "created_at": self.created_at, "in_flight": self.in_flight}


def pending_changes(store: LocalStore) -> list[PendingChange]:
    """The outbox, oldest first."""
    sent = store.sent_through()
    with store.transaction() as db:
        rows = db.execute("SELECT mutation_id, created_at FROM outbox "
                          "ORDER BY mutation_id").fetchall()
    created = {row[0]: row[1] for row in rows}
    return [PendingChange(m, created[m.mutation_id], m.mutation_id <= sent)
            for m in store.pending() if m.mutation_id in created]


def edit_pending(store: LocalStore, mutation_id: int, fields: Mapping[str, Any]) -> Mutation:
    """Give the create or update `mutation_id` the values in `fields` (added to, or in
    place of, those it has) and re-derive its record's view. Raises LocalValidationError
    for an unknown change or a delete, ChangeInFlight for a change in flight."""
    with store.transaction() as db:
        m = _editable(store, db, mutation_id)
        if m.op is Op.DELETE:
            raise LocalValidationError("a delete has no fields to edit: drop it instead",
                                       {"mutation_id": ["a delete"]})
        edited = replace(m, fields={**m.fields, **fields},
                         base={**m.base, **_bases(store, db, m, fields)})
        db.execute("UPDATE outbox SET fields = ?, base = ? WHERE mutation_id = ?",
                   (compact_json(edited.fields), compact_json(edited.base), mutation_id))
        store.refresh_view(db, m.entity, m.record_id)
    return edited


def drop_pending(store: LocalStore, mutation_id: int) -> list[int]:
    """Remove `mutation_id` from the outbox and re-derive its record's view from the server
    state and the changes left. Dropping a create drops the record's later changes too
    (they could only be rejected `not_found`). Returns the mutation ids dropped. Raises as
    edit_pending does."""
    with store.transaction() as db:
        m = _editable(store, db, mutation_id)
        dropped = [mutation_id]
        if m.op is Op.CREATE:
            later = [p for p in store.pending_for(db, m.entity, m.record_id)
                     if p.mutation_id > mutation_id]
            for p in later:
                _editable(store, db, p.mutation_id)
            dropped += [p.mutation_id for p in later]
        db.executemany("DELETE FROM outbox WHERE mutation_id = ?", [(i,) for i in dropped])
        store.refresh_view(db, m.entity, m.record_id)
        db.execute("DELETE FROM record WHERE entity = ? AND id = ? AND server_data IS NULL "
                   "AND data IS NULL AND pending = 0", (m.entity, m.record_id))
    return dropped


def _editable(store: LocalStore, db, mutation_id: int) -> Mutation:
    row = db.execute("SELECT entity, id FROM outbox WHERE mutation_id = ?",
                     (mutation_id,)).fetchone()
    if row is None:
        raise LocalValidationError(f"no pending change {mutation_id}",
                                   {"mutation_id": ["not pending"]})
    if mutation_id <= store.sent_through():
        raise ChangeInFlight(f"change {mutation_id} is being sent; its result is not in yet: "
                             "sync first", {"mutation_id": ["in flight"]})
    return next(p for p in store.pending_for(db, row[0], row[1])
                if p.mutation_id == mutation_id)


def _bases(store: LocalStore, db, m: Mutation, fields: Mapping[str, Any]) -> dict[str, Any]:
    """For an update, the base of each field it did not change before: its value in the
    view the update was made on (the server state with the changes before it)."""
    if m.op is not Op.UPDATE:
        return {}
    before = [p for p in store.pending_for(db, m.entity, m.record_id)
              if p.mutation_id < m.mutation_id]
    view = local_view(m.entity, store.server_state(db, m.entity, m.record_id), before).data
    return {name: (view or {}).get(name) for name in fields if name not in m.base}


def parse_values(pairs: list[str]) -> dict[str, Any]:
    """`name=value` pairs as fields: a value that reads as JSON (null, 3, true, "x") is
    taken as such, anything else as text."""
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise LocalValidationError(f"not name=value: {pair!r}", {"fields": ["name=value"]})
        try:
            values[name] = json.loads(text)
        except ValueError:
            values[name] = text
    return values
