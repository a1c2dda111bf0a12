"""Blobs in the database (tables in server.models.blobs), for several hosts sharing the load.

An upload's bytes are rows of at most ROW_BYTES in blob_chunk under the upload's key; a
chunk's rows and the upload's new stored length commit in one transaction, after the
chunk's checksum was accepted. Publishing re-keys the rows to the content's sha256 and adds
its blob_content row in one transaction: a reader sees all of the blob or none of it.
Meant for PostgreSQL (where a chunk's transaction locks only its upload's row); it works on
SQLite too, where it holds the database's write lock while a chunk arrives.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

import sqlalchemy as sa

from server.blobs import BlobMissing, OffsetMismatch, UploadBusy, UploadKey
from server.models.blobs import blob_chunk, blob_content, blob_upload
from sync.database import read_transaction, write_transaction
from sync.sqltypes import utcnow

# One row per MiB: a 20 MB photo is 20 rows, and a reader holds at most one row in memory.
ROW_BYTES = 1024 * 1024
# PostgreSQL: lock_not_available (the upload's row is locked, NOWAIT), unique_violation
# (another request created the upload's row first).
BUSY_STATES = frozenset({"55P03", "23505"})


class DatabaseBlobStore:
    """A BlobStore in the database behind `engine` (see the module docstring)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def size(self, sha256: str) -> int | None:
        with read_transaction(self.engine) as conn:
            return conn.execute(sa.select(blob_content.c.size).where(
                blob_content.c.sha256 == sha256)).scalar()

    def open(self, sha256: str) -> io.BufferedReader:
        size = self.size(sha256)
        if size is None:
            raise BlobMissing(f"no blob {sha256}")
        return io.BufferedReader(ChunkReader(self.engine, sha256, size), ROW_BYTES)

    def stored(self, upload: UploadKey) -> int:
        with read_transaction(self.engine) as conn:
            return conn.execute(sa.select(blob_upload.c.stored).where(
                blob_upload.c.key == upload.name)).scalar() or 0

    def append(self, upload: UploadKey, offset: int, pieces: Iterable[bytes],
               verify: Callable[[], None]) -> int:
        try:
            with write_transaction(self.engine) as conn:
                stored = self._lock_upload(conn, upload)
                if offset != stored:
                    raise OffsetMismatch(stored)
                conn.execute(sa.delete(blob_chunk).where(blob_chunk.c.key == upload.name,
                                                         blob_chunk.c.position >= stored))
                end = self._insert_rows(conn, upload.name, stored, pieces)
                verify()
                conn.execute(sa.update(blob_upload).where(blob_upload.c.key == upload.name)
                             .values(stored=end, updated_at=utcnow()))
                return end
        except (sa.exc.OperationalError, sa.exc.IntegrityError) as exc:
            if getattr(exc.orig, "sqlstate", None) not in BUSY_STATES:
                raise
            raise UploadBusy("another request is appending to this upload") from exc

    def _lock_upload(self, conn: sa.Connection, upload: UploadKey) -> int:
        stored = conn.execute(sa.select(blob_upload.c.stored).where(
            blob_upload.c.key == upload.name).with_for_update(nowait=True)).scalar()
        if stored is None:
            conn.execute(sa.insert(blob_upload).values(
                key=upload.name, length=upload.length, stored=0, updated_at=utcnow()))
            return 0
        return stored

    @staticmethod
    def _insert_rows(conn: sa.Connection, key: str, position: int,
                     pieces: Iterable[bytes]) -> int:
        for row in _rows(pieces, ROW_BYTES):
            conn.execute(sa.insert(blob_chunk).values(key=key, position=position, data=row))
            position += len(row)
        return position

    def read_upload(self, upload: UploadKey) -> io.BufferedReader:
        return io.BufferedReader(ChunkReader(self.engine, upload.name, self.stored(upload)),
                                 ROW_BYTES)

    def publish(self, upload: UploadKey) -> None:
        with write_transaction(self.engine) as conn:
            if self._lock_upload(conn, upload) != upload.length:
                return  # published (or discarded) meanwhile
            chunks = blob_chunk.c
            staged = sa.and_(chunks.key == upload.name, chunks.position < upload.length)
            if conn.execute(sa.select(blob_content.c.size).where(
                    blob_content.c.sha256 == upload.sha256)).first() is None:
                conn.execute(sa.update(blob_chunk).where(staged).values(key=upload.sha256))
                conn.execute(sa.insert(blob_content).values(
                    sha256=upload.sha256, size=upload.length, created_at=utcnow()))
            self._discard(conn, upload)

    def discard(self, upload: UploadKey) -> None:
        with write_transaction(self.engine) as conn:
            self._discard(conn, upload)

    @staticmethod
    def _discard(conn: sa.Connection, upload: UploadKey) -> None:
        conn.execute(sa.delete(blob_chunk).where(blob_chunk.c.key == upload.name))
        conn.execute(sa.delete(blob_upload).where(blob_upload.c.key == upload.name))

    def delete(self, sha256: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(sa.delete(blob_content).where(blob_content.c.sha256 == sha256))
            conn.execute(sa.delete(blob_chunk).where(blob_chunk.c.key == sha256))

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        with read_transaction(self.engine) as conn:
            rows = conn.execute(sa.select(blob_content.c.sha256, blob_content.c.created_at)
                                ).all()
        return iter([(row.sha256, row.created_at) for row in rows])

    def uploads(self) -> Iterator[tuple[UploadKey, datetime]]:
        with read_transaction(self.engine) as conn:
            rows = conn.execute(sa.select(blob_upload)).all()
        return iter([(UploadKey(row.key.partition(".")[0], row.length), row.updated_at)
                     for row in rows])


def _rows(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """`pieces` regrouped into rows of `size` bytes (the last one shorter)."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


class ChunkReader(io.RawIOBase):
    """A seekable reader of the rows stored under `key`, one row fetched at a time (a
    short transaction each: a slow download holds no connection)."""

    def __init__(self, engine: sa.Engine, key: str, size: int):
        super().__init__()
        self._engine, self._key, self._size = engine, key, size
        self._position = 0
        self._row_start, self._row = 0, b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer) -> int:
        if self._position >= self._size:
            return 0
        if not self._row_start <= self._position < self._row_start + len(self._row):
            self._fetch_row()
        start = self._position - self._row_start
        data = self._row[start:start + min(len(buffer), self._size - self._position)]
        buffer[:len(data)] = data
        self._position += len(data)
        return len(data)

    def _fetch_row(self) -> None:
        chunks = blob_chunk.c
        with read_transaction(self._engine) as conn:
            row = conn.execute(sa.select(chunks.position, chunks.data).where(
                chunks.key == self._key, chunks.position <= self._position)
                .order_by(chunks.position.desc()).limit(1)).first()
        if row is None:
            raise BlobMissing(f"no bytes stored under {self._key}")
        self._row_start, self._row = row.position, bytes(row.data)
