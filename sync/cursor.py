"""Pull cursors: opaque to clients, signed so the server can trust what it reads back.

A cursor records where the device is in the change log (`seq`), which scope keys it holds,
the snapshot tasks still running (backfilling keys that entered its scope, sweeping keys
that left it) and the keys that left scope recently (`trail`), which are still matched
in the log until `trail_until` so moves out of scope are seen as evictions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field

from sync.errors import InvalidCursor

PUT, EVICT = "put", "evict"


@dataclass(frozen=True)
class Task:
    mode: str  # PUT: send records with these keys; EVICT: evict those no longer visible
    keys: tuple[str, ...]
    after: tuple[str, str] | None = None  # the last record handled of the current key
    total: int = 0
    done: int = 0
    key: int = 0  # the keys are swept one after the other: the index of the current one


@dataclass(frozen=True)
class Cursor:
    seq: int
    keys: tuple[str, ...] = ()
    tasks: tuple[Task, ...] = ()
    trail: tuple[str, ...] = ()
    trail_until: int = 0
    extra: dict = field(default_factory=dict)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:16])


def encode(cursor: Cursor, secret: bytes) -> str:
    data = asdict(cursor)
    data.pop("extra")
    payload = _b64(json.dumps(data, separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, payload)}"


def decode(token: str, secret: bytes) -> Cursor:
    """Parse and verify a cursor; raises InvalidCursor if it was not issued here."""
    try:
        payload, mac = token.split(".")
        if not hmac.compare_digest(mac, _mac(secret, payload)):
            raise ValueError("bad signature")
        data = json.loads(_unb64(payload))
        tasks = tuple(
            Task(t["mode"], tuple(t["keys"]), tuple(t["after"]) if t["after"] else None,
                 t["total"], t["done"], _index(t.get("key", 0)))
            for t in data["tasks"]
        )
        return Cursor(int(data["seq"]), tuple(data["keys"]), tasks, tuple(data["trail"]),
                      int(data["trail_until"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidCursor("the cursor is not one this server issued",
                            fields={"cursor": ["invalid"]}) from exc


def _index(value) -> int:
    if type(value) is not int or value < 0:
        raise ValueError("not a key index")
    return value
