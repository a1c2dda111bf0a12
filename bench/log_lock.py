"""What the change-log append lock costs writers on PostgreSQL.

Every push takes one transaction-level advisory lock right before its change-log inserts,
numbers its changes from the head of the log and holds the lock until its commit
(sync/changelog.py), so commits that append to the log run one at a time. This measures
devices pushing account updates through the engine with that append ("lock on") and with an
unsafe one in its place ("lock off": numbers from the database sequence, no lock, so pulls
may skip changes that commit late; see tests/sync/test_pg_ordering.py). The engine's own
append cannot simply run without its lock: concurrent appends would take the same numbers.

Writers run as threads of one process and, since threads share one interpreter lock that
can hide the cost, also as separate processes (as gunicorn workers are). It prints a
markdown report and writes it to bench/results/log_lock.md.

Run from the repository root:  python -m bench.log_lock [--seconds 1.5] [--rounds 2]
It creates and drops a database of its own on the server that FIELDSYNC_TEST_PG_URL names
(as the tests do; postgresql+psycopg://postgres@127.0.0.1:5432/test by default).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import threading
import time
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa

from server.domain import make_engine
from server.models import SYNC_TABLES, Base
from sync import changelog
from sync.database import write_transaction
from sync.engine import SyncEngine
from sync.entities import ALL, Actor
from sync.protocol import Mutation, Op, Status
from tests.databases import postgres_database

THREADED_WRITERS = (1, 4, 8)
PROCESS_WRITERS = (8,)  # where one interpreter lock would hide the most
BATCHES = (1, 10)
ACCOUNTS_PER_WRITER = 40
START_DELAY = 0.3  # seconds for every writer to be ready before the clock starts
RESULTS = Path(__file__).parent / "results" / "log_lock.md"


# -- the two appends --------------------------------------------------------------------

def append_numbered_by_sequence(conn, tables, entries) -> list[int]:
    """An unsafe append, the baseline: numbers come from the database sequence as rows are
    inserted, without a lock, so a number taken earlier can commit later."""
    change = tables.change
    rows = [{"entity": e.entity, "record_id": e.record_id, "version": e.version,
             "deleted": e.deleted, "scope_keys": " ".join(sorted(e.keys)),
             "device_id": e.device_id, "created_at": e.created_at} for e in entries]
    inserted = conn.execute(
        change.insert().returning(change.c.seq, sort_by_parameter_order=True), rows)
    seqs = list(inserted.scalars())
    keys = [{"key": k, "seq": seq} for seq, e in zip(seqs, entries, strict=True) for k in e.keys]
    if keys:
        conn.execute(tables.change_key.insert(), keys)
    return seqs


def start_sequence_after_head(db: sa.Engine) -> None:
    """Let the log's sequence continue from the numbers the engine's append took."""
    with db.begin() as conn:
        conn.execute(sa.select(sa.func.setval(
            sa.func.pg_get_serial_sequence("sync_change", "seq"),
            changelog.head(conn, SYNC_TABLES))))


SWITCH = SimpleNamespace(lock=True)


class AppendTimes(threading.local):
    """How long each append of this thread took, in seconds."""

    def __init__(self):
        self.seconds: list[float] = []


APPENDS = AppendTimes()
_CONNECTED: dict[str, tuple[sa.Engine, SyncEngine]] = {}


def connect(url: str) -> tuple[sa.Engine, SyncEngine]:
    """This process's engines for `url`; the first call installs the append switch."""
    if url not in _CONNECTED:
        engine_append = changelog.append

        def append_as_switched(conn, *args):
            began = time.perf_counter()
            append = engine_append if SWITCH.lock else append_numbered_by_sequence
            seqs = append(conn, *args)
            APPENDS.seconds.append(time.perf_counter() - began)
            return seqs

        changelog.append = append_as_switched
        db = sa.create_engine(url, pool_size=max(THREADED_WRITERS) + 2)
        _CONNECTED[url] = db, make_engine("bench")
    return _CONNECTED[url]


# -- a writer --------------------------------------------------------------------------

@dataclass
class Device:
    """A device and its own accounts, so writers never wait on each other's rows."""

    actor: Actor
    versions: dict[str, int]
    next_mutation_id: int
    turn: int = 0

    def updates(self, batch: int) -> list[Mutation]:
        ids = sorted(self.versions)
        chosen = [ids[(self.turn + i) % len(ids)] for i in range(batch)]
        self.turn += batch
        first, self.next_mutation_id = self.next_mutation_id, self.next_mutation_id + batch
        return [Mutation(first + i, "account", record_id, Op.UPDATE, self.versions[record_id],
                         {"notes": f"visit {first + i}"}) for i, record_id in enumerate(chosen)]


@dataclass(frozen=True)
class Run:
    device: Device
    latencies: list[float]
    appends: list[float]
    finished_at: float


def push(db: sa.Engine, sync: SyncEngine, device: Device, mutations: list[Mutation]) -> None:
    with write_transaction(db) as conn:
        results = sync.push(conn, device.actor, mutations)
    for result in results:
        assert result.status is Status.APPLIED, result
        device.versions[result.record_id] = result.record.version


def write_until(url: str, device: Device, batch: int, lock: bool, start_at: float,
                until: float) -> Run:
    """Push batches from `start_at` to `until` (wall clock, shared by processes)."""
    db, sync = connect(url)
    SWITCH.lock = lock
    time.sleep(max(0.0, start_at - time.time()))
    latencies, APPENDS.seconds = [], []
    while time.time() < until:
        began = time.perf_counter()
        push(db, sync, device, device.updates(batch))
        latencies.append(time.perf_counter() - began)
    return Run(device, latencies, APPENDS.seconds, time.time())


def new_device(url: str, territory_id: str) -> Device:
    """A device with accounts of its own, created through the engine (not timed)."""
    db, sync = connect(url)
    actor = Actor(user_id=None, role="back_office", keys=frozenset({ALL}),
                  device_id=str(uuid.uuid4()))
    device = Device(actor, {}, ACCOUNTS_PER_WRITER + 1)
    creates = [Mutation(i + 1, "account", str(uuid.uuid4()), Op.CREATE, None,
                        {"territory_id": territory_id, "name": f"Account {i}"})
               for i in range(ACCOUNTS_PER_WRITER)]
    push(db, sync, device, creates)
    return device


# -- measuring -------------------------------------------------------------------------

@dataclass(frozen=True)
class Measurement:
    writers: int
    batch: int
    lock: bool
    seconds: float
    latencies: tuple[float, ...]
    appends: tuple[float, ...]

    @property
    def commits_per_s(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def mutations_per_s(self) -> float:
        return self.commits_per_s * self.batch

    def latency_ms(self, q: int) -> float:
        """The q-th percentile push latency (BEGIN to COMMIT done), in milliseconds."""
        return statistics.quantiles(self.latencies, n=100)[q - 1] * 1000

    @property
    def append_ms(self) -> float:
        """Mean time in changelog.append: the inserts, plus waiting for the lock if on."""
        return statistics.fmean(self.appends) * 1000

    def __add__(self, other: Measurement) -> Measurement:
        return Measurement(self.writers, self.batch, self.lock, self.seconds + other.seconds,
                           self.latencies + other.latencies, self.appends + other.appends)


def measure(pool: Executor, url: str, devices: list[Device], n: int, batch: int, lock: bool,
            seconds: float) -> Measurement:
    """The first `n` devices writing at once for `seconds`.

    Their state comes back from the workers (copies, when those are processes) and replaces
    theirs in `devices`, so mutation ids and base versions stay current.
    """
    SWITCH.lock = lock
    if not lock:
        start_sequence_after_head(connect(url)[0])
    start_at = time.time() + START_DELAY
    futures = [pool.submit(write_until, url, d, batch, lock, start_at, start_at + seconds)
               for d in devices[:n]]
    runs = [f.result() for f in futures]
    devices[:n] = [run.device for run in runs]
    elapsed = max(run.finished_at for run in runs) - start_at
    latencies = tuple(x for run in runs for x in run.latencies)
    appends = tuple(x for run in runs for x in run.appends)
    return Measurement(n, batch, lock, elapsed, latencies, appends)


def measure_all(pool: Executor, url: str, devices: list[Device], counts: tuple[int, ...],
                seconds: float, rounds: int) -> list[Measurement]:
    """Every (writers, batch) with the lock on and off, alternating which goes first."""
    merged: dict[tuple, Measurement] = {}
    for round_ in range(rounds):
        for n in counts:
            for batch in BATCHES:
                for lock in (True, False) if round_ % 2 == 0 else (False, True):
                    m = measure(pool, url, devices, n, batch, lock, seconds)
                    key = (n, batch, lock)
                    merged[key] = merged[key] + m if key in merged else m
    return [merged[key] for key in sorted(merged, key=lambda k: (k[0], k[1], not k[2]))]


def warm_up(pool: Executor, url: str, devices: list[Device], n: int) -> None:
    """Start `n` workers and open their connections before anything is timed."""
    measure(pool, url, devices, n, 1, True, 0.5)


def run(url: str, seconds: float, rounds: int) -> dict[str, list[Measurement]]:
    db, sync = connect(url)
    Base.metadata.create_all(db)
    territory = str(uuid.uuid4())
    with write_transaction(db) as conn:
        sync.write(conn, "territory", territory, Op.CREATE, {"code": "B", "name": "Bench"})
    devices = [new_device(url, territory) for _ in range(max(THREADED_WRITERS))]
    results = {}
    spawn = multiprocessing.get_context("spawn")
    for mode, pool, counts in [
        ("threads", ThreadPoolExecutor(max(THREADED_WRITERS)), THREADED_WRITERS),
        ("processes", ProcessPoolExecutor(max(PROCESS_WRITERS), mp_context=spawn),
         PROCESS_WRITERS),
    ]:
        with pool:
            warm_up(pool, url, devices, max(counts))
            results[mode] = measure_all(pool, url, devices, counts, seconds, rounds)
    return results


# -- the report ------------------------------------------------------------------------

def table(results: list[Measurement]) -> str:
    lines = ["| writers | batch | append lock | mutations/s | commits/s | p50 ms | p95 ms "
             "| in append ms |",
             "|---:|---:|:---|---:|---:|---:|---:|---:|"]
    by_key = {(m.writers, m.batch, m.lock): m for m in results}
    for (n, batch, lock), m in by_key.items():
        lines.append(f"| {n} | {batch} | {'on' if lock else 'off'} | {m.mutations_per_s:,.0f} "
                     f"| {m.commits_per_s:,.0f} | {m.latency_ms(50):.1f} "
                     f"| {m.latency_ms(95):.1f} | {m.append_ms:.1f} |")
        if not lock:
            lines.append(ratio_row(by_key[(n, batch, True)], m))
    return "\n".join(lines)


def ratio_row(on: Measurement, off: Measurement) -> str:
    ratios = [on.mutations_per_s / off.mutations_per_s, on.commits_per_s / off.commits_per_s,
              on.latency_ms(50) / off.latency_ms(50), on.latency_ms(95) / off.latency_ms(95),
              on.append_ms / off.append_ms]
    cells = " | ".join(f"**{r:.2f}**" for r in ratios)
    return f"| {on.writers} | {on.batch} | **on/off** | {cells} |"


def machine(url: str) -> str:
    db, _ = connect(url)
    with db.connect() as conn:
        settings = {name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                    for name in ("server_version", "synchronous_commit", "fsync")}
    return (f"{os.cpu_count()} cores ({platform.machine()}), PostgreSQL "
            f"{settings['server_version'].split()[0]} on the same host (fsync={settings['fsync']},"
            f" synchronous_commit={settings['synchronous_commit']}), Python "
            f"{platform.python_version()} with psycopg 3 and SQLAlchemy {sa.__version__}")


def report(results: dict[str, list[Measurement]], about_machine: str, args,
           load: tuple[float, float]) -> str:
    seconds, rounds = args.seconds, args.rounds
    return "\n".join([
        "# What the change-log append lock costs writers",
        "",
        f"Measured {date.today().isoformat()} with `python -m bench.log_lock` on {about_machine};"
        f" 1-minute load average {load[0]:.1f} before the run, {load[1]:.1f} after."
        + (f" {args.note}" if args.note else ""),
        "",
        # Judged by the load before the run: the load after includes the run's own writers.
        *([f"The host was busy with other work (load above its {os.cpu_count()} cores), so the"
           " absolute figures are low and noisy; the on/off ratios say more.", ""]
          if load[0] > (os.cpu_count() or 1) else []),
        f"Each writer is a device pushing batches of updates to its own {ACCOUNTS_PER_WRITER}"
        " accounts (so writers never wait on each other's rows) through `SyncEngine.push` in"
        f" `write_transaction`; {rounds} rounds of {seconds:g} s per configuration, lock on and"
        " off alternating which runs first. *Lock on* is the engine's append: the advisory"
        " lock, numbers from the head of the log, the lock held to the commit. *Lock off* is an"
        " unsafe baseline: numbers from the database sequence, no lock (pulls may then skip"
        " changes that commit late). Latency is one push, BEGIN to COMMIT done; *in append* is"
        " the mean time a push spends in `changelog.append`: its log writes, plus waiting for"
        " the lock when it is on.",
        "",
        "## Writers as threads of one process",
        "",
        table(results["threads"]),
        "",
        "## Writers as separate processes",
        "",
        table(results["processes"]),
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="per configuration and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--note", default="", help="a sentence to add to the report")
    args = parser.parse_args(argv)
    with postgres_database(prefix="fieldsync_bench") as url:
        try:
            load_before = os.getloadavg()[0]
            results = run(url, args.seconds, args.rounds)
            load = (load_before, os.getloadavg()[0])
            text = report(results, machine(url), args, load)
        finally:
            for db, _ in _CONNECTED.values():
                db.dispose()
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
