"""How each replicated entity resolves concurrent edits: the whole table on one screen.

A field conflict means both the server and a device changed the same field since the
version the device edited. Fields that only one side changed always merge cleanly; the
policy below decides only real conflicts. `merge.py` applies it, on the server and in the
client SDK alike.
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
    kind: Policy
    ranks: Mapping[str, int] = field(default_factory=dict)


def state(*order: str) -> FieldPolicy:
    """State precedence: later in `order` wins a conflict (terminal states go last)."""
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
    append_only: a child record (order line, time entry...): its creation is never refused
        because its parent changed or was deleted concurrently; a deleted parent is
        recorded as a conflict for the back office instead.
    """

    fields: Mapping[str, FieldPolicy] = field(default_factory=dict)
    default: FieldPolicy = LWW
    on_update_deleted: DeleteRule = DeleteRule.DELETE_WINS
    on_delete_updated: DeleteRule = DeleteRule.UPDATE_WINS
    append_only: bool = False

    def for_field(self, name: str) -> FieldPolicy:
        return self.fields.get(name, self.default)


WORK_ORDER_STATUS = state(
    "new", "scheduled", "dispatched", "on_hold", "in_progress", "completed", "closed",
    "cancelled",
)
# A fulfilled order was delivered: a concurrent cancellation comes too late.
ORDER_STATUS = state("draft", "submitted", "rejected", "approved", "cancelled", "fulfilled")
VISIT_STATUS = state("planned", "checked_in", "completed", "cancelled")

UPDATE_WINS = DeleteRule.UPDATE_WINS
DELETE_WINS = DeleteRule.DELETE_WINS

POLICIES: dict[str, EntityPolicy] = {
    # reference data, edited only in the back office
    "territory": EntityPolicy(default=SERVER_WINS),
    "product": EntityPolicy(default=SERVER_WINS),
    "price_list": EntityPolicy(default=SERVER_WINS),
    "price": EntityPolicy(default=SERVER_WINS),
    "part": EntityPolicy(default=SERVER_WINS),
    # field sales
    "account": EntityPolicy(
        fields={"territory_id": SERVER_WINS, "account_number": SERVER_WINS, "notes": MANUAL},
        on_update_deleted=UPDATE_WINS,
    ),
    "contact": EntityPolicy(on_update_deleted=UPDATE_WINS),
    "visit": EntityPolicy(fields={"status": VISIT_STATUS}),
    "order": EntityPolicy(
        fields={"status": ORDER_STATUS, "price_list_id": SERVER_WINS},
        on_delete_updated=UPDATE_WINS,
    ),
    "order_line": EntityPolicy(fields={"unit_price": SERVER_WINS}, append_only=True),
    # field service
    "asset": EntityPolicy(fields={"serial_number": MANUAL}),
    "work_order": EntityPolicy(
        fields={
            "status": WORK_ORDER_STATUS,
            "technician_id": SERVER_WINS,
            "priority": SERVER_WINS,
            "due_at": SERVER_WINS,
            "resolution": CLIENT_WINS,
            "signed_by": CLIENT_WINS,
        },
        on_delete_updated=UPDATE_WINS,
    ),
    "van_stock": EntityPolicy(fields={"quantity": COUNTER}, on_update_deleted=UPDATE_WINS),
    "part_used": EntityPolicy(fields={"quantity": COUNTER}, append_only=True),
    "time_entry": EntityPolicy(append_only=True, on_update_deleted=UPDATE_WINS),
    "checklist_item": EntityPolicy(
        fields={"label": SERVER_WINS, "position": SERVER_WINS, "checked": CLIENT_WINS,
                "answer": CLIENT_WINS},
        append_only=True,
    ),
    "attachment": EntityPolicy(append_only=True, on_update_deleted=UPDATE_WINS),
}


def policy_for(entity: str) -> EntityPolicy:
    """The entity's policy; an entity without an entry merges with the defaults."""
    return POLICIES.get(entity, EntityPolicy())
