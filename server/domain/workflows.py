"""Who may move a visit, an order or a work order from which state to which: declared once.

The server enforces these tables (the engine checks every create and status change against
them, sync.workflows), the client SDK checks them before queueing a change, the merge
policies take their state precedence from them, and docs/protocol.md shows them as tables
generated from this module (`python -m server.domain.describe`). Like the vocabulary, this
module imports nothing of the app.
"""

from __future__ import annotations

from server.domain.vocabulary import OrderStatus, Role, VisitStatus, WorkOrderStatus
from sync.workflows import Workflow, moves

REP, TECH = frozenset({Role.REP}), frozenset({Role.TECHNICIAN})
DISPATCH = frozenset({Role.DISPATCHER, Role.BACK_OFFICE, Role.ADMIN})
APPROVERS = frozenset({Role.BACK_OFFICE, Role.ADMIN})
SALES = DISPATCH | REP
SERVICE = DISPATCH | TECH

V, S, W = VisitStatus, OrderStatus, WorkOrderStatus


def _office_deletes(states, **field_roles: frozenset[str]) -> dict[str, frozenset[str]]:
    """The office may delete a record in any state; field roles only in `field_roles`'."""
    return {**{role: frozenset(states) for role in DISPATCH}, **field_roles}

# The admin may create a record in any state: imports and corrections of past work.
VISIT = Workflow(
    "status", states=(V.PLANNED, V.CHECKED_IN, V.COMPLETED, V.CANCELLED),
    initial={Role.REP: frozenset({V.PLANNED, V.CHECKED_IN}),
             Role.DISPATCHER: frozenset({V.PLANNED}),
             Role.BACK_OFFICE: frozenset({V.PLANNED, V.CHECKED_IN, V.COMPLETED}),
             Role.ADMIN: frozenset(V)},
    moves=moves(
        (V.PLANNED, V.CHECKED_IN, SALES),
        ((V.PLANNED, V.CHECKED_IN), V.COMPLETED, SALES),
        ((V.PLANNED, V.CHECKED_IN), V.CANCELLED, SALES),
    ),
    deletable=_office_deletes(V, rep=frozenset({V.PLANNED})))

# A rep works on her drafts and submits them; the back office approves or sends back, and
# fulfils. A fulfilled order was delivered: it outranks a concurrent cancellation.
ORDER = Workflow(
    "status",
    states=(S.DRAFT, S.SUBMITTED, S.REJECTED, S.APPROVED, S.CANCELLED, S.FULFILLED),
    initial={Role.REP: frozenset({S.DRAFT}), Role.DISPATCHER: frozenset({S.DRAFT}),
             Role.BACK_OFFICE: frozenset({S.DRAFT, S.SUBMITTED, S.APPROVED}),
             Role.ADMIN: frozenset(S)},
    moves=moves(
        ((S.DRAFT, S.REJECTED), S.SUBMITTED, SALES),
        (S.REJECTED, S.DRAFT, SALES),
        ((S.DRAFT, S.REJECTED), S.CANCELLED, SALES),
        (S.SUBMITTED, (S.APPROVED, S.REJECTED, S.DRAFT, S.CANCELLED), APPROVERS),
        (S.APPROVED, (S.FULFILLED, S.CANCELLED, S.SUBMITTED), APPROVERS),
    ),
    deletable=_office_deletes(S, rep=frozenset({S.DRAFT})))

# The office plans and dispatches; the technician starts (a job assigned to him, even one
# not yet dispatched: he may arrive early), pauses and completes; the office reviews and
# closes (or reopens).
_PLANNING = (W.NEW, W.SCHEDULED, W.DISPATCHED)
WORK_ORDER = Workflow(
    "status",
    states=(W.NEW, W.SCHEDULED, W.DISPATCHED, W.ON_HOLD, W.IN_PROGRESS, W.COMPLETED,
            W.CLOSED, W.CANCELLED),
    initial={Role.DISPATCHER: frozenset(_PLANNING), Role.BACK_OFFICE: frozenset(_PLANNING),
             Role.ADMIN: frozenset(W)},
    moves=moves(
        (_PLANNING, _PLANNING, DISPATCH),
        ((W.SCHEDULED, W.DISPATCHED, W.ON_HOLD), W.IN_PROGRESS, SERVICE),
        ((W.DISPATCHED, W.IN_PROGRESS), W.ON_HOLD, SERVICE),
        ((W.IN_PROGRESS, W.ON_HOLD), W.COMPLETED, SERVICE),
        ((W.ON_HOLD, W.COMPLETED), _PLANNING, DISPATCH),
        (W.COMPLETED, (W.IN_PROGRESS, W.CLOSED), DISPATCH),
        ((*_PLANNING, W.ON_HOLD, W.IN_PROGRESS), W.CANCELLED, DISPATCH),
    ))

WORKFLOWS: dict[str, Workflow] = {"visit": VISIT, "order": ORDER, "work_order": WORK_ORDER}

# Children may change only while their parent is in one of these states (the admin always).
# An order's lines: a rep's only while it is a draft, the office's until it is fulfilled.
LINES_OPEN = {Role.REP: frozenset({S.DRAFT}),
              **{role: frozenset({S.DRAFT, S.SUBMITTED, S.REJECTED, S.APPROVED})
                 for role in (Role.DISPATCHER, Role.BACK_OFFICE)}}
# A work order's parts, time, checklist and attachments: until it is closed or cancelled.
WORK_OPEN = frozenset(WORK_ORDER.states) - {W.CLOSED, W.CANCELLED}
