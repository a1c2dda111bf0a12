"""Every /api/ error has the one JSON shape, whatever went wrong."""


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
