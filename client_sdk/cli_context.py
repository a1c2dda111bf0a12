"""What every `fieldsync-client` command shares: the replica, the output mode, the errors.

Exit codes: 0 done, 1 refused (by the replica or the server), 2 usage, 3 the server cannot
be reached, 4 not signed in.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import httpx

from client_sdk.client import PULL_LIMIT, SyncClient
from client_sdk.errors import (
    AuthError,
    FieldsyncError,
    LocalValidationError,
    OfflineError,
    ServerError,
    SessionRevoked,
)
from client_sdk.field import FieldActions
from client_sdk.render import SHORT_ID, to_json
from client_sdk.syncer import RetryPolicy
from server.domain.policies import POLICIES

EXIT_REFUSED = 1
EXIT_OFFLINE = 3
EXIT_SIGNED_OUT = 4

OFFLINE = "cannot reach the server; your changes are kept and will sync later"
SIGNED_OUT = "not signed in: run `fieldsync-client login` (your changes are kept)"

# What a person may type instead of an id, per entity.
NATURAL_KEYS = {"territory": "code", "product": "sku", "part": "part_number",
                "work_order": "number", "account": "account_number"}
NAME_FIELDS = ("name", "title", "label", "filename", "sku", "code")


def default_data_path() -> Path:
    """The replica file in the user's data directory (XDG_DATA_HOME on Linux)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "fieldsync" / "replica.db"


class CliError(click.ClickException):
    """An expected failure: one line on stderr and a documented exit code, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED):
        super().__init__(message)
        self.exit_code = exit_code


def explain(exc: FieldsyncError | sqlite3.Error) -> CliError:
    """The message and exit code for an error the SDK or the replica raised."""
    if isinstance(exc, OfflineError):
        return CliError(OFFLINE, EXIT_OFFLINE)
    if isinstance(exc, SessionRevoked):
        return CliError(f"the server ended this device's session ({exc}); your changes are "
                        "kept: run `fieldsync-client login`", EXIT_SIGNED_OUT)
    if isinstance(exc, AuthError):
        return CliError(SIGNED_OUT, EXIT_SIGNED_OUT)
    if isinstance(exc, ServerError):
        details = "".join(f"\n  {name}: {' '.join(map(str, messages))}"
                          for name, messages in exc.fields.items())
        return CliError(f"the server refused: {exc.message} ({exc.code}){details}")
    if isinstance(exc, LocalValidationError):
        return CliError(str(exc))
    return CliError(f"cannot use the replica: {exc}")


@dataclass
class CliContext:
    """The object behind click's `obj`. Tests hand one in with a transport to the app."""

    data: Path | None = None
    transport: httpx.BaseTransport | None = None
    timeout: float = 30.0
    retries: int = 3
    pull_limit: int = PULL_LIMIT
    json: bool = False
    _client: SyncClient | None = field(default=None, repr=False)

    def client(self, *, server_url: str | None = None) -> SyncClient:
        """The replica's SyncClient, opened once per command (again for a new server)."""
        if self._client is not None and server_url and server_url != self._client.server_url:
            self.close()
        if self._client is None:
            path = self.data or default_data_path()
            try:
                self._client = SyncClient(
                    path, server_url=server_url, transport=self.transport, timeout=self.timeout,
                    retry=RetryPolicy(attempts=self.retries), pull_limit=self.pull_limit)
            except (OSError, sqlite3.Error) as exc:
                raise CliError(f"cannot open the replica {path}: {exc}") from exc
        return self._client

    def field(self) -> FieldActions:
        return FieldActions(self.client())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def emit(self, data: Any, human: str | Callable[[], str]) -> None:
        """Print `data` as JSON in --json mode, else the human text."""
        click.echo(to_json(data) if self.json else human() if callable(human) else human)

    def done(self, message: str, data: Any) -> None:
        """Report a local write, with how much is waiting to be synced."""
        pending = self.client().status().pending
        waiting = f"{pending} change{'s' * (pending != 1)} to sync"
        self.emit(data, f"{message}\n{waiting.capitalize()}." if "\n" in message
                  else f"{message} ({waiting})")


def set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliContext).json = True


json_option = click.option("--json", "as_json", is_flag=True, expose_value=False,
                           callback=set_json, help="Print JSON for scripts.")


def short(record_id: str | None) -> str:
    return (record_id or "")[:SHORT_ID]


def label(client: SyncClient, entity: str, record_id: str) -> str:
    """A record's name (or title, label...) for messages, else its short id."""
    record = client.get(entity, record_id) or {}
    return next((str(record[n]) for n in NAME_FIELDS if record.get(n)), short(record_id))


def resolve(client: SyncClient, entity: str, text: str) -> str:
    """The id of the record `text` names: its id, its code/SKU/number, or a unique id prefix
    of at least four characters. Unknown text comes back unchanged, for the SDK to refuse."""
    if client.get(entity, text) is not None:
        return text
    key = NATURAL_KEYS.get(entity)
    if key and (found := client.query(entity, **{key: text})):
        return found[0]["id"]
    prefix = text.lower()
    if len(prefix) < 4:
        return text
    matches = [r["id"] for r in client.query(entity) if r["id"].startswith(prefix)]
    if len(matches) > 1:
        raise CliError(f"{text!r} matches {len(matches)} {entity} records; give more of the id")
    return matches[0] if matches else text


class EntityType(click.ParamType):
    """An entity name; `work-order` is accepted for `work_order`."""

    name = "entity"

    def convert(self, value: Any, param, ctx) -> str:
        entity = str(value).replace("-", "_").lower()
        if entity not in POLICIES:
            self.fail(f"{value!r} is not an entity; one of: {', '.join(sorted(POLICIES))}",
                      param, ctx)
        return entity


class MomentType(click.ParamType):
    """An ISO 8601 timestamp; without a zone it is this computer's local time."""

    name = "timestamp"

    def convert(self, value: Any, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 timestamp (e.g. 2026-11-24T09:30)",
                      param, ctx)
        return moment if moment.tzinfo else moment.astimezone()


ENTITY = EntityType()
MOMENT = MomentType()
