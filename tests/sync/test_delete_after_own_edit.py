"""A device that edits a record and then deletes it, offline, sees it deleted: its own edit is
not a concurrent update that the delete must lose to (docs/protocol.md §10.2).

Found by the end-to-end field day (tests/e2e): a rep corrected a contact's phone, then
deleted the contact as a duplicate; the server kept it with a `delete_updated` conflict
against the rep's own edit, and the contact came back to the rep's laptop. Another writer's
update in between still keeps the record.
"""

from __future__ import annotations

import pytest

from sync.protocol import Op, Status
from tests.sync.harness import Harness, delete, update


@pytest.fixture
def h(app) -> Harness:
    return Harness(app)


def edit_then_delete(contact: str, first_id: int = 1):
    return [update(first_id, "contact", contact, 1, {"phone": "+33 6 00"}, base={"phone": None}),
            delete(first_id + 1, "contact", contact, 1)]


def test_an_edit_and_a_delete_in_one_batch_delete_the_record(h):
    contact = h.w.ids["contact_n1"]
    results = h.push("rep_n", edit_then_delete(contact))
    assert [r.status for r in results] == [Status.APPLIED, Status.APPLIED]
    assert h.record("contact", contact).deleted
    assert h.conflicts("contact", contact) == []


def test_a_delete_after_an_edit_whose_answer_was_lost_deletes_the_record(h):
    contact = h.w.ids["contact_n1"]
    h.push("rep_n", edit_then_delete(contact)[:1])  # applied; the device never got the answer
    results = h.push("rep_n", edit_then_delete(contact))  # re-sent, with the delete after it
    assert results[1].status is Status.APPLIED
    assert h.record("contact", contact).deleted
    assert h.conflicts("contact", contact) == []


def test_a_delete_still_loses_to_another_writers_update_after_the_devices_own_edit(h):
    contact = h.w.ids["contact_n1"]
    h.push("rep_n", edit_then_delete(contact)[:1])
    h.write("contact", contact, Op.UPDATE, {"title": "Owner"})  # the office, meanwhile
    [result] = h.push("rep_n", [delete(2, "contact", contact, 1)])
    assert result.status is Status.CONFLICT
    kept = h.record("contact", contact)
    assert not kept.deleted and kept.data["title"] == "Owner"
    [conflict] = h.conflicts("contact", contact)
    assert (conflict["kind"], conflict["result"]) == ("delete_updated", "kept")
