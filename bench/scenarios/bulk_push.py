"""Scenario 2, bulk push: one client creates accounts offline, then pushes them in batches.

A rep's `SyncClient` (signed in and synced once) creates N new accounts with no network, then
`sync()` pushes them in batches of 500 to gunicorn (one worker) on a SQLite file. Measured:
mutations per second for the push phase as the client sees it and for the server alone, and
the first and last batches, to show whether pushing slows down as the tables grow. The
accounts get the SDK's own ids (time-ordered, sync.ids); that push is run three times, each
on a fresh server, and the median run is reported and judged. A last run gives them random
ids (the data's), to show what random ids cost the server's indexes.
"""

from __future__ import annotations

import gc
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

NAME = "bulk_push"
TITLE = "2 bulk push"
COUNT, QUICK_COUNT = 10_000, 2_000
BATCH = 500
WARM_UP = 50
RUNS = 3  # pushes of the judged run, each on a fresh server; the median is reported
TARGET_RATE = 10_000  # mutations per second
# "Not slowing as the table grows": the last quarter of the batches may take at most this
# much longer than the first quarter (server time, medians).
SLOWDOWN_LIMIT = 1.25


def floor_counts(quick: bool) -> tuple[int, ...]:
    return (QUICK_COUNT if quick else COUNT,)


def run(ctx) -> list[Row]:
    count = QUICK_COUNT if ctx.quick else COUNT
    # A push of 10,000 lasts about a second, and this machine's speed can change by half
    # within one: the judged push is run RUNS times, each on a fresh server, and the median
    # by push time is reported (every run's rate is in the notes).
    runs = [_push(ctx, count, given_ids=False, attempt=n) for n in range(RUNS)]
    judged = median_run(runs, lambda r: r.seconds)
    every = ", ".join(f"{count / r.seconds:,.0f}" for r in runs)
    ctx.note(f"{TITLE} (the SDK's time-ordered ids): median of {RUNS} pushes, each on a fresh "
             f"server, by push time (each: {every} mutations/s); {judged.notes}")
    rows = _rows(ctx, count, judged)
    # The same push with random ids (the data's own, uuid5), as records carry when imported
    # with foreign ids or made by a client that ignores the protocol's SHOULD (version 7).
    # Shown, not judged: one run.
    random_ids = _push(ctx, count, given_ids=True)
    ctx.note(f"{TITLE} (random ids): {random_ids.notes}")
    return rows + _rows(ctx, count, random_ids, label=", random ids", judged=False)


@dataclass(frozen=True)
class PushRun:
    seconds: float  # the push phase, as the client saw it
    pushes: list  # its push requests (Exchange)
    server_mib: float
    client_mib: float
    notes: str


def _push(ctx, count: int, *, given_ids: bool, attempt: int = 0) -> PushRun:
    name = f"{NAME}-{count}{'-random-ids' if given_ids else ''}{f'-{attempt}' if attempt else ''}"
    folder = ctx.folder(name)
    url = f"sqlite:///{folder / 'server.sqlite'}"
    engine = seeding.create_schema(url)
    territories = seeding.add_territories(engine, ["P1"])
    rep = seeding.add_reps(engine, territories, [("rep.p1@bench.example", "P1")])[0]
    engine.dispose()
    with bench_server(ctx, folder, url) as server:
        recorder = Recorder()
        client = SyncClient(folder / "replica.sqlite", server_url=server.url,
                            transport=TimedTransport(recorder), push_batch=BATCH)
        client.login(rep.email, seeding.PASSWORD, "bench laptop")
        _create_offline(client, rep.territory_id, WARM_UP, label="W")
        client.sync()  # warms the server's push path, so the first batch is not a cold start
        ctx.log(f"{NAME}: creating {count:,} accounts offline")
        offline = _create_offline(client, rep.territory_id, count, given_ids=given_ids)
        recorder.take()
        reset_own_peak()
        # The offline creation left the garbage collector's counts due: collect now, or a
        # full collection (70 ms, walking the benchmark process's own objects too) falls
        # inside the measured push. What the push itself allocates is still collected in it.
        gc.collect()
        ctx.log(f"{NAME}: pushing {count:,} mutations in batches of {BATCH}")
        with ClientProfile(ctx.profile, folder / "client-profile.txt"):
            started = time.perf_counter()
            report = client.sync()
            finished = time.perf_counter()
        client_mib, server_mib = peak_rss_mib(), server.peak_rss_mib()
        client.close()
    if report.applied != count or report.rejected or report.conflicts:
        raise RuntimeError(f"{NAME}: {report}")
    exchanges = recorder.take()
    pushes, pulls = only(exchanges, "/sync/push"), only(exchanges, "/sync/pull")
    seconds = (pulls[0].started if pulls else finished) - started
    notes = (f"{len(pushes)} batches; the sync that pushed them then pulled the "
             f"{report.pulled:,} changes back in {finished - started - seconds:.2f} s; "
             f"creating the {count:,} accounts offline took {offline:.2f} s "
             f"({count / offline:,.0f}/s, one local transaction each).")
    return PushRun(seconds, pushes, server_mib, client_mib, notes)


def _create_offline(client: SyncClient, territory_id: str, count: int, *,
                    label: str = "P", given_ids: bool = False) -> float:
    """Create `count` accounts offline; their ids are the SDK's own (time-ordered) unless
    `given_ids`, then the data's (random)."""
    started = time.perf_counter()
    for record in data.accounts(territory_id, count, label=label + ("R" if given_ids else "")):
        fields = {k: v for k, v in record.items() if k != "id"}
        client.create("account", fields, record_id=record["id"] if given_ids else None)
    return time.perf_counter() - started


def _rows(ctx, count: int, run: PushRun, *, label: str = "", judged: bool = True) -> list[Row]:
    server_ms = [p.server_ms for p in run.pushes]
    rate = count / run.seconds
    edge = max(1, len(server_ms) // 4)
    first, last = median(server_ms[:edge]), median(server_ms[-edge:])
    size = f"{count:,}"
    return [
        Row(TITLE, size, f"mutations/s, push phase end to end (batches of {BATCH}){label}",
            f"{rate:,.0f} ({run.seconds:.2f} s)", ctx.floor.ratio(count, run.seconds),
            f"≥ {TARGET_RATE:,}/s" if judged else "", rate >= TARGET_RATE if judged else None,
            run.server_mib, run.client_mib),
        Row(TITLE, size, f"mutations/s, server time only{label}",
            f"{count / (sum(server_ms) / 1000):,.0f} ({sum(server_ms) / 1000:.2f} s)",
            ctx.floor.ratio(count, sum(server_ms) / 1000)),
        Row(TITLE, size, f"first → last batches (server, median of {edge}){label}",
            f"{BATCH / first * 1000:,.0f}/s ({first:.0f} ms) → "
            f"{BATCH / last * 1000:,.0f}/s ({last:.0f} ms)", None,
            f"last ≤ {SLOWDOWN_LIMIT:g}x first" if judged else "",
            last <= SLOWDOWN_LIMIT * first if judged else None),
    ]
