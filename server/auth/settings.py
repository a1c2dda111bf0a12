"""The auth settings, read once per use from the app config into one typed value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class AuthSettings:
    """Everything the token, refresh and rate-limit code needs, without a Flask import."""

    secret_key: str
    issuer: str
    audience: str
    access_ttl: timedelta
    refresh_ttl: timedelta
    refresh_reuse_grace: timedelta
    login_limit_per_user: int
    login_limit_per_address: int
    login_limit_window: timedelta
    password_hash_method: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AuthSettings:
        """Build from a Flask config (see server.config for the keys and defaults)."""
        return cls(
            secret_key=config["SECRET_KEY"],
            issuer=config["JWT_ISSUER"],
            audience=config["JWT_AUDIENCE"],
            access_ttl=timedelta(seconds=config["ACCESS_TOKEN_TTL_SECONDS"]),
            refresh_ttl=timedelta(days=config["REFRESH_TOKEN_TTL_DAYS"]),
            refresh_reuse_grace=timedelta(seconds=config.get("REFRESH_REUSE_GRACE_SECONDS", 30)),
            login_limit_per_user=config["LOGIN_LIMIT_PER_USER"],
            login_limit_per_address=config["LOGIN_LIMIT_PER_ADDRESS"],
            login_limit_window=timedelta(seconds=config["LOGIN_LIMIT_WINDOW_SECONDS"]),
            password_hash_method=config["PASSWORD_HASH_METHOD"],
        )
