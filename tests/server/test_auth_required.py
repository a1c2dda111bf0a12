"""No /api/v1 endpoint answers without a token, except the few that must.

The test walks the app's URL map, so an endpoint added later without @login_required fails it
until it is protected or deliberately added to the public list.
"""

from __future__ import annotations

import uuid

from werkzeug.routing import BuildError

from tests.server.test_errors import assert_error

PUBLIC_ENDPOINTS = {"api.health", "health.live", "health.ready", "auth.login", "auth.refresh",
                    "openapi.spec", "openapi.docs"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def api_routes(app):
    """(endpoint, method, url) of every /api/v1 route, with sample values for its arguments."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        for method in sorted(rule.methods - IGNORED_METHODS):
            yield rule.endpoint, method, sample_url(adapter, rule, method)


def sample_url(adapter, rule, method):
    for sample in (str(uuid.uuid4()), 1):
        try:
            return adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, sample),
                                 method=method)
        except (BuildError, ValueError, TypeError):
            continue
    raise AssertionError(f"cannot build a sample URL for {rule.rule}")


def test_the_route_walk_finds_the_auth_and_admin_endpoints(app):
    endpoints = {endpoint for endpoint, _, _ in api_routes(app)}
    assert {"auth.me", "auth.logout", "admin.list_devices", "admin.revoke"} <= endpoints


def test_every_api_endpoint_but_the_public_ones_answers_401_without_a_token(app, client):
    unprotected = []
    for endpoint, method, url in api_routes(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.open(url, method=method, json={})
        if response.status_code != 401:
            unprotected.append(f"{method} {url} ({endpoint}) -> {response.status_code}")
        else:
            assert_error(response, 401, "unauthorized")
    assert not unprotected, "endpoints answering without a token:\n" + "\n".join(unprotected)


def test_the_public_endpoints_exist(app):
    endpoints = {endpoint for endpoint, _, _ in api_routes(app)}
    assert endpoints >= PUBLIC_ENDPOINTS
