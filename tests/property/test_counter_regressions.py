"""Regressions the property test (test_sync_promises.py) found in counter merging.

A device queues each van stock change as `quantity: view + delta` with `base: view`, where
its view already includes its earlier pending changes. When one of those is refused (a count
below zero), the next change's base includes an increment the server never applied. The
server used to ignore that base when the change was made on the current version, and to drop
a base below zero as invalid otherwise, so the later increment was lost or refused.
"""

from __future__ import annotations

import pytest

from sync.protocol import Op, Status
from tests.property.actions import Change
from tests.property.checks import check_after_settling, settle
from tests.property.fleet import DEVICES, running_fleet
from tests.sync.harness import Harness, update


@pytest.fixture
def h(app):
    return Harness(app)


def _count_down_then_up(h: Harness, base_version: int):
    """tech_a's phone takes 12 out of a van holding 10 (refused), then puts 3 back."""
    van = h.w.ids["van_a"]
    return h.push("tech_a", [
        update(1, "van_stock", van, base_version, {"quantity": -2}, base={"quantity": 10}),
        update(2, "van_stock", van, base_version, {"quantity": 1}, base={"quantity": -2}),
    ])


def test_an_increment_queued_after_a_refused_decrement_still_counts(h):
    refused, kept = _count_down_then_up(h, base_version=1)

    assert refused.status is Status.REJECTED
    assert kept.status is Status.APPLIED
    assert h.record("van_stock", h.w.ids["van_a"]).data["quantity"] == 13


def test_it_still_counts_when_the_van_changed_on_the_server_meanwhile(h):
    h.write("van_stock", h.w.ids["van_a"], Op.UPDATE, {"quantity": 11})

    refused, kept = _count_down_then_up(h, base_version=1)

    assert refused.status is Status.REJECTED
    assert kept.status is Status.MERGED, kept.error
    assert h.record("van_stock", h.w.ids["van_a"]).data["quantity"] == 14


def test_a_technician_sees_the_same_count_as_the_server_after_a_refused_change(app):
    with running_fleet(app, {name: 1000 for name in DEVICES}) as fleet:
        tablet, van = fleet.devices["tech_a.tablet"], fleet.world.ids["van_a2"]  # holds 2
        tablet.make(Change("van_stock", van, Op.UPDATE, {"quantity": -2}, delta=-4))
        tablet.make(Change("van_stock", van, Op.UPDATE, {"quantity": 1}, delta=3))

        settle(fleet)

        check_after_settling(fleet)
        assert tablet.client.get("van_stock", van)["quantity"] == 5
