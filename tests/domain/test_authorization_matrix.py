"""Who may do what, by role, entity, operation, ownership and state: one table.

Each row names an entity, an operation, whose record it is ("own": the acting rep's or
technician's; "other": another rep's, or a work order of another technician) and the state
of the record (or, for children, of its order or work order); then the outcome for each
role: ok, or the rejection code (forbidden, locked = record_locked, move =
transition_not_allowed, scope = out_of_scope, missing = missing_reference, invalid =
validation_failed). Office roles act the same on "own" and "other" records.
"""

from __future__ import annotations

import pytest

from sync.protocol import Mutation, Op, Status
from tests.domain.records import line, order, visit
from tests.sync.harness import Harness, create, delete, uid, update

MATRIX = """
entity          op        owner  state        rep       technician dispatcher back_office admin
order           create    own    draft        ok        forbidden  ok         ok          ok
order           create    other  draft        forbidden forbidden  ok         ok          ok
order           create    own    approved     move      forbidden  move       ok          ok
order           update    own    fulfilled    ok        scope      ok         ok          ok
order           update    other  draft        forbidden scope      ok         ok          ok
order           delete    own    draft        ok        scope      ok         ok          ok
order           delete    own    submitted    move      scope      ok         ok          ok
order           delete    other  draft        forbidden scope      ok         ok          ok
order           submit    own    draft        ok        scope      ok         ok          ok
order           approve   own    submitted    move      scope      move       ok          ok
order           reopen    own    approved     move      scope      move       move        move
order_line      create    own    draft        ok        forbidden  ok         ok          ok
order_line      create    own    submitted    locked    forbidden  ok         ok          ok
order_line      create    own    fulfilled    locked    forbidden  locked     locked      ok
order_line      create    other  draft        forbidden forbidden  ok         ok          ok
order_line      update    own    draft        ok        scope      ok         ok          ok
order_line      update    own    approved     locked    scope      ok         ok          ok
order_line      update    other  fulfilled    forbidden scope      locked     locked      ok
order_line      delete    own    draft        ok        scope      ok         ok          ok
order_line      delete    own    approved     locked    scope      ok         ok          ok
order_line      delete    other  draft        forbidden scope      ok         ok          ok
order_line      discount  own    draft        invalid   scope      invalid    ok          ok
visit           update    own    planned      ok        scope      ok         ok          ok
visit           update    other  planned      forbidden scope      ok         ok          ok
visit           delete    own    planned      ok        scope      ok         ok          ok
visit           delete    own    checked_in   move      scope      ok         ok          ok
visit           takeover  other  planned      forbidden scope      ok         ok          ok
work_order      update    own    dispatched   scope     ok         ok         ok          ok
work_order      update    other  dispatched   scope     scope      ok         ok          ok
work_order      start     own    dispatched   scope     ok         ok         ok          ok
work_order      close     own    completed    scope     move       ok         ok          ok
work_order      delete    own    dispatched   scope     forbidden  ok         ok          ok
time_entry      create    own    dispatched   forbidden ok         ok         ok          ok
time_entry      create    own    closed       forbidden locked     locked     locked      ok
time_entry      create    other  dispatched   forbidden forbidden  ok         ok          ok
part_used       create    own    in_progress  forbidden ok         ok         ok          ok
part_used       create    own    cancelled    forbidden locked     locked     locked      ok
checklist_item  answer    own    in_progress  scope     ok         ok         ok          ok
checklist_item  answer    own    closed       scope     locked     locked     locked      ok
checklist_item  relabel   own    in_progress  scope     forbidden  ok         ok          ok
checklist_item  create    own    in_progress  forbidden forbidden  ok         ok          ok
checklist_item  delete    own    in_progress  scope     forbidden  ok         ok          ok
attachment      create    own    completed    forbidden ok         ok         ok          ok
attachment      create    own    closed       forbidden locked     locked     locked      ok
"""
ROLES = ("rep", "technician", "dispatcher", "back_office", "admin")
ACTORS = {"rep": "rep_n", "technician": "tech_a", "dispatcher": "dispatcher",
          "back_office": "office", "admin": "admin"}
CODES = {"forbidden": "forbidden", "locked": "record_locked", "move": "transition_not_allowed",
         "scope": "out_of_scope", "missing": "missing_reference", "invalid": "validation_failed"}
# The work order of tech_a reaches each state through allowed moves, from dispatched.
WORK_PATHS = {"dispatched": (), "in_progress": ("in_progress",),
              "completed": ("in_progress", "completed"),
              "closed": ("in_progress", "completed", "closed"), "cancelled": ("cancelled",)}


def rows():
    for text in MATRIX.strip().splitlines()[1:]:  # the first line names the columns
        entity, op, owner, state, *outcomes = text.split()
        yield pytest.param(entity, op, owner, state, dict(zip(ROLES, outcomes, strict=True)),
                           id=f"{entity}-{op}-{owner}-{state}")


@pytest.mark.parametrize(("entity", "op", "owner", "state", "expected"), list(rows()))
def test_the_authorization_matrix(h: Harness, entity, op, owner, state, expected):
    sales = entity in ("order", "order_line", "visit")
    if entity in CHILD_FIELDS:
        for status in WORK_PATHS[state]:
            h.write("work_order", h.w.ids["wo_a"], Op.UPDATE, {"status": status})
    outcomes = {}
    for number, role in enumerate(ROLES, start=1):
        actor = ACTORS[role]
        if owner == "other" and role in ("rep", "technician"):
            actor = {"rep": "rep_n", "technician": "tech_b"}[role]
        owned_by = ("rep_n2" if owner == "other" else "rep_n") if sales else "tech_a"
        mutation = MUTATIONS[entity](h, op, owned_by, state, number)
        [result] = h.push(actor, [mutation])
        outcomes[role] = "ok" if result.status is not Status.REJECTED else next(
            name for name, code in CODES.items() if code == result.error.code)
    assert outcomes == expected


# -- the mutation each row pushes ----------------------------------------------------------


def _order(h: Harness, op: str, owner: str, state: str, n: int) -> Mutation:
    if op == "create":
        return create(n, "order", uid(), {
            "account_id": h.w.ids["acc_n1"], "rep_id": h.w.users[owner].id,
            "price_list_id": h.w.ids["price_list"], "status": state})
    order_id = order(h, owner, state)
    if op == "delete":
        return delete(n, "order", order_id, 1)
    fields = {"submit": {"status": "submitted"}, "approve": {"status": "approved"},
              "reopen": {"status": "draft"}}.get(op, {"notes": "seen"})
    return update(n, "order", order_id, 1, fields)


def _order_line(h: Harness, op: str, owner: str, state: str, n: int) -> Mutation:
    order_id = order(h, owner, state)
    if op == "create":
        return create(n, "order_line", uid(), {"order_id": order_id,
                                               "product_id": h.w.ids["product2"],
                                               "quantity": 1})
    line_id = line(h, order_id)
    if op == "delete":
        return delete(n, "order_line", line_id, 1)
    fields = {"discount_pct": "50"} if op == "discount" else {"quantity": 40}
    return update(n, "order_line", line_id, 1, fields)


def _visit(h: Harness, op: str, owner: str, state: str, n: int) -> Mutation:
    visit_id = visit(h, owner, state)
    if op == "delete":
        return delete(n, "visit", visit_id, 1)
    if op == "takeover":
        return update(n, "visit", visit_id, 1, {"rep_id": h.w.users["rep_n"].id, "notes": "x"},
                      base={"rep_id": h.w.users[owner].id})
    return update(n, "visit", visit_id, 1, {"notes": "seen"})


def _current(h: Harness, entity: str, record_id: str) -> int:
    return h.record(entity, record_id).version


def _work_order(h: Harness, op: str, owner: str, state: str, n: int) -> Mutation:
    wo = uid()  # a work order of tech_a's in `state`, for each role afresh
    h.write("work_order", wo, Op.CREATE, {
        "account_id": h.w.ids["acc_n1"], "technician_id": h.w.users["tech_a"].id,
        "title": "Matrix", "status": state})
    if op == "delete":
        return delete(n, "work_order", wo, 1)
    fields = {"start": {"status": "in_progress"}, "close": {"status": "closed"}}.get(
        op, {"resolution": "seen"})
    return update(n, "work_order", wo, 1, fields)


def _work_child(entity: str):
    def build(h: Harness, op: str, owner: str, state: str, n: int) -> Mutation:
        fields = {"work_order_id": h.w.ids["wo_a"], **CHILD_FIELDS[entity](h)}
        if op == "create":
            return create(n, entity, uid(), fields)
        item = h.w.ids["check_a"]
        if op == "delete":
            return delete(n, entity, item, _current(h, entity, item))
        change = {"label": f"label {n}"} if op == "relabel" else {"answer": f"answer {n}"}
        return update(n, entity, item, _current(h, entity, item), change)
    return build


CHILD_FIELDS = {
    "time_entry": lambda h: {"technician_id": h.w.users["tech_a"].id, "kind": "labor",
                             "started_at": "2026-03-02T08:00:00Z", "minutes": 30},
    "part_used": lambda h: {"part_id": h.w.ids["part1"], "quantity": 1},
    "checklist_item": lambda h: {"position": 5, "label": "Extra"},
    "attachment": lambda h: {"kind": "photo", "filename": "a.jpg",
                             "content_type": "image/jpeg", "size_bytes": 10},
}
MUTATIONS = {"order": _order, "order_line": _order_line, "visit": _visit,
             "work_order": _work_order,
             **{entity: _work_child(entity) for entity in CHILD_FIELDS}}
