"""Run the fieldsync benchmarks and write the report.

    python -m bench.run [--quick] [--only NAME ...] [--profile] [--keep] [--output PATH]

From the repository root. Prints a markdown table (and progress on stderr) and writes the
report to bench/results/latest.md. NAME is one of: floor, initial_sync, bulk_push,
incremental_pull, concurrent_devices, attachments. See bench/README.md for what each one
measures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from bench import report
from bench.floor import Floor
from bench.scenarios import MODULES, Context, load

REPO = Path(__file__).resolve().parent.parent
NAMES = ("floor", *MODULES)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: the whole run takes a minute or two")
    parser.add_argument("--only", nargs="+", choices=NAMES, metavar="NAME",
                        help=f"run only these scenarios ({', '.join(NAMES)})")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the server's requests and the client; summaries are "
                             "left in the work folder (implies --keep)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder (databases, replicas, server logs)")
    parser.add_argument("--workdir", type=Path, help="work folder (default: a new temp dir)")
    parser.add_argument("--output", type=Path, default=report.RESULTS,
                        help="where to write the report (default: %(default)s)")
    return parser.parse_args(argv)


def run_scenarios(ctx: Context, names: list[str]) -> tuple[list[report.Row], list[str]]:
    rows, failed = [], []
    for name in names:
        module = load(name)
        for count in module.floor_counts(ctx.quick):
            ctx.floor.seconds(count)
    for name in names:
        ctx.log(f"== {name}")
        try:
            rows += load(name).run(ctx)
        except Exception as exc:  # one failed scenario must not hide the rest
            traceback.print_exc()
            failed.append(name)
            rows.append(report.Row(name, "", "FAILED", f"{type(exc).__name__}: {exc}"[:160]))
    return rows, failed


def floor_rows(floor: Floor) -> list[report.Row]:
    return [report.Row("5 floor", f"{count:,}", "sqlite3 executemany + json.dumps",
                       f"{count / seconds:,.0f} records/s ({seconds * 1000:,.1f} ms)", 1.0)
            for count, seconds in floor.measured().items()]


def _busy() -> bool:
    """Whether other work keeps the machine's cores busy. Asked before the scenarios start:
    at the end the load average counts the benchmark's own servers and devices too."""
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1) / 2
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    selected = args.only or list(NAMES)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fieldsync-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = Context(quick=args.quick, workdir=workdir, floor=Floor(workdir),
                  profile=args.profile)
    facts = report.machine(REPO)
    load_before = report.load_average()
    ctx.log(f"work folder {workdir}; load average {load_before}")
    busy = _busy()
    rows, failed = run_scenarios(ctx, [n for n in selected if n != "floor"])
    if "floor" in selected and not ctx.floor.measured():
        for count in (100, 2_000) if args.quick else (100, 10_000, 20_000, 100_000):
            ctx.floor.seconds(count)
    facts["mode"] = ("--quick (small sizes)" if args.quick else "full sizes") + (
        f"; only {', '.join(selected)}" if args.only else "")
    facts["load average (1/5/15 min)"] = (f"{load_before} at start, "
                                          f"{report.load_average()} at end")
    if busy:
        ctx.note("Other work kept the machine busy when the run started (1-minute load average "
                 "above half the cores), so absolute figures are provisional; compare ratios.")
    command = " ".join(["python -m bench.run", *(sys.argv[1:] if argv is None else argv)])
    text = report.render(title="fieldsync benchmarks", command=command, facts=facts,
                         rows=floor_rows(ctx.floor) + rows, notes=ctx.notes)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    ctx.log(f"report written to {args.output}")
    if args.keep or args.profile:
        ctx.log(f"work folder kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
