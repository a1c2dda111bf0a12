"""Scenario 3, incremental pull: an up-to-date client pulls 100 changes, on a big server.

The server (gunicorn, one worker, SQLite) holds N accounts: 1,000 in the client's territory
and the rest spread over other territories. A reader and a writer (two reps of the territory,
each a `SyncClient`) are synced; then, round after round, the writer changes 100 of the
territory's accounts and pushes, and the reader's `sync()` is timed. The same is done with
the tables grown ten times, to show that the cost follows the changes, not the table size.

The first size is seeded through `import_records`; the growth to the second size uses the
bench's direct SQL fast path (`seeding.clone_accounts`), and the report says so.
"""

from __future__ import annotations

import time

from bench.report import Row
from bench.scenarios import data, seeding
from bench.scenarios.measure import (
    Recorder,
    TimedTransport,
    median,
    only,
    peak_rss_mib,
    reset_own_peak,
)
from bench.scenarios.servers import bench_server
from client_sdk import SyncClient

NAME = "incremental_pull"
TITLE = "3 incremental pull"
SIZES, QUICK_SIZES = (100_000, 1_000_000), (5_000, 50_000)
HOME, QUICK_HOME = 1_000, 200  # accounts in the client's territory
OTHER_TERRITORIES, QUICK_OTHER_TERRITORIES = 50, 5
CHANGED = 100
WARM_UP, REPEATS, QUICK_REPEATS = 1, 7, 5
TARGET_MS, TARGET_GROWTH = 20.0, 1.5


def floor_counts(quick: bool) -> tuple[int, ...]:
    return (CHANGED,)


def run(ctx) -> list[Row]:
    sizes = QUICK_SIZES if ctx.quick else SIZES
    home = QUICK_HOME if ctx.quick else HOME
    folder = ctx.folder(NAME)
    url = f"sqlite:///{folder / 'server.sqlite'}"
    engine = seeding.create_schema(url)
    others = [f"B{i:02d}" for i in range(QUICK_OTHER_TERRITORIES if ctx.quick
                                         else OTHER_TERRITORIES)]
    territories = seeding.add_territories(engine, ["HOME", *others])
    reps = seeding.add_reps(engine, territories, [("reader@bench.example", "HOME"),
                                                  ("writer@bench.example", "HOME")])
    home_ids = _seed(ctx, engine, territories, others, home, sizes[0])
    rows, medians = [], []
    for index, size in enumerate(sizes):
        if index:
            ctx.log(f"{NAME}: growing the tables to {size:,} accounts (direct SQL fast path)")
            seconds = seeding.clone_accounts(engine, size - sizes[index - 1],
                                             exclude_territory=territories["HOME"])
            ctx.note(f"{TITLE} ({size:,}): {size - sizes[index - 1]:,} of the accounts were "
                     f"added by the bench's direct SQL fast path (seeding.clone_accounts: "
                     f"copies of imported accounts, every engine table written in step) in "
                     f"{seconds:.0f} s, not through import_records.")
        ctx.note(f"{TITLE} ({size:,}): table rows {seeding.count_rows(engine)}.")
        engine.dispose()
        latency, row = _measure(ctx, url, size, reps, home_ids)
        medians.append(latency)
        rows.append(row)
    growth = medians[-1] / medians[0]
    rows.append(Row(TITLE, f"{sizes[-1]:,} vs {sizes[0]:,}", "latency ratio between sizes",
                    f"{growth:.2f}x", None, f"≤ {TARGET_GROWTH:g}x", growth <= TARGET_GROWTH))
    return rows


def _seed(ctx, engine, territories, others, home: int, size: int) -> list[str]:
    ctx.log(f"{NAME}: seeding {size:,} accounts through import_records")
    home_records = list(data.accounts(territories["HOME"], home, label="H"))
    _, seconds = seeding.import_accounts(engine, home_records)
    per_territory = (size - home) // len(others)
    for number, code in enumerate(others):
        count = per_territory if number < len(others) - 1 else size - home - per_territory * (
            len(others) - 1)
        _, spent = seeding.import_accounts(engine, data.accounts(
            territories[code], count, start=number * per_territory, label="B"))
        seconds += spent
    ctx.note(f"{TITLE} ({size:,}): seeded through import_records in {seconds:.0f} s "
             f"({size / seconds:,.0f} records/s); {home:,} accounts in the client's territory, "
             f"the rest in {len(others)} other territories.")
    return [r["id"] for r in home_records]


def _measure(ctx, url: str, size: int, reps, home_ids: list[str]) -> tuple[float, Row]:
    folder = ctx.folder(f"{NAME}-{size}")
    repeats = QUICK_REPEATS if ctx.quick else REPEATS
    with bench_server(ctx, folder, url) as server:
        recorder = Recorder()
        reader = SyncClient(folder / "reader.sqlite", server_url=server.url,
                            transport=TimedTransport(recorder))
        writer = SyncClient(folder / "writer.sqlite", server_url=server.url,
                            transport=TimedTransport())
        reader.login(reps[0].email, seeding.PASSWORD, f"reader laptop {size}")
        writer.login(reps[1].email, seeding.PASSWORD, f"writer laptop {size}")
        reader.sync()
        writer.sync()
        reset_own_peak()
        ctx.log(f"{NAME}: {repeats} rounds of {CHANGED} changes at {size:,} accounts")
        timings = [_round(reader, writer, recorder, home_ids, number, f"s{size}")
                   for number in range(WARM_UP + repeats)][WARM_UP:]
        client_mib, server_mib = peak_rss_mib(), server.peak_rss_mib()
        reader.close()
        writer.close()
    latency = median([t[0] for t in timings])
    server_ms, http_ms = median([t[1] for t in timings]), median([t[2] for t in timings])
    ctx.note(f"{TITLE} ({size:,}): sync() latencies "
             f"{', '.join(f'{t[0]:.1f}' for t in timings)} ms; server "
             f"{', '.join(f'{t[1]:.1f}' for t in timings)} ms.")
    row = Row(TITLE, f"{size:,}", f"pull of {CHANGED} changes: sync() latency, median of "
              f"{repeats}", f"{latency:.1f} ms (HTTP {http_ms:.1f} ms, server {server_ms:.1f} ms)",
              ctx.floor.ratio(CHANGED, latency / 1000), f"< {TARGET_MS:g} ms",
              latency < TARGET_MS, server_mib, client_mib)
    return latency, row


def _round(reader: SyncClient, writer: SyncClient, recorder: Recorder, home_ids: list[str],
           number: int, tag: str) -> tuple[float, float, float]:
    """Writer changes CHANGED accounts and pushes; returns the reader's (sync ms, server ms,
    HTTP ms) for pulling them."""
    start = number * CHANGED % len(home_ids)
    for record_id in (home_ids * 2)[start:start + CHANGED]:
        # A value no earlier round or size wrote: an unchanged field is not sent at all.
        writer.update("account", record_id, {"phone": f"+1 312-555-{number:04d} {tag}"})
    writer.sync()
    recorder.take()
    started = time.perf_counter()
    report = reader.sync()
    seconds = time.perf_counter() - started
    if report.pulled != CHANGED:
        raise RuntimeError(f"{NAME}: the reader pulled {report.pulled}, expected {CHANGED}")
    pulls = only(recorder.take(), "/sync/pull")
    return (seconds * 1000, sum(p.server_ms or 0 for p in pulls),
            sum(p.seconds for p in pulls) * 1000)
