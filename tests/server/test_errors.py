"""Every /api/ error has the one JSON shape, whatever went wrong, and its code's status."""

import pytest

from server.errors import STATUS, ApiError
from sync.errors import ErrorCode, MutationRejected


def assert_error(response, status, code):
    assert response.status_code == status
    assert response.is_json, response.data[:200]
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]


def test_unknown_api_route_answers_json_404(client):
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_answers_json_405_with_allow_header(client):
    response = client.delete("/api/v1/health")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_health_answers_without_auth(client):
    assert client.get("/api/v1/health").get_json()["status"] == "ok"


def test_every_error_code_has_one_status_but_those_that_are_never_an_answer():
    without = {code for code in ErrorCode if code not in STATUS}
    # push results only, and a code the client records itself
    assert without == {ErrorCode.HTTP_ERROR, ErrorCode.RECEIPT_EXPIRED,
                       ErrorCode.MUTATION_ID_REUSED, ErrorCode.MUTATION_ID_OUT_OF_ORDER,
                       ErrorCode.MUTATION_TOO_LARGE}
    assert all(400 <= status < 600 for status in STATUS.values())


def test_an_api_error_takes_its_status_from_the_table_and_refuses_unknown_codes():
    assert ApiError("email_taken", "taken").status == 409
    with pytest.raises(ValueError):
        ApiError("no_such_code", "?")


def test_a_rejection_with_an_unknown_code_cannot_be_raised():
    assert MutationRejected("out_of_scope", "no").code is ErrorCode.OUT_OF_SCOPE
    with pytest.raises(ValueError):
        MutationRejected("no_such_code", "?")
