"""Alembic environment for fieldsync.

The target schema is `server.models.Base.metadata`, imported directly: this file never builds
the Flask app, so it runs the same under `fieldsync db ...` (Flask-Migrate, which pushes an app
context) and under plain `alembic -c migrations/alembic.ini ...` with DATABASE_URL set.

Where the database comes from, first match wins:
1. `config.attributes["connection"]`: an open Connection handed in by a caller (tests);
2. `-x url=...` on the command line;
3. the Flask app in the current app context (its SQLALCHEMY_DATABASE_URI);
4. the DATABASE_URL environment variable, then `sqlalchemy.url` in alembic.ini.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context

from server.models import Base
from sync.database import prepare_engine

config = context.config
log = logging.getLogger("alembic.env")

# Only a bare command line gets alembic.ini's logging; inside the app or the test suite
# the host's logging set-up (and pytest's capture handlers) must stay as they are.
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Column types declared by fieldsync (not SQLAlchemy) that revisions import by name.
USER_TYPE_MODULES = ("server.", "sync.")

CONFIGURE_DEFAULTS = {
    "compare_type": True,
    "compare_server_default": True,
    # SQLite cannot ALTER most things; batch mode copies the table instead.
    "render_as_batch": True,
}


def render_item(type_, obj, autogen_context):
    """Render fieldsync's own column types as `Money()`, with the import the revision needs.

    Their default repr would show the arguments of the wrapped type (`Money(precision=12,
    scale=2)`), which Money ignores; a type with its own constructor keeps its repr.
    """
    cls = type(obj)
    if type_ != "type" or not cls.__module__.startswith(USER_TYPE_MODULES):
        return False
    autogen_context.imports.add(f"from {cls.__module__} import {cls.__name__}")
    return repr(obj) if "__init__" in vars(cls) else f"{cls.__name__}()"


def skip_empty_revision(migration_context, revision, directives):
    """`db migrate` with no model change writes no file instead of an empty revision."""
    cmd_opts = config.cmd_opts
    if getattr(cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        log.info("No changes in schema detected.")


def _flask_app():
    try:
        from flask import current_app, has_app_context
    except ImportError:  # pragma: no cover - flask is a dependency of the package
        return None
    return current_app._get_current_object() if has_app_context() else None


def _configure_args(dialect_name: str) -> dict:
    args = dict(CONFIGURE_DEFAULTS)
    app = _flask_app()
    if app is not None and "migrate" in app.extensions:
        args.update(app.extensions["migrate"].configure_args)
    args.setdefault("process_revision_directives", skip_empty_revision)
    args.setdefault("render_item", render_item)
    if dialect_name == "sqlite":
        # sync.database.prepare_engine issues BEGIN itself, so DDL on SQLite is transactional:
        # a failed upgrade leaves the schema where it was.
        args.setdefault("transactional_ddl", True)
    return args


def database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    app = _flask_app()
    if not url and app is not None:
        url = app.config["SQLALCHEMY_DATABASE_URI"]
    url = url or os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "No database: set DATABASE_URL (or pass -x url=...) to run Alembic directly, "
            "or use `fieldsync db ...`"
        )
    return url


@contextmanager
def _migration_connection(url: str):
    engine = prepare_engine(sa.create_engine(url, poolclass=sa.pool.NullPool))
    if engine.dialect.name == "sqlite":
        # Batch mode drops and recreates tables; with foreign keys on, dropping a parent
        # would cascade into (or be refused by) its children. Checked again at the end.
        sa.event.listen(engine, "connect", _foreign_keys_off)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _foreign_keys_off(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys=OFF")


def _check_foreign_keys(connection: sa.Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        **_configure_args(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()
        _check_foreign_keys(connection)


def run_migrations_offline() -> None:
    """Write the SQL to stdout (`--sql`) instead of running it."""
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        **_configure_args(sa.make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    shared = config.attributes.get("connection")
    if shared is not None:
        _run(shared)
        return
    with _migration_connection(database_url()) as connection:
        _run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
