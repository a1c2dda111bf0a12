"""Hybrid logical clock: monotonic, merges remote time, caps drift, renders sortable strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.hlc import MAX_COUNTER, ZERO, Clock, Timestamp, is_valid


class Wall:
    """A physical clock a test sets by hand."""

    def __init__(self, ms: int):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def parse(text: str) -> Timestamp:
    return Timestamp.parse(text)


def test_now_follows_the_wall_clock_when_it_moves_forward():
    wall = Wall(1_000)
    clock = Clock("n", now_ms=wall)
    assert clock.now() == "0000000001000-0000-n"
    wall.ms = 2_000
    assert clock.now() == "0000000002000-0000-n"


def test_now_keeps_increasing_while_the_wall_clock_stands_still_or_goes_back():
    wall = Wall(5_000)
    clock = Clock("n", now_ms=wall)
    stamps = [clock.now()]
    for ms in (5_000, 5_000, 4_000, 1, 5_000):
        wall.ms = ms
        stamps.append(clock.now())
    assert stamps == sorted(set(stamps))
    assert parse(stamps[-1]) == Timestamp(5_000, 5, "n")


def test_a_full_counter_carries_into_the_next_millisecond():
    clock = Clock("n", now_ms=Wall(7), last=f"0000000000007-{MAX_COUNTER - 1:04x}-n")
    assert parse(clock.now()) == Timestamp(7, MAX_COUNTER, "n")
    assert parse(clock.now()) == Timestamp(8, 0, "n")


def test_observing_a_later_remote_moves_the_clock_past_it():
    clock = Clock("server", now_ms=Wall(1_000))
    remote = "0000000003000-0007-device"
    assert clock.observe(remote) == remote
    after = parse(clock.now())
    assert after > parse(remote)
    assert (after.wall_ms, after.node) == (3_000, "server")


def test_observing_a_remote_of_the_same_millisecond_with_a_higher_counter_moves_past_it():
    clock = Clock("server", now_ms=Wall(3_000))
    clock.now()
    remote = "0000000003000-0009-device"
    clock.observe(remote)
    assert parse(clock.now()) == Timestamp(3_000, 11, "server")


def test_observing_an_older_remote_leaves_the_clock_ahead():
    clock = Clock("server", now_ms=Wall(9_000))
    first = clock.now()
    clock.observe("0000000000001-0000-device")
    assert clock.now() > first


def test_a_remote_wall_time_further_ahead_than_the_drift_cap_is_capped():
    clock = Clock("server", now_ms=Wall(10_000))
    seen = clock.observe("9999999999999-0003-laptop", max_drift_ms=500)
    assert parse(seen) == Timestamp(10_500, 3, "laptop")
    assert parse(clock.now()) > parse(seen)
    assert parse(clock.now()).wall_ms == 10_500


def test_a_remote_within_the_drift_cap_is_kept_as_sent():
    clock = Clock("server", now_ms=Wall(10_000))
    assert clock.observe("0000000010400-0000-laptop", max_drift_ms=500) == (
        "0000000010400-0000-laptop")


def test_a_clock_resumes_after_its_last_timestamp():
    clock = Clock("n", now_ms=Wall(0), last="0000000000500-0002-n")
    assert parse(clock.now()) == Timestamp(500, 3, "n")


@pytest.mark.parametrize("text", ["", "garbage", "000000000001-0000-n", "0000000000001-000-n",
                                  "0000000000001-0000-", "0000000000001-zzzz-n",
                                  "abcdefghijklm-0000-n", None, 42])
def test_text_that_is_not_a_timestamp_is_refused(text):
    assert not is_valid(text)
    if isinstance(text, str):
        with pytest.raises(ValueError):
            Timestamp.parse(text)


def test_zero_is_a_valid_timestamp_below_every_other():
    assert is_valid(ZERO)
    assert Timestamp.parse(ZERO) < Timestamp(0, 1, "0")


walls = st.integers(0, 10**13 - 1)
counters = st.integers(0, MAX_COUNTER)
nodes = st.text(st.characters(min_codepoint=33, max_codepoint=0x10FFFF,
                              exclude_categories=("Cs",)), min_size=1, max_size=12)
timestamps = st.builds(Timestamp, walls, counters, nodes)


@given(timestamps)
def test_a_timestamp_survives_rendering_and_parsing(stamp):
    assert Timestamp.parse(str(stamp)) == stamp
    assert is_valid(str(stamp))


@given(timestamps, timestamps)
def test_rendered_strings_sort_exactly_like_the_timestamps(a, b):
    assert (str(a) < str(b)) == (a < b)
    assert (str(a) == str(b)) == (a == b)


@given(st.lists(st.tuples(st.sampled_from(["now", "observe"]), walls, walls, counters),
                max_size=30))
def test_a_clock_never_goes_backwards_whatever_it_observes(events):
    wall = Wall(0)
    clock = Clock("server", now_ms=wall)
    last = ZERO
    for kind, physical, remote_wall, remote_counter in events:
        wall.ms = physical
        if kind == "observe":
            clock.observe(str(Timestamp(remote_wall, remote_counter, "d")), max_drift_ms=1_000)
        stamp = clock.now()
        assert stamp > last
        last = stamp
