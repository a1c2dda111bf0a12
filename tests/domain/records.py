"""Orders, visits and their children owned by a given rep, for the domain's rule tests."""

from __future__ import annotations

from typing import Any

from sync.protocol import Op
from tests.sync.harness import Harness, uid


def order(h: Harness, rep: str, status: str = "draft", **fields: Any) -> str:
    """An order of `rep` at account N1 in `status`, written by the server (admin)."""
    order_id = uid()
    h.write("order", order_id, Op.CREATE, {
        "account_id": h.w.ids["acc_n1"], "rep_id": h.w.users[rep].id,
        "price_list_id": h.w.ids["price_list"], "status": status, **fields})
    return order_id


def line(h: Harness, order_id: str, quantity: int = 22) -> str:
    line_id = uid()
    h.write("order_line", line_id, Op.CREATE, {
        "order_id": order_id, "product_id": h.w.ids["product1"], "quantity": quantity})
    return line_id


def visit(h: Harness, rep: str, status: str = "planned", **fields: Any) -> str:
    visit_id = uid()
    h.write("visit", visit_id, Op.CREATE, {
        "account_id": h.w.ids["acc_n1"], "rep_id": h.w.users[rep].id, "status": status,
        "planned_at": "2026-03-02T09:00:00Z", **fields})
    return visit_id
