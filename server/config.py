"""Configuration from environment variables, with the defaults the README documents."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_SECRET = "change-me"


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the server refuses to start."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def settings_from_env(env: Mapping[str, str], instance_path: str) -> dict[str, Any]:
    """Read every FIELDSYNC setting from `env` (the process environment in production)."""
    from server.blobs.limits import blob_settings

    default_db = "sqlite:///" + str(Path(instance_path) / "fieldsync.sqlite")
    return {
        "ENV": env.get("FIELDSYNC_ENV", "production"),
        "SECRET_KEY": env.get("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL", default_db),
        "ACCESS_TOKEN_TTL_SECONDS": _int(env, "ACCESS_TOKEN_TTL_SECONDS", 15 * 60),
        "REFRESH_TOKEN_TTL_DAYS": _int(env, "REFRESH_TOKEN_TTL_DAYS", 30),
        "REFRESH_REUSE_GRACE_SECONDS": _int(env, "REFRESH_REUSE_GRACE_SECONDS", 30),
        "JWT_ISSUER": env.get("JWT_ISSUER", "fieldsync"),
        "JWT_AUDIENCE": env.get("JWT_AUDIENCE", "fieldsync-api"),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 10 * 1024 * 1024),
        "LOGIN_LIMIT_PER_USER": _int(env, "LOGIN_LIMIT_PER_USER", 10),
        "LOGIN_LIMIT_PER_ADDRESS": _int(env, "LOGIN_LIMIT_PER_ADDRESS", 50),
        "LOGIN_LIMIT_WINDOW_SECONDS": _int(env, "LOGIN_LIMIT_WINDOW_SECONDS", 300),
        "PASSWORD_HASH_METHOD": env.get("PASSWORD_HASH_METHOD", "scrypt"),
        "SYNC_RETENTION_DAYS": _int(env, "SYNC_RETENTION_DAYS", 30),
        "SYNC_RECEIPT_DAYS": _int(env, "SYNC_RECEIPT_DAYS", 30),
        "SYNC_COMPACT_AFTER_HOURS": _int(env, "SYNC_COMPACT_AFTER_HOURS", 24),
        "SCHEDULER_ENABLED": env.get("SCHEDULER_ENABLED", "0") == "1",
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0),
        **blob_settings(env, instance_path),
        "LOG_FORMAT": env.get("LOG_FORMAT") or None,  # finalize: by ENV
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
    }


def finalize(config: dict[str, Any], instance_path: str, *, secret_required: bool = True
             ) -> None:
    """Check the merged configuration; fill a development secret if none was given.

    Raises ConfigError in production mode when the secret is missing or the default, unless
    `secret_required` is False: an app built only to be inspected (`fieldsync routes`) signs
    nothing, so it gets a throw-away secret instead of refusing.
    """
    if config.get("TRUSTED_PROXIES", 0) < 0:
        raise ConfigError("TRUSTED_PROXIES must be 0 or more (the reverse proxies in front)")
    # Production logs go to a collector that parses JSON; a developer reads text.
    config["LOG_FORMAT"] = config.get("LOG_FORMAT") or (
        "json" if config["ENV"] == "production" else "text")
    if config["LOG_FORMAT"] not in ("json", "text"):
        raise ConfigError("LOG_FORMAT must be json or text")
    secret = config.get("SECRET_KEY")
    if not secret_required and not _strong(secret):
        config["SECRET_KEY"] = secrets.token_urlsafe(48)
        return
    if config["ENV"] == "production":
        if not _strong(secret):
            raise ConfigError(
                "SECRET_KEY must be set to a random value of at least 32 characters in "
                "production (FIELDSYNC_ENV=production)"
            )
        return
    if not secret:
        config["SECRET_KEY"] = _development_secret(Path(instance_path))


def _strong(secret: str | None) -> bool:
    return bool(secret) and secret != DEFAULT_SECRET and len(secret) >= 32


def _development_secret(instance: Path) -> str:
    # Kept in the instance folder so tokens survive a development server restart.
    path = instance / "dev-secret-key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    os.chmod(path, 0o600)
    return secret
