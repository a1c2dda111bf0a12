"""Blobs as files in a directory (by default `<instance folder>/blobs`).

Layout: `objects/<first two hex digits>/<sha256>` for published blobs; `uploads/<sha256>.<length>`
with `.part` (the bytes), `.stored` (how many of them are durable, written by atomic rename)
and `.lock` (one appender at a time, by flock) for uploads. A blob appears under objects/
only by a rename of its verified, fsynced part, so nothing half-written is ever visible.
Bytes in a part beyond its `.stored` count (a chunk cut off by a crash, or refused) are
cut away before the next chunk is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from server.blobs import BlobMissing, OffsetMismatch, UploadBusy, UploadKey


class FileBlobStore:
    """A BlobStore on the local filesystem (see the module docstring for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._uploads = self.root / "uploads"
        for folder in (self._objects, self._uploads):
            folder.mkdir(parents=True, exist_ok=True)

    def _object(self, sha256: str) -> Path:
        return self._objects / sha256[:2] / sha256

    def _upload(self, upload: UploadKey, suffix: str) -> Path:
        return self._uploads / f"{upload.name}{suffix}"

    def size(self, sha256: str) -> int | None:
        try:
            return self._object(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self._object(sha256).open("rb")
        except FileNotFoundError:
            raise BlobMissing(f"no blob {sha256}") from None

    def stored(self, upload: UploadKey) -> int:
        try:
            return int(self._upload(upload, ".stored").read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def append(self, upload: UploadKey, offset: int, pieces: Iterable[bytes],
               verify: Callable[[], None]) -> int:
        with self._locked(upload):
            stored = self.stored(upload)
            if offset != stored:
                raise OffsetMismatch(stored)
            with self._upload(upload, ".part").open("ab") as part:
                part.truncate(stored)
                for piece in pieces:
                    part.write(piece)
                verify()
                part.flush()
                os.fsync(part.fileno())
                end = part.tell()
            _write_atomically(self._upload(upload, ".stored"), str(end))
            return end

    @contextlib.contextmanager
    def _locked(self, upload: UploadKey) -> Iterator[None]:
        # flock is released by the kernel when the process dies: a crash never leaves the
        # upload locked.
        with self._upload(upload, ".lock").open("a") as lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadBusy("another request is appending to this upload") from None
            yield

    def read_upload(self, upload: UploadKey) -> BinaryIO:
        return _Limited(self._upload(upload, ".part").open("rb"), self.stored(upload))

    def publish(self, upload: UploadKey) -> None:
        with self._locked(upload):
            part = self._upload(upload, ".part")
            if not part.exists():
                return  # another request published the same content meanwhile
            os.truncate(part, upload.length)
            target = self._object(upload.sha256)
            target.parent.mkdir(exist_ok=True)
            os.replace(part, target)
            _fsync_dir(target.parent)
        self.discard(upload)

    def discard(self, upload: UploadKey) -> None:
        for suffix in (".part", ".stored", ".lock"):
            self._upload(upload, suffix).unlink(missing_ok=True)

    def delete(self, sha256: str) -> None:
        self._object(sha256).unlink(missing_ok=True)

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        for path in self._objects.glob("??/*"):
            yield path.name, _mtime(path)

    def uploads(self) -> Iterator[tuple[UploadKey, datetime]]:
        for path in self._uploads.glob("*.part"):
            sha256, _, length = path.stem.partition(".")
            yield UploadKey(sha256, int(length)), _mtime(path)


class _Limited:
    """The first `limit` bytes of a file: a part may hold refused bytes after them."""

    def __init__(self, file: BinaryIO, limit: int):
        self._file, self._left = file, limit

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._file.read(size)
        self._left -= len(data)
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)
