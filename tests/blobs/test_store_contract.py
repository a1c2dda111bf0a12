"""The contract every blob store keeps, run on the filesystem and the database store alike
(as Kinto's storage suite is run on each backend)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest

from server.blobs import BlobMissing, OffsetMismatch, UploadKey
from server.blobs import uploads as up
from server.blobs.readers import sha256_of


def content(size: int, seed: int = 1) -> bytes:
    return hashlib.sha256(bytes([seed])).digest() * (size // 32) + b"x" * (size % 32)


def key_of(data: bytes) -> UploadKey:
    return UploadKey(hashlib.sha256(data).hexdigest(), len(data))


def send(store, upload, start, data, checksum=None) -> int:
    digest = checksum or hashlib.sha256(data).digest()
    return up.append_chunk(store, upload, start, iter([data[i:i + 1000]
                                                      for i in range(0, len(data), 1000)]),
                           digest)


def test_a_blob_uploaded_in_chunks_reads_back_whole(store):
    data = content(3_000_123)
    upload = key_of(data)
    assert send(store, upload, 0, data[:1_500_000]) == 1_500_000
    assert store.size(upload.sha256) is None
    assert send(store, upload, 1_500_000, data[1_500_000:]) == len(data)
    assert store.size(upload.sha256) == len(data)
    with store.open(upload.sha256) as reader:
        assert reader.read() == data


def test_a_stored_blob_reads_from_any_position(store):
    data = content(2_500_000)
    upload = key_of(data)
    send(store, upload, 0, data)
    with store.open(upload.sha256) as reader:
        reader.seek(1_048_570)
        assert reader.read(20) == data[1_048_570:1_048_590]
        reader.seek(2_499_990)
        assert reader.read() == data[2_499_990:]


def test_a_chunk_must_start_where_the_stored_bytes_end(store):
    data = content(10_000)
    upload = key_of(data)
    send(store, upload, 0, data[:4000])
    with pytest.raises(OffsetMismatch) as refused:
        send(store, upload, 3000, data[3000:])
    assert refused.value.stored == 4000
    assert up.offset(store, upload) == 4000


def test_a_chunk_that_does_not_match_its_checksum_stores_nothing(store):
    data = content(10_000)
    upload = key_of(data)
    send(store, upload, 0, data[:4000])
    flipped = bytearray(data[4000:8000])
    flipped[17] ^= 0x01
    with pytest.raises(up.ChunkMismatch):
        send(store, upload, 4000, bytes(flipped), hashlib.sha256(data[4000:8000]).digest())
    assert up.offset(store, upload) == 4000
    assert send(store, upload, 4000, data[4000:]) == len(data)
    assert sha256_of(store.open(upload.sha256)) == upload.sha256


def test_a_chunk_cut_off_midway_leaves_the_stored_bytes_as_they_were(store):
    data = content(10_000)
    upload = key_of(data)
    send(store, upload, 0, data[:4000])

    def cut() -> Iterator[bytes]:
        yield data[4000:6000]
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        up.append_chunk(store, upload, 4000, cut(), hashlib.sha256(data[4000:]).digest())
    assert up.offset(store, upload) == 4000
    assert send(store, upload, 4000, data[4000:]) == len(data)
    with store.open(upload.sha256) as reader:
        assert reader.read() == data


def test_bytes_past_the_announced_length_are_refused(store):
    data = content(5000)
    upload = UploadKey(hashlib.sha256(data).hexdigest(), 4000)
    with pytest.raises(up.PastLength):
        send(store, upload, 0, data)
    assert up.offset(store, upload) == 0


def test_a_complete_upload_that_does_not_hash_to_its_name_is_discarded(store):
    data = content(5000)
    upload = UploadKey(hashlib.sha256(b"something else").hexdigest(), len(data))
    with pytest.raises(up.ContentMismatch):
        send(store, upload, 0, data)
    assert store.size(upload.sha256) is None
    assert up.offset(store, upload) == 0


def test_the_same_content_uploaded_twice_is_stored_once(store):
    data = content(5000)
    upload = key_of(data)
    send(store, upload, 0, data)
    assert up.offset(store, upload) == len(data)
    with pytest.raises(OffsetMismatch):
        send(store, upload, 0, data)
    assert [sha for sha, _ in store.blobs()] == [upload.sha256]
    assert list(store.uploads()) == []


def test_an_upload_stored_in_full_but_not_published_is_published_when_asked(store):
    data = content(5000)
    upload = key_of(data)
    store.append(upload, 0, [data], lambda: None)  # as if the server stopped right here
    assert store.size(upload.sha256) is None
    assert up.offset(store, upload) == len(data)
    assert store.size(upload.sha256) == len(data)


def test_a_deleted_blob_is_gone(store):
    data = content(5000)
    upload = key_of(data)
    send(store, upload, 0, data)
    store.delete(upload.sha256)
    assert store.size(upload.sha256) is None
    assert list(store.blobs()) == []
    with pytest.raises(BlobMissing):
        store.open(upload.sha256)


def test_a_discarded_upload_starts_over(store):
    data = content(5000)
    upload = key_of(data)
    send(store, upload, 0, data[:2000])
    assert [u for u, _ in store.uploads()] == [upload]
    store.discard(upload)
    assert up.offset(store, upload) == 0
    assert list(store.uploads()) == []


def test_the_filesystem_store_shows_no_half_written_blob(tmp_path):
    from server.blobs.filesystem import FileBlobStore

    store = FileBlobStore(tmp_path)
    data = content(5000)
    upload = key_of(data)
    send(store, upload, 0, data[:4000])
    objects = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    assert objects == []
    send(store, upload, 4000, data[4000:])
    [blob] = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    assert blob.name == upload.sha256 and blob.read_bytes() == data
    assert os.listdir(tmp_path / "uploads") == []


def test_a_second_request_appending_to_the_same_upload_is_told_it_is_busy(store):
    from server.blobs import UploadBusy
    from server.blobs.database import DatabaseBlobStore
    from tests.databases import backend

    if isinstance(store, DatabaseBlobStore) and backend() == "sqlite":
        pytest.skip("SQLite serialises writers itself: the second one waits for the first")
    data = content(10_000)
    upload = key_of(data)
    send(store, upload, 0, data[:1000])
    refused = []

    def chunk() -> Iterator[bytes]:
        yield data[1000:3000]
        try:  # another request, for the same offset, while this one is under way
            store.append(upload, 1000, [data[1000:1010]], lambda: None)
        except UploadBusy as exc:
            refused.append(exc)
        yield data[3000:5000]

    assert store.append(upload, 1000, chunk(), lambda: None) == 5000
    assert len(refused) == 1
    assert store.stored(upload) == 5000
