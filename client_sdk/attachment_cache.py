"""The device's cache of downloaded attachment bytes: files named by their sha256 in one
folder, kept within a size budget (least recently used first out).

A download goes to `<sha256>.part` and becomes `<sha256>` only once it hashes right, so a
cut-off download resumes from what the part holds (a Range request) and a corrupt one is
never served.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx

from client_sdk.errors import ServerError

DEFAULT_BUDGET = 256 * 1024 * 1024
PIECE = 256 * 1024

Opener = Callable[[int], AbstractContextManager[httpx.Response]]


class AttachmentCache:
    """Cached attachment files in `folder`, at most about `budget` bytes in all."""

    def __init__(self, folder: str | Path, budget: int = DEFAULT_BUDGET):
        self.folder, self.budget = Path(folder), budget
        self.folder.mkdir(parents=True, exist_ok=True)

    def get(self, sha256: str) -> Path | None:
        """The cached file of `sha256`, marked as just used, or None."""
        path = self.folder / sha256
        if not path.exists():
            return None
        path.touch()
        return path

    def put(self, sha256: str, pieces: Iterable[bytes]) -> Path:
        """Cache the bytes of `pieces` (they must hash to `sha256`); returns the file."""
        part = self.folder / f"{sha256}.part"
        with part.open("wb") as out:
            for piece in pieces:
                out.write(piece)
        return self._publish(sha256, part)

    def fetch(self, sha256: str, open_download: Opener) -> Path:
        """The cached file of `sha256`, downloaded first when missing: `open_download(start)`
        answers the content from byte `start` (206) or all of it (200). Raises what it
        raises (OfflineError: the part kept resumes next time) and ServerError when the
        bytes do not hash right."""
        if (cached := self.get(sha256)) is not None:
            return cached
        part = self.folder / f"{sha256}.part"
        start = part.stat().st_size if part.exists() else 0
        with open_download(start) as answer:
            _save(answer, part)
        return self._publish(sha256, part)

    def _publish(self, sha256: str, part: Path) -> Path:
        if _sha256(part) != sha256:
            part.unlink()
            raise ServerError(200, "content_hash_mismatch",
                              "the downloaded bytes do not hash to the attachment's sha256")
        path = self.folder / sha256
        os.replace(part, path)
        self.trim(keep=sha256)
        return path

    def keep_only(self, wanted: Iterable[str]) -> int:
        """Delete cached bytes (and parts) of any sha256 not in `wanted` (attachments no
        longer on the device); returns how many files went."""
        wanted = set(wanted)
        dropped = [p for p in self.folder.iterdir() if p.name.split(".")[0] not in wanted]
        for path in dropped:
            path.unlink(missing_ok=True)
        return len(dropped)

    def trim(self, keep: str | None = None) -> None:
        """Delete the least recently used files until the cache fits its budget (the file
        `keep` stays, even if it alone is larger)."""
        files = sorted((p for p in self.folder.iterdir() if not p.name.endswith(".part")),
                       key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for path in files:
            if total <= self.budget:
                break
            if path.name != keep:
                total -= path.stat().st_size
                path.unlink(missing_ok=True)

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir())


def _save(answer: httpx.Response, part: Path) -> None:
    # 206: the rest after what the part holds; 200: the whole (the part was stale).
    with part.open("ab" if answer.status_code == 206 else "wb") as out:
        for piece in answer.iter_bytes(PIECE):
            out.write(piece)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while piece := file.read(PIECE):
            digest.update(piece)
    return digest.hexdigest()
