"""The server's CPU per pushed create, in one process: for comparing two versions of the code.

    python -m bench.push_cpu [--batches N] [--size N]

Builds the production app on a fresh SQLite file (one rep, one territory), pushes two
warm-up batches of new accounts through Flask's test client, then `--batches` more, and
prints the CPU time (`time.thread_time`, so other load on the machine does not count, its
speed still does) per create: the engine, validation, SQLite and the Flask view, without
HTTP or a client. The push bodies are built before the clock starts.

Machine speed drifts too much for runs minutes apart to show a few per cent. Two ways round:
alternate the two checkouts run by run (PYTHONPATH=<checkout>) and compare medians, or count
instructions, which do not drift: run it under `valgrind --tool=callgrind`, with
`--bodies 8`, once with `--batches 0` and once with `--batches 6`, for each checkout; the
difference of the two totals, divided by 6 x 500, is the instructions per create. With
PYTHONHASHSEED=0 and `--separate-threads=yes` (the main thread's file, `...-01`), runs of the
same code agree within a few hundred instructions per create.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.scenarios import data, seeding
from sync.hlc import Clock
from sync.ids import new_id
from sync.protocol import Mutation, Op


def bodies(territory_id: str, count: int, size: int) -> list[bytes]:
    """`count` push bodies of `size` new accounts each, mutation ids counting from 1."""
    clock, mutation_id, out = Clock("bench"), 0, []
    for batch in range(count):
        mutations = []
        for record in data.accounts(territory_id, size, start=batch * size, label="C"):
            mutation_id += 1
            fields = {k: v for k, v in record.items() if k != "id"}
            mutations.append(Mutation(mutation_id, "account", new_id(), Op.CREATE,
                                      fields=fields, hlc=clock.now()).to_wire())
        out.append(json.dumps({"protocol": 1, "mutations": mutations}).encode())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.push_cpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40, help="measured batches (40)")
    parser.add_argument("--size", type=int, default=500, help="creates per batch (500)")
    parser.add_argument("--bodies", type=int, help="bodies to build (default: all needed); "
                        "the same for two runs whose instruction counts are compared")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fieldsync-push-cpu-",
                                     ignore_cleanup_errors=True) as folder:
        per_create = measure(Path(folder), args)
    if per_create:
        print(f"CPU per create over {len(per_create)} batches of {args.size}: median "
              f"{statistics.median(per_create):.1f} us, mean {statistics.mean(per_create):.1f} us")


def measure(folder: Path, args: argparse.Namespace) -> list[float]:
    """CPU microseconds per create of each measured batch."""
    from server import create_app

    url = f"sqlite:///{folder / 'server.sqlite'}"
    engine = seeding.create_schema(url)
    territories = seeding.add_territories(engine, ["P1"])
    rep = seeding.add_reps(engine, territories, [("rep.p1@bench.example", "P1")])[0]
    engine.dispose()
    app = create_app(env={"DATABASE_URL": url, "FIELDSYNC_ENV": "production",
                          "SCHEDULER_ENABLED": "0", "SECRET_KEY": new_id() + new_id()})
    client = app.test_client()
    session = client.post("/api/v1/auth/login", json={
        "email": rep.email, "password": seeding.PASSWORD, "device_name": "bench"}).get_json()
    headers = {"Authorization": f"Bearer {session['access_token']}",
               "Content-Type": "application/json"}
    pushes = bodies(rep.territory_id, args.bodies or args.batches + 2, args.size)
    seconds = []
    for index, body in enumerate(pushes[:args.batches + 2]):
        started = time.thread_time()
        answer = client.post("/api/v1/sync/push", data=body, headers=headers)
        if index >= 2:  # the first two warm the app up
            seconds.append(time.thread_time() - started)
        if answer.status_code != 200:
            raise SystemExit(f"push failed: {answer.status_code} {answer.data[:300]!r}")
    return [s / args.size * 1e6 for s in seconds]


if __name__ == "__main__":
    main()
