"""The field domain as the sync engine sees it: entities, scopes, and server-side writes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from server.domain.entities import REGISTRY
from server.domain.scopes import actor_for, user_keys
from server.models import SYNC_TABLES
from sync.engine import SyncEngine
from sync.hlc import Clock

SERVER_CLOCK = Clock("server")

__all__ = ["REGISTRY", "SERVER_CLOCK", "actor_for", "import_records", "make_engine",
           "user_keys"]


def make_engine(secret_key: str) -> SyncEngine:
    """The sync engine for an app; cursors are signed with a key derived from its secret."""
    cursor_key = hashlib.sha256(b"fieldsync-cursor:" + secret_key.encode()).digest()
    return SyncEngine(SYNC_TABLES, REGISTRY, secret=cursor_key, clock=SERVER_CLOCK)


def import_records(conn: sa.Connection, entity: str,
                   records: Iterable[Mapping[str, Any]]) -> int:
    """Create wire-form records as the server, through the engine (so they are logged).

    Raises sync.errors.MutationRejected on the first record that breaks a rule.
    """
    return make_engine("").import_records(conn, entity, records)
