"""Scenario 1, initial sync: a fresh SDK client downloads a territory of N accounts.

The accounts are seeded through the engine's bulk path; the server is gunicorn (one worker)
on a SQLite file; the client is a `SyncClient` with its replica in the work folder, signed in
as a rep of the territory, calling `sync()` once over loopback HTTP. Measured: records per
second end to end, and the server's own time per pull page (Server-Timing).

Each size is synced REPEATS times by fresh clients (each its own replica and device) against
the same server, and the median sync by wall time is reported and judged: one sync of 20,000
records takes about a third of a second, and single syncs of the same code minutes apart
measured from 48,000 to 71,000 records/s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.report import Row
from bench.scenarios import data, seeding
from bench.scenarios.measure import (
    ClientProfile,
    Recorder,
    TimedTransport,
    median,
    median_run,
    only,
    peak_rss_mib,
    reset_own_peak,
)
from bench.scenarios.servers import bench_server
from client_sdk import SyncClient
from client_sdk.client import PULL_LIMIT  # the SDK's default page size

NAME = "initial_sync"
TITLE = "1 initial sync"
SIZES = (20_000, 100_000)
QUICK_SIZES = (2_000,)
TARGET_SIZE, TARGET_RATIO = 20_000, 2.0
REPEATS = 3  # fresh clients per size; the median sync by wall time is reported and judged


@dataclass(frozen=True)
class Run:
    seconds: float
    requests: list  # the pull requests, as TimedTransport recorded them
    pages: int
    client_mib: float | None


def floor_counts(quick: bool) -> tuple[int, ...]:
    return QUICK_SIZES if quick else SIZES


def run(ctx) -> list[Row]:
    rows = []
    for size in QUICK_SIZES if ctx.quick else SIZES:
        rows += _measure(ctx, size)
    return rows


def _measure(ctx, size: int) -> list[Row]:
    folder = ctx.folder(f"{NAME}-{size}")
    url = f"sqlite:///{folder / 'server.sqlite'}"
    engine = seeding.create_schema(url)
    territories = seeding.add_territories(engine, ["S1"])
    rep = seeding.add_reps(engine, territories, [("rep.s1@bench.example", "S1")])[0]
    ctx.log(f"{NAME}: seeding {size:,} accounts through import_records")
    _, seed_seconds = seeding.import_accounts(engine, data.accounts(rep.territory_id, size,
                                                                    label="S"))
    engine.dispose()
    with bench_server(ctx, folder, url) as server:
        runs = [_sync(ctx, server, rep, folder, size, number) for number in range(REPEATS)]
        server_mib = server.peak_rss_mib()
    return _rows(ctx, size, runs, seed_seconds, server_mib)


def _sync(ctx, server, rep, folder, size: int, number: int) -> Run:
    """One fresh client (its own replica and device) downloads the whole scope."""
    recorder = Recorder()
    client = SyncClient(folder / f"replica-{number + 1}.sqlite", server_url=server.url,
                        transport=TimedTransport(recorder), pull_limit=PULL_LIMIT)
    client.login(rep.email, seeding.PASSWORD, f"bench laptop {number + 1}")
    recorder.take()
    reset_own_peak()
    ctx.log(f"{NAME}: syncing {size:,} accounts, run {number + 1} of {REPEATS}")
    with ClientProfile(ctx.profile and number == 0, folder / "client-profile.txt"):
        started = time.perf_counter()
        report = client.sync()
        seconds = time.perf_counter() - started
    client_mib = peak_rss_mib()
    held = client.status().records
    client.close()
    if held != size + 1:  # the accounts and their territory
        raise RuntimeError(f"{NAME}: the replica holds {held} records, expected {size + 1}")
    return Run(seconds, only(recorder.take(), "/sync/pull"), report.pages, client_mib)


def _rows(ctx, size: int, runs: list[Run], seed_seconds: float, server_mib) -> list[Row]:
    run = median_run(runs, lambda r: r.seconds)
    server_ms = [p.server_ms for p in run.requests if p.server_ms is not None]
    http_seconds = sum(p.seconds for p in run.requests)
    ratio = ctx.floor.ratio(size, run.seconds)
    target = f"≤ {TARGET_RATIO:g}x floor" if size == TARGET_SIZE else ""
    met = ratio <= TARGET_RATIO if size == TARGET_SIZE else None
    every = ", ".join(f"{r.seconds:.2f}" for r in runs)
    # The SDK downloads the next page while it applies the last, so requests and applying
    # overlap: what is left of the wall time outside the requests is the client's own.
    ctx.note(f"{TITLE} ({size:,}): median of {len(runs)} syncs by wall time (each: {every} "
             f"s); {run.pages} pages; wall {run.seconds:.2f} s; HTTP requests "
             f"{http_seconds:.2f} s in all (server {sum(server_ms) / 1000:.2f} s); client "
             f"{max(run.seconds - http_seconds, 0):.2f} s outside the requests; "
             f"{sum(p.received for p in run.requests) / 1e6:.1f} MB received.")
    client_mib = max((r.client_mib for r in runs if r.client_mib is not None), default=None)
    return [
        Row(TITLE, f"{size:,}", "records/s end to end",
            f"{size / run.seconds:,.0f} ({run.seconds:.2f} s)", ratio, target, met, server_mib,
            client_mib),
        Row(TITLE, f"{size:,}", f"server time per page (up to {PULL_LIMIT:,} records)",
            f"median {median(server_ms):.1f} ms, max {max(server_ms, default=0):.1f} ms", None,
            "", None),
        Row(TITLE, f"{size:,}", "seeding via import_records (set-up)",
            f"{size / seed_seconds:,.0f} records/s", ctx.floor.ratio(size, seed_seconds)),
    ]
