"""The benchmark scenarios: one module each, each with `NAME` and `run(context) -> rows`."""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.floor import Floor

# In the order they run; the floor (scenario 5) is measured first, by the runner.
MODULES = ("initial_sync", "bulk_push", "incremental_pull", "concurrent_devices", "attachments")


@dataclass
class Context:
    """What every scenario gets: the size switch, a work folder, the floor and the notes."""

    quick: bool
    workdir: Path
    floor: Floor
    profile: bool = False
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def folder(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed:7.1f}s] {message}", file=sys.stderr, flush=True)

    def note(self, message: str) -> None:
        self.notes.append(message)


def load(name: str) -> ModuleType:
    if name not in MODULES:
        raise KeyError(name)
    return importlib.import_module(f"bench.scenarios.{name}")
