"""Failures the schemathesis run (.ci/api_contract.py) found, pinned as scenarios."""

from __future__ import annotations

import uuid

from tests.device import Device
from tests.helpers import bearer
from tests.world import build_world


def test_a_push_naming_fields_code_and_message_is_rejected_not_a_server_error(app, client):
    w = build_world(app)
    rep = Device(client, w.user("rep_n"))

    (result,) = rep.push({"entity": "account", "id": str(uuid.uuid4()), "op": "create",
                          "fields": {"territory_id": w.territories["N"], "name": "Kiosk",
                                     "code": 1, "message": 2}})

    assert result["status"] == "rejected"
    assert result["error"]["code"] == "validation_failed"
    assert {"code", "message"} <= set(result["error"]["fields"])


def test_the_back_office_creating_a_record_with_a_field_named_code_gets_422(app, client):
    w = build_world(app)
    office = Device(client, w.user("office"))

    response = client.post("/api/v1/records/territory", json={"code": "X", "name": "X",
                                                              "message": "hello"},
                           headers=bearer(office.token))

    assert response.status_code == 422
    assert "message" in response.get_json()["error"]["fields"]
