"""Health probes for load balancers: live touches nothing, ready checks database and schema."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from server import create_app
from server.extensions import db
from server.health import script_revisions
from tests.conftest import TEST_CONFIG

UNREACHABLE = "postgresql+psycopg://fieldsync@127.0.0.1:9/nowhere?connect_timeout=2"


@contextmanager
def stamped(app, revision: str):
    """The test database marked as migrated to `revision`, as `fieldsync db upgrade` does."""
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
    try:
        yield
    finally:
        with app.app_context(), db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE alembic_version")


def head(app) -> str:
    heads, _ = script_revisions(str(app.extensions["migrate"].directory))
    (only,) = heads
    return only


def test_ready_answers_200_when_the_database_is_at_the_migrations_head(app, client):
    with stamped(app, head(app)):
        response = client.get("/api/v1/health/ready")

    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "migrations": "ok"}
    assert response.get_json()["revision"] == head(app)


def test_ready_answers_503_when_the_database_was_never_migrated(client):
    response = client.get("/api/v1/health/ready")

    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert response.get_json()["checks"] == {"database": "ok", "migrations": "behind"}


def test_ready_answers_503_when_the_schema_is_behind_the_code(app, client):
    _, known = script_revisions(str(app.extensions["migrate"].directory))
    older = sorted(known - {head(app)})[0]
    with stamped(app, older):
        response = client.get("/api/v1/health/ready")

    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "behind"


def test_ready_answers_503_when_a_newer_release_migrated_the_database(app, client):
    with stamped(app, "ffffffffffff"):
        response = client.get("/api/v1/health/ready")

    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "ahead"


@pytest.fixture
def app_without_database():
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": UNREACHABLE}, env={})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_live_answers_and_ready_refuses_when_the_database_is_down(app_without_database):
    client = app_without_database.test_client()

    live = client.get("/api/v1/health/live")
    ready = client.get("/api/v1/health/ready")

    assert live.status_code == 200 and live.get_json()["status"] == "ok"
    assert ready.status_code == 503
    assert ready.get_json()["checks"] == {"database": "unavailable", "migrations": "unknown"}


def test_the_documented_health_endpoint_still_answers_without_a_token(client):
    assert client.get("/api/v1/health").get_json()["status"] == "ok"
