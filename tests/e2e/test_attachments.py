"""Attachment bytes against a real gunicorn, on each blob store: a 20 MB photo uploaded with
the server killed (SIGKILL) mid-file resumes from the last stored chunk and downloads
identical; a flipped byte is refused; identical bytes are stored once; the bytes follow the
record's scope, on the server (404) and on the device (eviction empties the cache)."""

from __future__ import annotations

import base64
import hashlib
import http.client

import pytest
import sqlalchemy as sa

from client_sdk import OfflineError
from server.blobs.access import make_store
from tests.e2e.live_server import HOST

MiB = 1024 * 1024
PHOTO_BYTES = 20 * MiB


@pytest.fixture(params=["filesystem", "database"])
def server_env(request, tmp_path) -> dict[str, str]:
    """The live server on each blob store (the filesystem one in the test's folder)."""
    return {"BLOB_STORE": request.param, "BLOB_DIR": str(tmp_path / "server-blobs")}


def photo(size: int = PHOTO_BYTES, seed: int = 5) -> bytes:
    # Not compressible, not repetitive at the chunk size: every chunk differs.
    return b"".join(hashlib.sha512(seed.to_bytes(4, "big") + i.to_bytes(8, "big")).digest()
                    for i in range(size // 64))


class Raw:
    """Requests to the live server with a device's token, by http.client (no SDK)."""

    def __init__(self, server, device):
        self.server, self.device = server, device

    def request(self, method: str, path: str, body: bytes | None = None, **headers):
        connection = http.client.HTTPConnection(HOST, self.server.port, timeout=60)
        token = self.device.client.session.token()
        connection.request(method, f"/api/v1{path}", body=body,
                           headers={"Authorization": f"Bearer {token}", **headers})
        try:
            answer = connection.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            connection.close()

    def offset(self, attachment_id: str) -> int:
        status, headers, _ = self.request("HEAD", f"/attachments/{attachment_id}/upload")
        assert status == 200, status
        return int(headers["Upload-Offset"])

    def cut_chunk(self, attachment_id: str, offset: int, chunk: bytes, crash) -> None:
        """Send the headers and half the body of a chunk, then `crash()` the server."""
        connection = http.client.HTTPConnection(HOST, self.server.port, timeout=60)
        digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        connection.putrequest("PATCH", f"/api/v1/attachments/{attachment_id}/upload")
        for name, value in {"Authorization": f"Bearer {self.device.client.session.token()}",
                            "Content-Type": "application/offset+octet-stream",
                            "Upload-Offset": str(offset), "Content-Length": str(len(chunk)),
                            "Upload-Checksum": f"sha256 {digest}"}.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(chunk[:len(chunk) // 2])
        crash()
        connection.close()


def stored_blobs(server_env, server_engine) -> list[str]:
    """The sha256 of every blob the server stores."""
    store = make_store(server_env, server_engine)
    return sorted(sha for sha, _ in store.blobs())


def test_a_20_mb_photo_survives_the_server_killed_mid_file_and_downloads_identical(
        live_server, connect, world, server_env, server_engine):
    tech, data = connect("tech_a"), photo()
    raw = Raw(live_server, tech)
    attachment_id = tech.field.attach(world.ids["wo_a"], data, filename="compressor.jpg")
    # Killed once the second 4 MiB chunk is sent in full (stored or not, as the race goes):
    # the requests to .../upload are HEAD, PATCH at 0 (answered), PATCH at 4 MiB.
    tech.network.when_sent("/upload", lambda: tech.network.when_sent(
        "/upload", lambda: tech.network.when_sent("/upload", live_server.crash)))
    with pytest.raises(OfflineError):
        tech.client.sync()
    live_server.restart()
    stored = raw.offset(attachment_id)
    assert stored in (4 * MiB, 8 * MiB)
    assert tech.client.status().uploads["files"] == 1

    # Killed again while a chunk is half-way in: the half never counts.
    raw.cut_chunk(attachment_id, stored, data[stored:stored + 4 * MiB], live_server.crash)
    live_server.restart()
    assert raw.offset(attachment_id) == stored

    before = len(tech.network.exchanges("/upload"))
    tech.client.sync()
    resent = [e.body for e in tech.network.exchanges("/upload")[before:] if e.body]
    assert sum(map(len, resent)) == PHOTO_BYTES - stored
    assert tech.client.status().uploads["files"] == 0

    office = connect("office", "office-pc")
    downloaded = office.client.attachments.open(attachment_id).read_bytes()
    assert hashlib.sha256(downloaded).hexdigest() == hashlib.sha256(data).hexdigest()
    status, headers, tail = Raw(live_server, office).request(
        "GET", f"/attachments/{attachment_id}/content", Range=f"bytes={PHOTO_BYTES - 10}-")
    assert (status, headers["Content-Range"], tail) == (
        206, f"bytes {PHOTO_BYTES - 10}-{PHOTO_BYTES - 1}/{PHOTO_BYTES}", data[-10:])

    # The same bytes attached again, by another technician: nothing sent, stored once.
    other = connect("tech_b")
    again = other.field.attach(world.ids["wo_b"], data, filename="same.jpg")
    other.client.sync()
    assert [e for e in other.network.exchanges("/upload") if e.body] == []
    assert other.client.attachments.open(again).read_bytes() == data
    assert stored_blobs(server_env, server_engine) == [hashlib.sha256(data).hexdigest()]

    for user in ("rep_n", "rep_s", "tech_b"):
        outsider = Raw(live_server, connect(user, "outsider"))
        status, _, body = outsider.request("GET", f"/attachments/{attachment_id}/content")
        assert (status, b"not_found" in body) == (404, True)


def test_a_flipped_byte_is_refused_and_eviction_empties_the_cache(
        live_server, connect, world, server_env, server_engine):
    tech, data = connect("tech_a"), photo(3 * MiB, seed=9)
    raw = Raw(live_server, tech)
    attachment_id = tech.field.attach(world.ids["wo_a"], data)
    tech.client.attachments.upload_pending = lambda: 0  # the record only, for now
    tech.client.sync()
    del tech.client.attachments.upload_pending

    flipped = bytearray(data[:MiB])
    flipped[123_456] ^= 0x01
    digest = base64.b64encode(hashlib.sha256(data[:MiB]).digest()).decode()
    status, _, body = raw.request("PATCH", f"/attachments/{attachment_id}/upload",
                                  bytes(flipped), **{
                                      "Content-Type": "application/offset+octet-stream",
                                      "Upload-Offset": "0", "Upload-Checksum": f"sha256 {digest}"})
    assert (status, b"checksum_mismatch" in body) == (422, True)
    assert raw.offset(attachment_id) == 0

    tech.client.sync()
    cached = tech.client.attachments.open(attachment_id)
    assert cached.read_bytes() == data
    office = connect("office", "office-pc")
    office.client.update("work_order", world.ids["wo_a"],
                         {"technician_id": world.user("tech_b").id})
    office.client.sync()
    tech.client.sync()
    assert tech.client.get("attachment", attachment_id) is None
    assert not cached.exists()
    with server_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM attachment")).scalar() == 1
