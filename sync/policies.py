"""The kinds of conflict policy an entity can declare, per field and for deletes.

A field conflict means both the server and a device changed the same field since the
version the device edited. Fields that only one side changed always merge cleanly; the
policy decides only real conflicts. `merge.py` applies it, on the server and in the client
SDK alike. The domain declares each entity's table of policies and hands it to the engine
on the entity's spec (the field domain's: server/domain/policies.py).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Policy(enum.StrEnum):
    LWW = "lww"  # later hybrid-logical-clock timestamp wins
    SERVER_WINS = "server_wins"
    CLIENT_WINS = "client_wins"
    STATE = "state"  # the state further along the state machine wins; ties fall to LWW
    COUNTER = "counter"  # merged as increments: server + (client - base); never a conflict
    MANUAL = "manual"  # server value kept, conflict left open for the back office


class DeleteRule(enum.StrEnum):
    DELETE_WINS = "delete_wins"
    UPDATE_WINS = "update_wins"


@dataclass(frozen=True)
class FieldPolicy:
    """One field's policy. For `state`: each state's rank, and the moves (from, to) anyone
    may make; with moves declared, a merge never picks a move outside them."""

    kind: Policy
    ranks: Mapping[str, int] = field(default_factory=dict)
    moves: frozenset[tuple[str, str]] = frozenset()

    def may_move(self, old: object, new: object) -> bool:
        return not self.moves or old == new or (old, new) in self.moves


def state(*order: str) -> FieldPolicy:
    """State precedence: later in `order` wins a conflict (terminal states go last), any
    move allowed (sync.workflows.Workflow.precedence builds one with declared moves)."""
    return FieldPolicy(Policy.STATE, {name: rank for rank, name in enumerate(order)})


LWW = FieldPolicy(Policy.LWW)
SERVER_WINS = FieldPolicy(Policy.SERVER_WINS)
CLIENT_WINS = FieldPolicy(Policy.CLIENT_WINS)
COUNTER = FieldPolicy(Policy.COUNTER)
MANUAL = FieldPolicy(Policy.MANUAL)


@dataclass(frozen=True)
class EntityPolicy:
    """Conflict rules of one entity.

    on_update_deleted: a device updated what the server deleted meanwhile.
    on_delete_updated: a device deleted what the server updated meanwhile.
    append_only: a child record: its creation is never refused because its parent changed
        or was deleted concurrently; a deleted parent is recorded as a conflict for the
        back office instead.
    """

    fields: Mapping[str, FieldPolicy] = field(default_factory=dict)
    default: FieldPolicy = LWW
    on_update_deleted: DeleteRule = DeleteRule.DELETE_WINS
    on_delete_updated: DeleteRule = DeleteRule.UPDATE_WINS
    append_only: bool = False

    def for_field(self, name: str) -> FieldPolicy:
        return self.fields.get(name, self.default)


UPDATE_WINS = DeleteRule.UPDATE_WINS
DELETE_WINS = DeleteRule.DELETE_WINS
