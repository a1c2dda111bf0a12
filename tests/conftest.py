"""Shared fixtures: `app`, `client`, `runner` (as in flaskr) on SQLite or PostgreSQL."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager

import pytest

from server import create_app
from server.extensions import db
from server.models import Base
from tests.databases import backend, database_with_schema, truncate_all

TEST_CONFIG = {
    "ENV": "testing",
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    # Cheap hashing keeps the suite fast; production uses the scrypt default.
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
}


def pytest_report_header(config):
    return f"fieldsync database backend: {backend()}"


def pytest_terminal_summary(terminalreporter):
    """What the concurrency suite checked in this process (not summed across xdist workers:
    the soak run, .ci/soak, runs in one process)."""
    from tests.concurrency.race import TOTALS

    if TOTALS["races"]:
        terminalreporter.write_line(
            "races: {races} rounds, {acknowledged} acknowledged writes and {rejected} "
            "rejections checked, {lost} lost".format(**TOTALS))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """One database per test session (per xdist worker), schema created from the models."""
    with database_with_schema(tmp_path_factory) as url:
        yield url


@contextmanager
def app_on(database_url: str, **config):
    """An app on the test database with TEST_CONFIG and `config`; emptied afterwards.
    Its attachment bytes go to a folder of its own (not the instance folder), removed after."""
    blobs = tempfile.mkdtemp(prefix="fieldsync-blobs-")
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url,
                      "BLOB_DIR": blobs, **config}, env={})
    yield app
    with app.app_context():
        db.session.remove()
        truncate_all(db.engine, Base.metadata)
        db.engine.dispose()
    shutil.rmtree(blobs, ignore_errors=True)


@pytest.fixture
def app(database_url):
    with app_on(database_url) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def engine(app):
    """The app's SQLAlchemy engine, for tests that drive sync/ directly."""
    with app.app_context():
        yield db.engine
