"""The field domain as the sync engine sees it: entities, scopes, and server-side writes.

The package imports its parts on first use (PEP 562), so `server.domain.vocabulary` and
`server.domain.workflows`, which the models and the client SDK read, load without the
models, schemas and registry (and the models can import them without a cycle).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sync.hlc import Clock

if TYPE_CHECKING:
    import sqlalchemy as sa

    from sync.engine import SyncEngine

SERVER_CLOCK = Clock("server")

__all__ = ["REGISTRY", "SERVER_CLOCK", "actor_for", "import_records", "make_engine",
           "user_keys"]

_LAZY = {"REGISTRY": "server.domain.entities", "actor_for": "server.domain.scopes",
         "user_keys": "server.domain.scopes"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_engine(secret_key: str) -> SyncEngine:
    """The sync engine for an app; cursors are signed with a key derived from its secret."""
    from server.domain.entities import REGISTRY
    from server.models import SYNC_TABLES
    from sync.engine import SyncEngine

    cursor_key = hashlib.sha256(b"fieldsync-cursor:" + secret_key.encode()).digest()
    return SyncEngine(SYNC_TABLES, REGISTRY, secret=cursor_key, clock=SERVER_CLOCK)


def import_records(conn: sa.Connection, entity: str,
                   records: Iterable[Mapping[str, Any]]) -> int:
    """Create wire-form records as the server, through the engine (so they are logged).

    Raises sync.errors.MutationRejected on the first record that breaks a rule.
    """
    return make_engine("").import_records(conn, entity, records)
