"""Login rate limiting, counted in the login_attempt table so it holds across workers.

Failed attempts are counted in a sliding window, per email (against guessing one account's
password) and per client address (against spraying many accounts). Successful logins are
recorded but not counted: a rep who signs in on three devices, or a whole office behind one
NAT address, is never locked out by its own success. An attempt refused by the limiter is not
recorded, so hammering does not extend the lock-out.

The check and the insert are not atomic: concurrent workers may let a few extra attempts
through, which does not matter for a limit of this kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.auth.errors import LoginThrottled
from server.models import LoginAttempt

MAX_ADDRESS_LENGTH = 45


@dataclass(frozen=True)
class LoginLimits:
    """At most `per_user` failures per email and `per_address` per address within `window`."""

    per_user: int
    per_address: int
    window: timedelta


def check_login_allowed(session: Session, limits: LoginLimits, *, email: str, address: str,
                        now: datetime) -> None:
    """Raise LoginThrottled (with the seconds until a retry can succeed) if either limit is hit.

    `email` must already be normalized (see server.services.users.normalize_email).
    """
    waits = [
        _wait(session, LoginAttempt.email == email, limits.per_user, limits.window, now),
        _wait(session, LoginAttempt.address == _address(address), limits.per_address,
              limits.window, now),
    ]
    longest = max(waits)
    if longest > 0:
        raise LoginThrottled(retry_after=longest)


def record_login_attempt(session: Session, *, email: str, address: str, success: bool,
                         now: datetime) -> None:
    """Record one checked login attempt (the caller commits, also when the login fails)."""
    session.add(LoginAttempt(email=email[:254], address=_address(address), success=success,
                             at=now))
    session.flush()


def purge_login_attempts(session: Session, older_than: datetime) -> int:
    """Delete attempts recorded before `older_than`; return how many. For a scheduled job."""
    stmt = sa.delete(LoginAttempt).where(LoginAttempt.at < older_than)
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount


def _wait(session: Session, matches, limit: int, window: timedelta, now: datetime) -> int:
    # With `limit` failures in the window, the next attempt is refused until the oldest of the
    # newest `limit` failures leaves the window.
    oldest_counted = session.scalar(
        sa.select(LoginAttempt.at)
        .where(matches, LoginAttempt.success.is_(False), LoginAttempt.at > now - window)
        .order_by(LoginAttempt.at.desc())
        .offset(max(limit - 1, 0))
        .limit(1)
    )
    if oldest_counted is None:
        return 0
    return max(1, math.ceil((oldest_counted + window - now).total_seconds()))


def _address(address: str | None) -> str:
    return (address or "unknown")[:MAX_ADDRESS_LENGTH]
