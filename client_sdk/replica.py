"""The local view of a record: the server's state with the device's pending mutations on top.

Pure functions, using the very merge code the server runs on push, so what the device shows
is what the server will decide when the outbox arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from server.domain.policies import policy_for
from sync.merge import MergeError, merge_fields
from sync.policies import DeleteRule, EntityPolicy
from sync.protocol import Mutation, Op


@dataclass(frozen=True)
class ServerState:
    version: int
    hlc: str
    data: dict[str, Any]


@dataclass(frozen=True)
class View:
    """What the app sees: data, or None when the record is deleted or absent locally."""

    data: dict[str, Any] | None


def local_view(entity: str, server: ServerState | None,
               pending: Iterable[Mutation]) -> View:
    """Replay `pending` (oldest first) over `server` as the server would apply them."""
    policy = policy_for(entity)
    data = dict(server.data) if server else None
    for m in pending:
        data = apply_pending(policy, server, data, m)
    return View(data)


def apply_pending(policy: EntityPolicy, server: ServerState | None,
                  data: dict[str, Any] | None, m: Mutation) -> dict[str, Any] | None:
    """One step of `local_view`: the view `data` with `m` on top. The replay is a fold over
    this, so a new mutation can go on top of a stored view without replaying the others."""
    if m.op is Op.CREATE:
        return dict(m.fields) if data is None else data
    if m.op is Op.DELETE:
        kept = (server is not None and m.base_version is not None
                and server.version > m.base_version
                and policy.on_delete_updated is DeleteRule.UPDATE_WINS)
        return data if kept else None
    if data is None:
        return None
    return _merge(data, m, policy, server.hlc if server else "")


def _merge(data: Mapping[str, Any], m: Mutation, policy, hlc: str) -> dict[str, Any]:
    try:
        merged = merge_fields(current=data, base=m.base, incoming=m.fields, policy=policy,
                              current_hlc=hlc, incoming_hlc=m.hlc or "")
    except MergeError:
        return dict(data)  # the server will reject it; show the server's value meanwhile
    return {**data, **merged.values}
