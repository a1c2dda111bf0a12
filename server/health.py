"""Health checks for load balancers and orchestrators.

    GET /api/v1/health/live   the process answers; touches nothing else
    GET /api/v1/health/ready  the database answers a query and its schema is at the
                              migrations' head: send this worker traffic

Neither needs a token. Ready answers 503 with the failing check named, so a load balancer
takes the worker out of rotation while the database is down or a deploy has not run
`fieldsync db upgrade` yet (or ran a newer one).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app

from server.extensions import db
from sync.protocol import PROTOCOL_VERSION

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__, url_prefix="/api/v1/health")

# A probe that waits on a stuck database is worse than one that fails: load balancers time
# out probes after a few seconds and would count the worker dead for the wrong reason.
STATEMENT_TIMEOUT_MS = 2000

_VERSION = sa.text("SELECT version_num FROM alembic_version")


@dataclass(frozen=True)
class Readiness:
    """What the ready probe found: the database's revision against the code's revisions."""

    database: str  # "ok" or "unavailable"
    revision: str | None
    heads: frozenset[str]
    known: frozenset[str]  # every revision the code's migrations have

    @property
    def migrations(self) -> str:
        if self.database != "ok":
            return "unknown"
        if self.revision in self.heads:
            return "ok"
        return "behind" if self.revision is None or self.revision in self.known else "ahead"

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.migrations == "ok"


@bp.get("/live")
def live():
    """The process is up and serving requests; the database is not consulted."""
    return {"status": "ok", "protocol": PROTOCOL_VERSION}


@bp.get("/ready")
def ready():
    """The database answers and its schema is at head: 200, else 503 naming the check."""
    found = check_readiness(db.engine, _migrations_directory())
    body = {"status": "ok" if found.ready else "unavailable", "protocol": PROTOCOL_VERSION,
            "checks": {"database": found.database, "migrations": found.migrations},
            "revision": found.revision, "head": ",".join(sorted(found.heads))}
    return body, 200 if found.ready else 503


def check_readiness(engine: sa.Engine, migrations: str) -> Readiness:
    """Query the database for its schema revision; never raises for a database failure."""
    heads, known = script_revisions(migrations)
    try:
        revision = database_revision(engine)
    except sa.exc.SQLAlchemyError as exc:
        log.warning("readiness: the database did not answer: %s", exc.__class__.__name__)
        return Readiness("unavailable", None, heads, known)
    return Readiness("ok", revision, heads, known)


def database_revision(engine: sa.Engine) -> str | None:
    """The schema revision Alembic recorded, None when the database has none (not migrated).

    Raises SQLAlchemyError when the database does not answer.
    """
    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        conn.exec_driver_sql("SELECT 1")
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(_VERSION).scalar()


@functools.cache
def script_revisions(migrations: str) -> tuple[frozenset[str], frozenset[str]]:
    """The head revisions and every revision of the migration scripts in `migrations`.

    Read once per process: the scripts are code, and parsing them takes milliseconds.
    """
    scripts = ScriptDirectory(migrations)
    known = frozenset(script.revision for script in scripts.walk_revisions())
    return frozenset(scripts.get_heads()), known


def _migrations_directory() -> str:
    migrate = current_app.extensions.get("migrate")
    if migrate is not None:
        return str(migrate.directory)
    return str(Path(__file__).resolve().parent.parent / "migrations")
