"""The benchmark report: the machine it ran on, one markdown table, and notes."""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "latest.md"
COLUMNS = ("scenario", "size", "measure", "value", "x floor", "target", "met",
           "server peak MiB", "client peak MiB")


@dataclass(frozen=True)
class Row:
    """One measured figure. `met` is True/False against `target`, None when there is none."""

    scenario: str
    size: str
    measure: str
    value: str
    floor_ratio: float | None = None
    target: str = ""
    met: bool | None = None
    server_mib: float | None = None
    client_mib: float | None = None

    def cells(self) -> list[str]:
        met = {True: "yes", False: "**no**", None: ""}[self.met]
        return [self.scenario, self.size, self.measure, self.value, _number(self.floor_ratio),
                self.target, met, _number(self.server_mib, 0), _number(self.client_mib, 0)]


def _number(value: float | None, places: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.{places}f}"


def table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


# -- the machine ----------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def postgres_version() -> str:
    """The version of the PostgreSQL server the concurrency scenario uses."""
    import sqlalchemy as sa

    from tests.databases import DEFAULT_PG_URL

    url = os.environ.get("FIELDSYNC_TEST_PG_URL", DEFAULT_PG_URL)
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
        engine.dispose()
        return str(version)
    except Exception as exc:  # the header says why instead of failing the run
        return f"unavailable ({type(exc).__name__})"


def git_revision(repo: Path) -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=repo, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty.strip() else "")


def machine(repo: Path) -> dict[str, str]:
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": f"{cores} ({usable} usable by this process)",
        "memory": memory_gib(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version(),
        "os": platform.platform(),
        "revision": git_revision(repo),
    }


def render(*, title: str, command: str, facts: dict[str, str], rows: Sequence[Row],
           notes: Sequence[str]) -> str:
    header = "\n".join(f"- **{name}**: {value}" for name, value in facts.items())
    body = "\n".join(f"- {note}" for note in notes)
    return (f"# {title}\n\n`{command}`\n\n{header}\n\n{table(rows)}\n\n## Notes\n\n{body}\n")
