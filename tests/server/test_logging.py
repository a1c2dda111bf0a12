"""Structured logs: every line carries the request id, user and device; the id is echoed."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from server.auth import login_required
from server.logging_setup import configure_json_logging, json_handler
from tests.helpers import bearer, create_user, login


@pytest.fixture
def log_lines():
    """JSON lines logged at INFO and above while the test runs, parsed."""
    stream = io.StringIO()
    handler = json_handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_each_answer_carries_a_new_request_id(client):
    first = client.get("/api/v1/health").headers["X-Request-Id"]
    second = client.get("/api/v1/health").headers["X-Request-Id"]

    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_a_proxys_request_id_is_kept(client):
    response = client.get("/api/v1/health", headers={"X-Request-Id": "nginx-7f3a9c:01"})

    assert response.headers["X-Request-Id"] == "nginx-7f3a9c:01"


@pytest.mark.parametrize("sent", ["x" * 129, "has space", "-leading-dash", "new\u2028line", ""])
def test_a_request_id_that_does_not_look_like_one_is_replaced(client, sent):
    response = client.get("/api/v1/health", headers={"X-Request-Id": sent})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])


def test_every_line_of_a_signed_in_request_names_the_request_user_and_device(app, client,
                                                                              log_lines):
    @app.get("/api/v1/test-logs")
    @login_required()
    def noisy():
        logging.getLogger("server.somewhere").warning("something odd", extra={"count": 3})
        return {}

    user = create_user(app, role="rep")
    signed_in = login(client, user.email)
    response = client.get("/api/v1/test-logs", headers=bearer(signed_in["access_token"]))

    rid = response.headers["X-Request-Id"]
    lines = [line for line in log_lines() if line["request_id"] == rid]
    assert [line["logger"] for line in lines] == ["server.somewhere", "fieldsync.access"]
    for line in lines:
        assert (line["user"], line["device"]) == (user.id, signed_in["device"]["id"])
    odd, access = lines
    assert (odd["level"], odd["message"], odd["count"]) == ("WARNING", "something odd", 3)
    assert (access["method"], access["path"], access["status"]) == (
        "GET", "/api/v1/test-logs", 200)
    assert access["duration_ms"] >= 0


def test_lines_outside_a_request_carry_empty_context(log_lines):
    logging.getLogger("server.jobs").info("retention done")

    (line,) = log_lines()
    assert line["message"] == "retention done"
    assert (line["request_id"], line["user"], line["device"]) == (None, None, None)


def test_json_logging_is_installed_once_however_many_apps_are_built():
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        configure_json_logging(level="WARNING")
        configure_json_logging(level="WARNING")
        added = [h for h in root.handlers if h not in before]
        assert len(added) == 1
    finally:
        root.handlers[:] = before
        root.setLevel(level)
