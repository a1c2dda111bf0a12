"""The OpenAPI document: every route in it, every error code in it, real answers fit it.

The live fuzzing run is .ci/api_contract.py (schemathesis against gunicorn, both backends);
these tests keep the document honest inside the suite.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import schemathesis

from server.openapi import ERROR_CODES, OPERATIONS, build_spec, documented
from tests.device import Device
from tests.helpers import bearer
from tests.world import build_world

PROTOCOL_DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def contract(document):
    return schemathesis.openapi.from_dict(document)


def routes(app):
    for rule in app.url_map.iter_rules():
        if documented(rule):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield rule, method


def test_every_route_has_an_entry_of_its_own(app):
    build_spec(app, strict=True)


def test_every_route_is_in_the_document_with_its_methods(app, document):
    missing = []
    for rule, method in routes(app):
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
        if method.lower() not in document["paths"].get(path, {}):
            missing.append(f"{method} {rule.rule}")
    assert not missing
    assert document["openapi"] == "3.1.0"


def test_a_route_without_an_entry_fails_the_strict_build_and_is_described_loosely(
        app, monkeypatch):
    monkeypatch.delitem(OPERATIONS, "sync.pull")

    with pytest.raises(KeyError, match=r"sync\.pull"):
        build_spec(app, strict=True)
    loose = build_spec(app)["paths"]["/api/v1/sync/pull"]["post"]
    assert {"200", "401", "422"} <= set(loose["responses"])


def test_the_error_codes_in_the_document_are_those_of_protocol_md(app):
    table = PROTOCOL_DOC.split("## 11.")[1].split("## 12.")[0]
    by_status: dict[int, set[str]] = {}
    for code, statuses in re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", table, re.M):
        for status in re.findall(r"\d{3}", statuses):
            by_status.setdefault(int(status), set()).add(code)
    documented = {status: set(codes) for status, codes in ERROR_CODES.items()}
    for status, codes in by_status.items():
        if status == 405:  # answered for methods a path does not have, not by an operation
            continue
        assert codes <= documented.get(status, set()), (status, codes - documented[status])
        assert documented[status] <= codes, (status, documented[status] - codes)


def test_the_docs_page_lists_every_operation(client, document):
    page = client.get("/api/v1/docs")

    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    for path in document["paths"]:
        assert f"<code>{path}</code>" in text


def test_real_answers_of_the_sync_endpoints_fit_the_document(app, client, contract):
    w = build_world(app)
    rep = Device(client, w.user("rep_n"))
    body = {"entity": "account", "id": str(uuid.uuid4()), "op": "create",
            "fields": {"territory_id": w.territories["N"], "name": "Contract Café"}}
    answers = {
        ("/api/v1/sync/push", "POST"): rep.post("/api/v1/sync/push", {
            "protocol": 1, "mutations": [{**body, "mutation_id": 1},
                                         {**body, "mutation_id": 2, "entity": "spaceship"}]}),
        ("/api/v1/sync/pull", "POST"): rep.post("/api/v1/sync/pull", {"protocol": 1,
                                                                      "cursor": None}),
        ("/api/v1/sync/entities", "GET"): client.get("/api/v1/sync/entities",
                                                     headers=bearer(rep.token)),
        ("/api/v1/auth/me", "GET"): client.get("/api/v1/auth/me", headers=bearer(rep.token)),
        ("/api/v1/rejections", "GET"): client.get("/api/v1/rejections",
                                                  headers=bearer(rep.token)),
        ("/api/v1/health/ready", "GET"): client.get("/api/v1/health/ready"),
        ("/api/v1/sync/push", "POST", "error"): rep.post("/api/v1/sync/push", {"protocol": 9,
                                                                               "mutations": []}),
    }
    assert_fit(contract, answers)


def test_real_answers_of_the_office_endpoints_fit_the_document(app, client, contract):
    w = build_world(app)
    admin = Device(client, w.user("admin"))
    auth = bearer(admin.token)
    user_id = w.user("rep_n").id
    answers = {
        ("/api/v1/admin/users", "GET"): client.get("/api/v1/admin/users", headers=auth),
        ("/api/v1/admin/users/{user_id}", "GET"): client.get(f"/api/v1/admin/users/{user_id}",
                                                             headers=auth),
        ("/api/v1/admin/devices", "GET"): client.get("/api/v1/admin/devices", headers=auth),
        ("/api/v1/records/{entity}", "GET"): client.get("/api/v1/records/account?limit=2",
                                                        headers=auth),
        ("/api/v1/records/{entity}", "POST"): client.post(
            "/api/v1/records/account", headers=auth,
            json={"territory_id": w.territories["S"], "name": "Office Café"}),
        ("/api/v1/conflicts", "GET"): client.get("/api/v1/conflicts", headers=auth),
        ("/api/v1/records/{entity}/{record_id}", "GET", "missing"): client.get(
            f"/api/v1/records/account/{uuid.uuid4()}", headers=auth),
    }
    assert_fit(contract, answers)


def assert_fit(contract, answers) -> None:
    for (path, method, *_), response in answers.items():
        assert response.status_code < 500 or path.endswith("/ready"), (
            path, response.get_data(as_text=True))
        contract[path][method].validate_response(response)
