"""The SDK checks the domain's workflows and bounds before queueing, and shows the user a
move the server refused because it became illegal while the device was offline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from client_sdk import LocalValidationError


def test_a_status_move_the_role_may_not_make_never_reaches_the_outbox(connect, world):
    tech = connect("tech_a", "tablet")
    rep = connect("rep_n", "laptop")
    for device, entity, record_id, status in [
            (tech, "work_order", world.ids["wo_a"], "closed"),
            (tech, "work_order", world.ids["wo_a"], "new")]:
        with pytest.raises(LocalValidationError) as refused:
            device.client.update(entity, record_id, {"status": status})
        assert list(refused.value.fields) == ["status"]
    with pytest.raises(LocalValidationError, match="may not create a record as approved"):
        rep.client.create("order", {"account_id": world.ids["acc_n1"],
                                    "rep_id": world.user("rep_n").id, "status": "approved",
                                    "price_list_id": world.ids["price_list"]})
    assert tech.client.pending() == [] and rep.client.pending() == []


def test_a_rep_cannot_queue_a_discount_above_her_cap(connect, world):
    rep = connect("rep_n", "laptop")
    with pytest.raises(LocalValidationError) as refused:
        rep.field.create_order(world.ids["acc_n1"], [(world.ids["product1"], 1, "25")])
    assert refused.value.fields == {"lines.0.discount_pct": ["must be between 0 and 20"]}


def test_visits_and_time_outside_the_bounds_are_refused_on_the_device(connect, world):
    rep, tech = connect("rep_n", "laptop"), connect("tech_a", "tablet")
    with pytest.raises(LocalValidationError, match="planned_at"):
        rep.field.plan_visit(world.ids["acc_n1"], "1999-05-01T09:00:00Z")
    later = datetime.now(UTC) + timedelta(hours=3)
    with pytest.raises(LocalValidationError, match="ended_at: must not be in the future"):
        tech.field.log_time(world.ids["wo_a"], datetime.now(UTC) - timedelta(hours=1), later)


def test_a_cancellation_that_became_illegal_offline_is_shown_to_the_user(connect, world):
    rep, office = connect("rep_n", "laptop"), connect("office", "office-pc")
    order = rep.field.create_order(world.ids["acc_n1"], [(world.ids["product1"], 2)])
    rep.field.submit_order(order.order_id)
    rep.client.sync()
    office.client.sync()
    office.client.update("order", order.order_id, {"status": "rejected"})  # sent back
    office.client.sync()
    rep.client.sync()
    rep.offline()
    rep.client.update("order", order.order_id, {"status": "cancelled"})
    office.client.update("order", order.order_id, {"status": "submitted"})
    office.client.sync()
    rep.online()
    rep.client.sync()

    [rejected] = rep.client.rejected()
    assert (rejected["entity"], rejected["code"]) == ("order", "transition_not_allowed")
    assert "from submitted to cancelled" in rejected["message"]
    assert rep.client.get("order", order.order_id)["status"] == "submitted"
