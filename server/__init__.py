"""fieldsync server: a thin Flask layer over the sync engine and the field domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask is imported when an app is built: the client SDK reads the field
    from flask import Flask  # domain's words (server.domain.vocabulary) without it


def create_app(config: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None,
               instance_path: str | None = None, secret_required: bool = True):
    """Build the application.

    Settings come from `env` (default: the process environment), then `config` overrides
    them (tests pass a dict). `instance_path` is where the SQLite file and the development
    secret live (default: Flask's instance folder). `secret_required=False` builds an app
    that is only inspected, never served (read-only commands): it needs no SECRET_KEY.
    Raises server.config.ConfigError on an unsafe configuration.
    """
    import os

    # Imported here, not at the top: the field SDK imports the domain's declarations
    # (server.domain.vocabulary, workflows, policies, bounds) without a web framework.
    from flask import Flask

    from server.config import finalize, settings_from_env

    app = Flask(__name__, instance_relative_config=False, instance_path=instance_path)
    app.config.from_mapping(settings_from_env(os.environ if env is None else env,
                                              app.instance_path))
    if config:
        app.config.update(config)
    finalize(app.config, app.instance_path, secret_required=secret_required)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    app.json.sort_keys = False

    _init_extensions(app)
    _init_observability(app)
    _register_blueprints(app)
    _trust_proxies(app)
    if app.config["ENV"] == "production":
        _freeze_start_up_objects()
    return app


# Container objects allocated, net of those freed, before a young collection (Python's
# default: 700). A request frees nearly all it allocates by reference counting, yet at 700
# pushing 20,000 records in batches of 500 set off 611 young, 55 middle and 5 full
# collections: 55 to 65 ms, 3 us of each mutation's 95 or so (measured in-process); at
# 50,000, none. Cyclic garbage is still collected, less often.
YOUNG_COLLECTION_THRESHOLD = 50_000


def _freeze_start_up_objects() -> None:
    """Leave what start-up built (modules, the app, table metadata, compiled schemas: tens of
    thousands of objects that live as long as the process) out of garbage collection. A
    full collection otherwise walks all of them, and a push of 500 records allocates enough
    to set one off every few requests: measured, an 80 ms pause in the answer it lands in.
    Requests still collect their own garbage; the start-up leftovers are collected first.
    Young collections wait for YOUNG_COLLECTION_THRESHOLD allocations."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, take the client's address (for the login
    limits and device records) and scheme from the X-Forwarded-For and -Proto headers they
    add. Without proxies these headers are the client's own, so they are ignored."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    proxies = app.config.get("TRUSTED_PROXIES", 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


def _init_observability(app: Flask) -> None:
    from server.logging_setup import init_request_logging
    from server.metrics import init_metrics

    init_request_logging(app)
    init_metrics(app)


def _init_extensions(app: Flask) -> None:
    from pathlib import Path

    from server.domain import make_engine
    from server.extensions import db, migrate
    from sync.database import prepare_engine

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    with app.app_context():
        prepare_engine(db.engine)
    app.extensions["fieldsync.sync"] = make_engine(app.config["SECRET_KEY"])
    migrations = Path(__file__).resolve().parent.parent / "migrations"
    migrate.init_app(app, db, directory=str(migrations), render_as_batch=True,
                     compare_type=True)


def _register_blueprints(app: Flask) -> None:
    from server.api import bp as api_bp
    from server.api.admin import bp as admin_bp
    from server.api.attachments import bp as attachments_bp
    from server.api.conflicts import bp as conflicts_bp
    from server.api.records import bp as records_bp
    from server.api.sync import bp as sync_bp
    from server.auth.views import bp as auth_bp
    from server.errors import register_error_handlers
    from server.health import bp as health_bp
    from server.http import register_input_guards
    from server.office import init_office
    from server.openapi import bp as openapi_bp

    register_error_handlers(app)
    register_input_guards(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(sync_bp)
    app.register_blueprint(records_bp)
    app.register_blueprint(conflicts_bp)
    app.register_blueprint(attachments_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(openapi_bp)
    init_office(app)
