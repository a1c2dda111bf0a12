"""The floor: what storing the same records costs with nothing but sqlite3 and json.

Scenario 5 of the benchmark issue. The records of a scenario are serialised to JSON and
inserted with one `executemany` in one transaction into a fresh SQLite file with the module's
defaults (rollback journal, synchronous=FULL). No sync engine, no HTTP, no validation: every
other scenario reports its time as a multiple of this one for the same number of records.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.scenarios import data
from bench.scenarios.measure import median

REPEATS = 3


def store_records(records: list[data.Record], path: Path) -> float:
    """Serialise and insert `records` into a new database at `path`; returns seconds."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("CREATE TABLE record (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
        started = time.perf_counter()
        rows = [(r["id"], json.dumps(r, separators=(",", ":"), ensure_ascii=False))
                for r in records]
        with connection:
            connection.executemany("INSERT INTO record (id, data) VALUES (?, ?)", rows)
        return time.perf_counter() - started
    finally:
        connection.close()


class Floor:
    """Floor times per record count, measured once each (median of REPEATS runs)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self._seconds: dict[int, float] = {}

    def seconds(self, count: int) -> float:
        if count not in self._seconds:
            records = list(data.accounts(data.stable_id("territory", "FLOOR"), count,
                                         label="F"))
            runs = []
            for _ in range(REPEATS):
                with tempfile.TemporaryDirectory(dir=self.workdir) as folder:
                    runs.append(store_records(records, Path(folder) / "floor.sqlite"))
            self._seconds[count] = median(runs)
        return self._seconds[count]

    def ratio(self, count: int, seconds: float) -> float:
        """How many times the floor `seconds` is, for `count` records."""
        return seconds / self.seconds(count)

    def measured(self) -> dict[int, float]:
        return dict(sorted(self._seconds.items()))
