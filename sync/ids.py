"""New record ids: time-ordered UUIDs (version 7, RFC 9562).

A version 7 UUID starts with the Unix time in milliseconds, then random bits. Records
created around the same time get neighbouring ids, so every index keyed by a record id
(the domain table's primary key, the sync tables' record keys) grows at its end instead of
at a random page: a batch of creates touches a few pages rather than a page per record,
and pushing does not slow down as the tables grow (bench/README.md, scenario 2). Random
version 4 ids from other clients stay valid; they only cost more to store.
"""

from __future__ import annotations

import os
import re
import time
import uuid

# A UUID in the canonical form `new_id` and str(uuid) write: lowercase hex in 8-4-4-4-12
# groups. Record ids must be in this form (docs/protocol.md §4); references in other
# spellings are canonicalised. Checking this pattern is much quicker than building a UUID.
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0b10 << 62


def new_id(*, now_ms: int | None = None) -> str:
    """A new UUIDv7 in canonical lowercase form."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, of which 74 are used
    value = ((ms & 0xFFFF_FFFF_FFFF) << 80 | _VERSION_7 | (rand >> 62 & 0xFFF) << 64
             | _VARIANT_RFC | rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))
