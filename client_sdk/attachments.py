"""Attachment bytes on the device: queued durably with their record, uploaded after it
syncs, downloaded on demand into a cache with a size budget (docs/protocol.md §14).

`attach_file` / `attach_bytes` write the attachment record (to the outbox, as any write)
and its bytes (to the replica's `attachment_bytes` table, in rows of ROW_BYTES) in one local
transaction: the bytes cannot be lost while the record waits, across restarts. Once the
server acknowledged the record, `upload_pending` sends what the server lacks, resuming
from its offset; the queued bytes are dropped when the server holds them all, or when the
record is gone from the device (rejected, deleted, out of scope).
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from client_sdk.attachment_cache import AttachmentCache
from client_sdk.attachment_http import AttachmentHttp
from client_sdk.errors import LocalValidationError, ServerError
from client_sdk.store import LocalStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS attachment_upload (
    id TEXT PRIMARY KEY,          -- the attachment record
    sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,   -- bytes the server holds, as last heard
    error TEXT                    -- why the server refused it for good (kept for the user)
);
CREATE TABLE IF NOT EXISTS attachment_bytes (
    id TEXT NOT NULL, position INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (id, position)
);
"""
ROW_BYTES = 1024 * 1024
# 4 MiB per PATCH: a lost connection costs at most 4 MiB again, and a 20 MB photo takes
# five requests (the server takes up to MAX_CONTENT_LENGTH, 10 MiB by default).
UPLOAD_CHUNK = 4 * 1024 * 1024
# Refusals that sending again cannot mend: the record's hash, size or type is wrong.
FINAL_CODES = frozenset({"content_hash_mismatch", "attachment_too_large", "no_content_hash",
                         "upload_exceeds_length"})
CHECKSUM_RETRIES = 3


@dataclass(frozen=True)
class Upload:
    id: str
    sha256: str
    size: int
    sent: int
    error: str | None


class Attachments:
    """The attachment bytes of one SyncClient (its `attachments` attribute). `chunk_size`
    is the bytes sent per upload request."""

    def __init__(self, store: LocalStore, http: AttachmentHttp, cache: AttachmentCache, *,
                 chunk_size: int = UPLOAD_CHUNK):
        self._store, self._http, self.cache = store, http, cache
        self.chunk_size = chunk_size
        with store.transaction() as db:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    # -- queueing ------------------------------------------------------------------------

    def attach_file(self, field, wo_id: str, path: str | Path, *, kind: str = "photo",
                    content_type: str | None = None) -> str:
        """Attach the file at `path` to a work order: its record and bytes are queued in
        one local transaction. `field` is the client's FieldActions. Returns the record id.
        Raises LocalValidationError (as FieldActions.add_attachment), or when the file
        changes while it is read."""
        path = Path(path)
        media = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with path.open("rb") as file:
            sha256, size = _digest(file)
        with path.open("rb") as file:
            return self._queue(field, wo_id, kind, path.name, media, sha256, size, file)

    def attach_bytes(self, field, wo_id: str, data: bytes, *, filename: str,
                     content_type: str, kind: str = "photo") -> str:
        """`attach_file` for bytes in memory (a photo the app just took)."""
        sha256 = hashlib.sha256(data).hexdigest()
        return self._queue(field, wo_id, kind, filename, content_type, sha256, len(data),
                           io.BytesIO(data))

    def _queue(self, field, wo_id, kind, filename, media, sha256, size, file) -> str:
        if kind == "signature" and media != "image/png":
            raise LocalValidationError("a signature is a PNG image",
                                       {"content_type": ["must be image/png"]})
        with self._store.transaction() as db:
            record_id = field.add_attachment(wo_id, kind, filename, media, size, sha256)
            db.execute("INSERT INTO attachment_upload (id, sha256, size) VALUES (?, ?, ?)",
                       (record_id, sha256, size))
            digest, position = hashlib.sha256(), 0
            while row := file.read(ROW_BYTES):
                digest.update(row)
                db.execute("INSERT INTO attachment_bytes VALUES (?, ?, ?)",
                           (record_id, position, row))
                position += len(row)
            if digest.hexdigest() != sha256:
                raise LocalValidationError("the file changed while it was read: attach it again")
        return record_id

    def backlog(self) -> list[Upload]:
        """Queued uploads, oldest first, with the bytes the server holds of each."""
        with self._store.transaction() as db:
            rows = db.execute("SELECT id, sha256, size, sent, error FROM attachment_upload "
                              "ORDER BY rowid").fetchall()
        return [Upload(*row) for row in rows]

    def backlog_summary(self) -> dict[str, int]:
        """{"files", "bytes", "sent", "failed"} of the upload backlog (for status)."""
        queued = self.backlog()
        return {"files": len(queued), "bytes": sum(u.size for u in queued),
                "sent": sum(u.sent for u in queued),
                "failed": sum(1 for u in queued if u.error)}

    # -- uploading -----------------------------------------------------------------------

    def upload_pending(self) -> int:
        """Upload the queued bytes of every record the server acknowledged; returns how many
        uploads completed. Raises OfflineError when the server cannot be reached (what was
        sent stays sent: the next call resumes from the server's offset)."""
        completed = 0
        for upload in self.backlog():
            if upload.error:
                continue
            if self._store.get("attachment", upload.id) is None:
                self._forget(upload.id)  # rejected, deleted or evicted: nothing to send
            elif self._store.version("attachment", upload.id) is not None:
                completed += self._upload(upload)
        return completed

    def _upload(self, upload: Upload) -> bool:
        try:
            offset = self._http.offset(upload.id)
            mismatches = 0
            while offset < upload.size:
                offset, mismatches = self._next_chunk(upload, offset, mismatches)
                self._sent(upload.id, offset)
        except ServerError as exc:
            if exc.code in FINAL_CODES or exc.code == "checksum_mismatch":
                self._fail(upload.id, f"{exc.code}: {exc.message}")
            return False  # otherwise (not visible yet, busy): tried again next time
        self._forget(upload.id)
        return True

    def _next_chunk(self, upload: Upload, offset: int, mismatches: int) -> tuple[int, int]:
        chunk = self._read(upload.id, offset, self.chunk_size)
        try:
            return self._http.send_chunk(upload.id, offset, chunk), 0
        except ServerError as exc:
            if exc.code == "checksum_mismatch" and mismatches < CHECKSUM_RETRIES:
                return offset, mismatches + 1
            if exc.code == "upload_offset_mismatch":
                return self._http.offset(upload.id), mismatches
            raise

    def _read(self, record_id: str, start: int, length: int) -> bytes:
        with self._store.transaction() as db:
            rows = db.execute(
                "SELECT position, data FROM attachment_bytes WHERE id = ? AND position < ? "
                "AND position + length(data) > ? ORDER BY position",
                (record_id, start + length, start)).fetchall()
        joined = b"".join(row["data"] for row in rows)
        skip = start - rows[0]["position"] if rows else 0
        return joined[skip:skip + length]

    def queued_rows(self, record_id: str) -> Iterator[bytes] | None:
        """The queued bytes of an attachment not uploaded yet, row by row (None if none),
        so its author sees it offline."""
        with self._store.transaction() as db:
            found = db.execute("SELECT size FROM attachment_upload WHERE id = ?",
                               (record_id,)).fetchone()
        if found is None:
            return None
        return (self._read(record_id, start, ROW_BYTES)
                for start in range(0, found["size"], ROW_BYTES))

    def _sent(self, record_id: str, offset: int) -> None:
        with self._store.transaction() as db:
            db.execute("UPDATE attachment_upload SET sent = ? WHERE id = ?", (offset, record_id))

    def _fail(self, record_id: str, error: str) -> None:
        with self._store.transaction() as db:
            db.execute("UPDATE attachment_upload SET error = ? WHERE id = ?", (error, record_id))

    def _forget(self, record_id: str) -> None:
        with self._store.transaction() as db:
            db.execute("DELETE FROM attachment_bytes WHERE id = ?", (record_id,))
            db.execute("DELETE FROM attachment_upload WHERE id = ?", (record_id,))

    # -- downloading ---------------------------------------------------------------------

    def open(self, record_id: str) -> Path:
        """The local file of an attachment's bytes: from the cache, or downloaded into it
        now (resuming a download cut off before). Raises LocalValidationError for a record
        not on the device or without bytes, OfflineError, ServerError
        (content_not_uploaded...)."""
        record = self._store.get("attachment", record_id)
        if record is None or not record.get("sha256"):
            raise LocalValidationError(f"no attachment {record_id} with bytes on this device",
                                       {"id": ["unknown"]})
        queued = self.queued_rows(record_id)
        if queued is not None:
            return self.cache.put(record["sha256"], queued)
        return self.cache.fetch(record["sha256"], lambda start: self._http.download(
            record_id, start, record["sha256"]))

    def after_sync(self) -> None:
        """Drop the cached bytes of attachments no longer on the device, then upload."""
        self.cache.keep_only({r["sha256"] for r in self._store.query("attachment")
                              if r.get("sha256")})
        self.upload_pending()


def _digest(file: BinaryIO) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while piece := file.read(ROW_BYTES):
        digest.update(piece)
        size += len(piece)
    return digest.hexdigest(), size
