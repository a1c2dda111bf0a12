"""sync.ids.new_id: valid version 7 UUIDs that sort by creation time."""

from __future__ import annotations

import uuid

from sync.ids import new_id


def test_a_new_id_is_a_canonical_version_7_rfc_uuid():
    text = new_id()
    parsed = uuid.UUID(text)
    assert str(parsed) == text
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_the_id_starts_with_its_creation_time_in_milliseconds():
    assert uuid.UUID(new_id(now_ms=1_700_000_000_123)).int >> 80 == 1_700_000_000_123


def test_ids_made_in_a_later_millisecond_sort_after_earlier_ones():
    ids = [new_id(now_ms=1_700_000_000_000 + i // 3) for i in range(300)]
    for earlier, later in zip(ids, ids[3:], strict=False):
        assert earlier < later


def test_ids_made_in_the_same_millisecond_differ():
    assert len({new_id(now_ms=1_700_000_000_000) for _ in range(10_000)}) == 10_000
