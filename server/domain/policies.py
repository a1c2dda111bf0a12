"""How each replicated entity resolves concurrent edits: the whole table on one screen.

The engine applies these (sync/merge.py), on the server and in the client SDK alike; each
entity's spec carries its policy (server.domain.entities). Status fields merge by the state
precedence of their workflow, which never picks a move the workflow does not declare.
"""

from __future__ import annotations

from server.domain.workflows import ORDER, VISIT, WORK_ORDER
from sync.policies import (
    CLIENT_WINS,
    COUNTER,
    MANUAL,
    SERVER_WINS,
    UPDATE_WINS,
    EntityPolicy,
)

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
    "visit": EntityPolicy(fields={"status": VISIT.precedence()}),
    "order": EntityPolicy(
        fields={"status": ORDER.precedence(), "price_list_id": SERVER_WINS},
        on_delete_updated=UPDATE_WINS,
    ),
    "order_line": EntityPolicy(fields={"unit_price": SERVER_WINS}, append_only=True),
    # field service
    "asset": EntityPolicy(fields={"serial_number": MANUAL}),
    "work_order": EntityPolicy(
        fields={
            "status": WORK_ORDER.precedence(),
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
