"""Pull pages downloaded ahead: in order, each from the cursor of the one before, bounded,
stopped by the last page, a failure or leaving."""

from __future__ import annotations

import pytest

from client_sdk.downloads import PageDownloads
from client_sdk.errors import OfflineError


class Server:
    """Pages c1, c2, ... after cursors c0, c1, ...; `last` is the number of the last page
    (None: endless), `fail` the number of a page whose download fails."""

    def __init__(self, last: int | None = None, fail: int | None = None):
        self.last, self.fail = last, fail
        self.asked: list[tuple[str, str | None]] = []

    def fetch(self, cursor: str, token: str | None) -> dict:
        self.asked.append((cursor, token))
        number = int(cursor[1:]) + 1
        if number == self.fail:
            raise OfflineError("no network")
        return {"cursor": f"c{number}", "more": number != self.last}


def test_pages_come_in_order_each_from_the_cursor_before_and_stop_at_the_last():
    server = Server(last=3)
    with PageDownloads(server.fetch) as downloads:
        downloads.token = "t"
        downloads.start("c0")
        assert [downloads.next()["cursor"] for _ in range(3)] == ["c1", "c2", "c3"]
    assert server.asked == [("c0", "t"), ("c1", "t"), ("c2", "t")]


def test_a_failed_download_reaches_the_taker_after_the_pages_before_it_and_ends_the_downloads():
    server = Server(fail=3)
    with PageDownloads(server.fetch) as downloads:
        downloads.start("c0")
        assert [downloads.next()["cursor"] for _ in range(2)] == ["c1", "c2"]
        with pytest.raises(OfflineError):
            downloads.next()
    assert [cursor for cursor, _ in server.asked] == ["c0", "c1", "c2"]


def test_leaving_stops_the_downloads_a_bounded_number_of_pages_ahead():
    server = Server()
    with PageDownloads(server.fetch, depth=2) as downloads:
        downloads.start("c0")
        assert downloads.next()["cursor"] == "c1"
    asked = len(server.asked)
    assert asked <= 1 + 2 + 1  # taken, waiting, and the one that found no room
    assert len(server.asked) == asked  # nothing more once left


def test_downloads_start_again_after_they_ended_and_use_the_token_set_last():
    server = Server(fail=2)
    with PageDownloads(server.fetch) as downloads:
        downloads.start("c0")
        downloads.next()
        with pytest.raises(OfflineError):
            downloads.next()
        server.fail, server.last = None, 3
        downloads.token = "new"
        downloads.start("c1")
        assert [downloads.next()["cursor"] for _ in range(2)] == ["c2", "c3"]
    assert server.asked[-2:] == [("c1", "new"), ("c2", "new")]
