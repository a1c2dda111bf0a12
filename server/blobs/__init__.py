"""Attachment bytes: content-addressed blobs behind a small storage interface.

A blob is named by the sha256 of its bytes, so a file uploaded twice, by anyone, is stored
once. Uploads are staged under an `UploadKey` (the hash and the announced length), appended
chunk by chunk, and published only once the whole is verified against its hash: a reader
never sees a half-written blob.

Two stores implement `BlobStore`: `FileBlobStore` (the default, in the instance folder) and
`DatabaseBlobStore` (chunks in the database, for several hosts sharing the load).
`server.blobs.uploads` holds the rules common to both (chunk checksums, final verification);
`server.blobs.access` says who may read what.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class UploadKey:
    """An upload in progress: the content's sha256 (lowercase hex) and its length in bytes.

    The length is part of the key, so a record announcing a wrong size can only stage an
    upload that never verifies, never disturb the upload of the true content.
    """

    sha256: str
    length: int

    @property
    def name(self) -> str:
        return f"{self.sha256}.{self.length}"


class BlobError(Exception):
    """A blob store refused an operation; `code` is the stable API error code."""

    code: str = "blob_error"  # each subclass names its own


class OffsetMismatch(BlobError):
    """A chunk does not start where the stored part of its upload ends."""

    code = "upload_offset_mismatch"

    def __init__(self, stored: int):
        super().__init__(f"the server holds {stored} bytes of this upload")
        self.stored = stored


class UploadBusy(BlobError):
    """Another request is appending to the same upload right now."""

    code = "upload_in_progress"


class BlobMissing(BlobError):
    code = "content_not_uploaded"


class BlobStore(Protocol):
    """Where blob bytes live. Implementations MUST publish a blob atomically (all its bytes
    or nothing visible under its hash) and MUST NOT count a chunk as stored before it is on
    durable storage and `verify()` accepted it."""

    def size(self, sha256: str) -> int | None:
        """The stored blob's size, or None when it is not (fully) stored."""

    def open(self, sha256: str) -> BinaryIO:
        """A seekable reader of a stored blob. Raises BlobMissing."""

    def stored(self, upload: UploadKey) -> int:
        """How many bytes of `upload` are stored for good (0 for an unknown upload)."""

    def append(self, upload: UploadKey, offset: int, pieces: Iterable[bytes],
               verify: Callable[[], None]) -> int:
        """Write `pieces` after the first `offset` bytes, call `verify()` (which raises to
        refuse them), then make them durable; returns the new stored length. Raises
        OffsetMismatch when `offset` is not the stored length, UploadBusy."""

    def read_upload(self, upload: UploadKey) -> BinaryIO:
        """A reader of the stored bytes of `upload` (to verify the whole)."""

    def publish(self, upload: UploadKey) -> None:
        """Make the fully stored, verified upload the blob `upload.sha256`, atomically."""

    def discard(self, upload: UploadKey) -> None:
        """Forget an upload and its bytes."""

    def delete(self, sha256: str) -> None:
        """Delete a blob (retention: no record points to it any more)."""

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        """Every stored blob: its sha256 and when it was stored."""

    def uploads(self) -> Iterator[tuple[UploadKey, datetime]]:
        """Every upload in progress and when it last grew."""
