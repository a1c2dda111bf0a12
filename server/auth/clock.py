"""The time as the auth layer sees it, replaceable per app so tests can move it.

Token lifetimes, refresh windows and login limits are all measured against this one clock;
tests install a fixed clock instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask, current_app

from sync.sqltypes import utcnow

Clock = Callable[[], datetime]

_EXTENSION_KEY = "fieldsync.auth.clock"


def install_clock(app: Flask, clock: Clock) -> None:
    """Make `clock` (returning timezone-aware UTC datetimes) the app's auth clock."""
    app.extensions[_EXTENSION_KEY] = clock


def now() -> datetime:
    """The current UTC time of the current app's auth clock (the real time by default)."""
    return current_app.extensions.get(_EXTENSION_KEY, utcnow)()
