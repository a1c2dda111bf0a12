"""The upload rules every blob store shares: a chunk must match its checksum and the
announced length, and the whole must match its sha256 before it is published."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from server.blobs import BlobError, BlobStore, OffsetMismatch, UploadKey
from server.blobs.readers import sha256_of


class ChunkMismatch(BlobError):
    """A chunk's bytes do not match its Upload-Checksum; nothing of it was stored."""

    code = "checksum_mismatch"


class ContentMismatch(BlobError):
    """The complete upload does not hash to its sha256; it was discarded."""

    code = "content_hash_mismatch"


class PastLength(BlobError):
    """A chunk goes past the length the attachment announced."""

    code = "upload_exceeds_length"


def offset(store: BlobStore, upload: UploadKey) -> int:
    """How many bytes of `upload` the server holds: all of them when its content is stored
    already (uploaded by anyone). An upload stored in full but not published (the server
    stopped between the two) is verified and published now. Raises ContentMismatch."""
    if store.size(upload.sha256) is not None:
        return upload.length
    stored = store.stored(upload)
    if stored == upload.length:
        finish(store, upload)
    return stored


def append_chunk(store: BlobStore, upload: UploadKey, start: int, body: Iterable[bytes],
                 checksum: bytes) -> int:
    """Store the chunk `body` (read piece by piece) at `start` if its sha256 is `checksum`;
    returns the new offset, and publishes the blob when the chunk completes it.

    Raises OffsetMismatch (start is not the stored length), ChunkMismatch, PastLength,
    ContentMismatch (the upload is then discarded), UploadBusy.
    """
    if store.size(upload.sha256) is not None:
        raise OffsetMismatch(upload.length)
    digest = hashlib.sha256()

    def verify() -> None:
        if digest.digest() != checksum:
            raise ChunkMismatch("the chunk does not match its Upload-Checksum")

    end = store.append(upload, start, _hashed(body, digest, upload.length - start), verify)
    if end == upload.length:
        finish(store, upload)
    return end


def _hashed(body: Iterable[bytes], digest, room: int) -> Iterator[bytes]:
    for piece in body:
        room -= len(piece)
        if room < 0:
            raise PastLength("the chunk goes past the attachment's size_bytes")
        digest.update(piece)
        yield piece


def finish(store: BlobStore, upload: UploadKey) -> None:
    """Verify the complete upload against its sha256 and publish it; raises ContentMismatch
    (after discarding it: the client starts over from offset 0)."""
    if sha256_of(store.read_upload(upload)) != upload.sha256:
        store.discard(upload)
        raise ContentMismatch("the uploaded bytes do not hash to the attachment's sha256")
    store.publish(upload)
