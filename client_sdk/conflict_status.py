"""Bring the conflicts a device shows as open up to date with the back office's overrides.

The server keeps every conflict; the device keeps its own copy from the push result, which
has no server id. So the device asks for the conflicts of its open ones' mutations
(`GET /conflicts?device_id=&mutation_id=…`, docs/protocol.md §10.3) and closes each one the
server no longer has open, matched by mutation id, entity, record id and field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from client_sdk.store import LocalStore

IDS_PER_REQUEST = 100  # the server's limit on repeated mutation_id parameters
PAGE_LIMIT = 500
MAX_PAGES = 100  # bounds the loop; a page holds up to PAGE_LIMIT conflicts

CLOSE = ("UPDATE conflict SET open = 0, detail = json_set(detail, '$.open', json('false'), "
         "'$.status', ?, '$.result', json(?), '$.resolved_at', ?) "
         "WHERE open = 1 AND mutation_id = ? AND entity = ? AND id = ? "
         "AND json_extract(detail, '$.field') IS ?")

Fetch = Callable[[str], dict[str, Any]]  # GET a path below /api/v1, answer its JSON


def open_mutation_ids(store: LocalStore) -> list[int]:
    """The mutations whose conflicts the device shows as open."""
    return sorted({c["mutation_id"] for c in store.conflicts(only_open=True)
                   if c["mutation_id"] is not None})


def settle_conflicts(store: LocalStore, device_id: str, fetch: Fetch) -> int:
    """Close the open conflicts the server settled; return how many were closed."""
    ids = open_mutation_ids(store)
    closed = 0
    for start in range(0, len(ids), IDS_PER_REQUEST):
        chunk = ids[start:start + IDS_PER_REQUEST]
        closed += close_settled(store, _server_conflicts(device_id, chunk, fetch))
    return closed


def close_settled(store: LocalStore, items: Iterable[dict[str, Any]]) -> int:
    """Close the device's copies of the server conflicts in `items` that are not open."""
    rows = [(c["status"], json.dumps(c["result"]), c["resolved_at"], c["mutation_id"],
             c["entity"], c["record_id"], c["field"])
            for c in items if c["status"] != "open"]
    with store.transaction() as db:
        return sum(db.execute(CLOSE, row).rowcount for row in rows)


def _server_conflicts(device_id: str, mutation_ids: Sequence[int], fetch: Fetch
                      ) -> list[dict[str, Any]]:
    query = [("device_id", device_id), ("limit", PAGE_LIMIT),
             *(("mutation_id", m) for m in mutation_ids)]
    items, after = [], None
    for _ in range(MAX_PAGES):
        page = fetch("/conflicts?" + urlencode(query + ([("after", after)] if after else [])))
        items += page["items"]
        after = page.get("next")
        if not after:
            break
    return items
