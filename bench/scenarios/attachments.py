"""Scenario 6, attachments: a technician's photo uploaded and downloaded as bytes.

A technician's `SyncClient` attaches a file of N bytes (not compressible: random) to a work
order, then `sync()` pushes the record and uploads the bytes (4 MiB chunks, docs/protocol.md
§14); then the cache is emptied and `attachments.open()` downloads them again. Both are
compared with the floor of a plain file copy of the same file (`shutil.copyfile`, median of
3) measured in the same run. Each size runs on its own fresh server (gunicorn, one worker),
so the server's peak RSS of two sizes can be compared: streamed, it must not grow with the
file. Run on the filesystem blob store (server database: SQLite) and on the database blob
store (server database: PostgreSQL, as for several hosts).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from bench.report import Row
from bench.scenarios import seeding
from bench.scenarios.measure import Recorder, TimedTransport, median, only
from bench.scenarios.servers import bench_server
from client_sdk import SyncClient
from client_sdk.field import FieldActions
from server.domain import import_records
from server.models import Role
from server.services import users
from sync.database import write_transaction
from sync.ids import new_id
from tests.databases import postgres_database

NAME = "attachments"
TITLE = "6 attachments"
MiB = 1024 * 1024
SIZES = (5 * MiB, 20 * MiB)
QUICK_SIZES = (1 * MiB, 4 * MiB)
TARGET_SIZE, TARGET_RATIO = 20 * MiB, 3.0
STORES = ("filesystem", "database")
TECH_EMAIL = "tech@bench.example"


@dataclass(frozen=True)
class Run:
    size: int
    upload_seconds: float
    download_seconds: float
    copy_seconds: float
    server_mib: float | None
    upload_server_ms: float


def floor_counts(quick: bool) -> tuple[int, ...]:
    return ()  # this scenario's floor is a file copy, measured here


def run(ctx) -> list[Row]:
    rows = []
    for store in STORES:
        runs = []
        for size in QUICK_SIZES if ctx.quick else SIZES:
            with _database(ctx, store, size) as url:
                runs.append(_measure(ctx, store, url, size))
        rows += _rows(ctx, store, runs)
    return rows


@contextlib.contextmanager
def _database(ctx, store: str, size: int):
    if store == "database":
        with postgres_database(prefix="fieldsync_bench") as url:
            yield url
    else:
        yield f"sqlite:///{ctx.folder(f'{NAME}-{store}-{size}') / 'server.sqlite'}"


def _seed(url: str) -> str:
    """A technician with one work order; returns the work order's id."""
    engine = seeding.create_schema(url)
    territory = seeding.add_territories(engine, ["T1"])["T1"]
    with Session(engine) as session:
        tech = users.create_user(session, email=TECH_EMAIL, name="tech", role=Role.TECHNICIAN,
                                 password=seeding.PASSWORD, territory_codes=[],
                                 hash_method=seeding.HASH_METHOD)
        session.commit()
        tech_id = tech.id
    account, work_order = new_id(), new_id()
    with write_transaction(engine) as conn:
        import_records(conn, "account", [{"id": account, "territory_id": territory,
                                          "name": "Bench Café"}])
        import_records(conn, "work_order", [{
            "id": work_order, "account_id": account, "technician_id": tech_id,
            "title": "Compressor", "status": "dispatched"}])
    engine.dispose()
    return work_order


def _measure(ctx, store: str, url: str, size: int) -> Run:
    folder = ctx.folder(f"{NAME}-{store}-{size}")
    work_order = _seed(url)
    photo = folder / "photo.jpg"
    photo.write_bytes(os.urandom(size))
    copy_seconds = _copy_floor(photo, folder / "copy.jpg")
    env = {"BLOB_STORE": store, "BLOB_DIR": str(folder / "blobs"),
           "ATTACHMENT_MAX_BYTES": str(64 * MiB)}
    with bench_server(ctx, folder, url, env=env) as server:
        recorder = Recorder()
        client = SyncClient(folder / "replica.sqlite", server_url=server.url,
                            transport=TimedTransport(recorder))
        client.login(TECH_EMAIL, seeding.PASSWORD, "bench tablet")
        client.sync()
        attachment = FieldActions(client).attach(work_order, photo)
        recorder.take()
        ctx.log(f"{NAME}: {store} store, uploading {size / MiB:.0f} MiB")
        upload = _timed(client.sync)
        server_ms = sum(e.server_ms or 0 for e in only(recorder.take(), "/upload"))
        client.attachments.cache.keep_only(())
        ctx.log(f"{NAME}: {store} store, downloading {size / MiB:.0f} MiB")
        download = _timed(lambda: client.attachments.open(attachment))
        if _sha256(client.attachments.open(attachment)) != _sha256(photo):
            raise RuntimeError(f"{NAME}: the downloaded bytes differ from the photo")
        client.close()
        server_mib = server.peak_rss_mib()
    return Run(size, upload, download, copy_seconds, server_mib, server_ms)


def _copy_floor(source: Path, target: Path) -> float:
    seconds = []
    for _ in range(3):
        target.unlink(missing_ok=True)
        seconds.append(_timed(lambda: shutil.copyfile(source, target)))
    return median(seconds)


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _rows(ctx, store: str, runs: list[Run]) -> list[Row]:
    rows = []
    for run in runs:
        mb = run.size / 1e6
        judged = run.size == TARGET_SIZE
        target = f"≤ {TARGET_RATIO:g}x floor" if judged else ""
        label = f"{run.size / MiB:.0f} MiB, {store}"
        for what, seconds in (("upload", run.upload_seconds),
                              ("download", run.download_seconds)):
            ratio = seconds / run.copy_seconds
            rows.append(Row(TITLE, label, f"{what} MB/s (floor: file copy "
                            f"{mb / run.copy_seconds:,.0f} MB/s)",
                            f"{mb / seconds:,.1f} ({seconds * 1000:,.0f} ms)", ratio, target,
                            ratio <= TARGET_RATIO if judged else None, run.server_mib))
        ctx.note(f"{TITLE} ({label}): upload {run.upload_seconds * 1000:,.0f} ms end to end "
                 f"(sync() pushing the record, then the chunks), of which the server spent "
                 f"{run.upload_server_ms:,.0f} ms in the upload requests; download "
                 f"{run.download_seconds * 1000:,.0f} ms; copy floor "
                 f"{run.copy_seconds * 1000:,.1f} ms; server peak RSS "
                 f"{run.server_mib or 0:,.0f} MiB.")
    peaks = [r.server_mib for r in runs if r.server_mib is not None]
    if len(peaks) == len(runs) > 1:
        growth = peaks[-1] - peaks[0]
        ctx.note(f"{TITLE} ({store}): server peak RSS {peaks[0]:,.0f} MiB at "
                 f"{runs[0].size / MiB:.0f} MiB, {peaks[-1]:,.0f} MiB at "
                 f"{runs[-1].size / MiB:.0f} MiB: {growth:+,.1f} MiB for "
                 f"{(runs[-1].size - runs[0].size) / MiB:.0f} MiB more file.")
    return rows
