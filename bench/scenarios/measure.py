"""Measuring: HTTP exchanges as the client sees them (with the server's own time), percentiles
and peak memory of this process and of server processes.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")

SERVER_TIMING = "server-timing"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Exchange:
    """One HTTP request: when it started, how long it took end to end (body included)."""

    method: str
    path: str
    started: float
    seconds: float
    status: int  # 0 when the request failed before an answer
    server_ms: float | None  # the view's own time, from the bench app's Server-Timing header
    sent: int
    received: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Recorder:
    """A thread-safe list of exchanges that several transports can share."""

    def __init__(self) -> None:
        self._items: list[Exchange] = []
        self._lock = threading.Lock()

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._items.append(exchange)

    def take(self) -> list[Exchange]:
        """Everything recorded so far; the recorder starts empty again."""
        with self._lock:
            items, self._items = self._items, []
        return items


class TimedTransport(httpx.BaseTransport):
    """An httpx transport over real sockets that times each exchange, body included."""

    def __init__(self, recorder: Recorder | None = None):
        self.recorder = recorder or Recorder()
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        sent = len(request.content)
        try:
            response = self._inner.handle_request(request)
            response.read()  # the body belongs to the exchange's time
        except httpx.TransportError:
            self.recorder.add(Exchange(request.method, request.url.path, started,
                                       time.perf_counter() - started, 0, None, sent, 0))
            raise
        seconds = time.perf_counter() - started
        self.recorder.add(Exchange(request.method, request.url.path, started, seconds,
                                   response.status_code, server_ms(response), sent,
                                   len(response.content)))
        return response

    def close(self) -> None:
        self._inner.close()


def server_ms(response: httpx.Response) -> float | None:
    """The `app;dur=` figure of a Server-Timing header, in milliseconds."""
    for part in response.headers.get(SERVER_TIMING, "").split(","):
        name, _, params = part.strip().partition(";")
        if name == "app" and params.startswith("dur="):
            return float(params[4:])
    return None


def only(exchanges: Iterable[Exchange], suffix: str) -> list[Exchange]:
    return [e for e in exchanges if e.path.endswith(suffix)]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median_run(runs: Sequence[T], key: Callable[[T], float]) -> T:
    """The run whose `key` is the median (of an even number, the upper middle one): the run
    a repeated scenario reports and judges."""
    return sorted(runs, key=key)[len(runs) // 2]


def median(values: Sequence[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# -- memory ------------------------------------------------------------------------------


def _status_kib(pid: int | str, field: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def peak_rss_mib(pid: int | str = "self") -> float | None:
    """A process's peak resident set size (VmHWM) in MiB; None when it cannot be read."""
    kib = _status_kib(pid, "VmHWM")
    return None if kib is None else kib / 1024


def reset_own_peak() -> bool:
    """Start this process's peak RSS afresh (Linux: write 5 to clear_refs).

    Lets one process report a peak per scenario; returns False where the kernel refuses,
    and the figure then covers everything since the process started.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def descendants(pid: int) -> list[int]:
    """The process ids below `pid` (children, their children, ...)."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        try:
            tasks = Path(f"/proc/{parent}/task").iterdir()
            children = [int(c) for t in tasks for c in (t / "children").read_text().split()]
        except OSError:
            continue
        found += children
        queue += children
    return found


# -- processor time ------------------------------------------------------------------------


def cpu_seconds(pid: int | str = "self") -> float | None:
    """User plus system processor seconds a process has used (all its threads); None when
    it cannot be read (it has exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """Processor seconds the whole machine spent busy (every process, every core)."""
    numbers = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = numbers[3] + numbers[4]  # idle and iowait
    return (sum(numbers[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Processor seconds used by named groups of processes between `start()` and `stop()`.

    `groups` maps a name to a function returning the group's pids at that moment; a process
    seen only at the stop is counted from zero (it started in between), one that exited in
    between is lost, so groups should be long-lived processes (server workers, pooled
    database connections). The machine's total says how much else was running.
    """

    def __init__(self, groups: Mapping[str, Callable[[], Iterable[int | str]]]):
        self.groups = groups
        self._start: dict[str, dict] = {}
        self._machine = 0.0
        self._wall = 0.0

    def start(self) -> None:
        self._start = {name: self._read(pids()) for name, pids in self.groups.items()}
        self._machine, self._wall = machine_busy_seconds(), time.monotonic()

    def stop(self) -> dict[str, float]:
        """Seconds per group, plus `machine` (all processes) and `wall`."""
        used = {}
        for name, pids in self.groups.items():
            before, after = self._start.get(name, {}), self._read(pids())
            used[name] = sum(after[p] - before.get(p, 0.0) for p in after)
        used["machine"] = machine_busy_seconds() - self._machine
        used["wall"] = time.monotonic() - self._wall
        return used

    @staticmethod
    def _read(pids: Iterable[int | str]) -> dict:
        return {p: s for p in pids if (s := cpu_seconds(p)) is not None}


# -- profiles ------------------------------------------------------------------------------


def write_profile_summary(stats_files: Sequence[Path], out: Path, *, limit: int = 30) -> Path:
    """Merge cProfile dumps and write the top functions by own and cumulative time.

    Dumps of processes that profiled nothing (a worker that served no request) are skipped:
    pstats refuses empty ones.
    """
    import io
    import marshal
    import pstats

    buffer = io.StringIO()
    stats = pstats.Stats(stream=buffer)
    for path in stats_files:
        if marshal.loads(Path(path).read_bytes()):
            stats.add(str(path))
    stats.strip_dirs()
    for order in ("tottime", "cumulative"):
        buffer.write(f"\n==== by {order} ====\n")
        stats.sort_stats(order).print_stats(limit)
    out.write_text(buffer.getvalue())
    return out


class ClientProfile:
    """cProfile around in-process (client) work when enabled; a no-op otherwise."""

    def __init__(self, enabled: bool, out: Path):
        import cProfile

        self.out = out
        self._profile = cProfile.Profile() if enabled else None

    def __enter__(self) -> ClientProfile:
        if self._profile is not None:
            self._profile.enable()
        return self

    def __exit__(self, *exc) -> None:
        if self._profile is None:
            return
        self._profile.disable()
        dump = self.out.with_suffix(".pstats")
        self._profile.dump_stats(dump)
        write_profile_summary([dump], self.out)
