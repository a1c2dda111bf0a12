"""Attachment bytes on the device: queued with their record, uploaded after it syncs and
resumed across restarts, downloaded on demand into a cache that follows the scope."""

from __future__ import annotations

import hashlib
import io

import httpx
import pytest
from PIL import Image

from client_sdk import RetryPolicy, SyncClient
from client_sdk.errors import LocalValidationError, OfflineError
from client_sdk.field import FieldActions
from tests.blobs.conftest import STORES
from tests.client_sdk.conftest import SERVER_URL, Network, no_wait
from tests.conftest import app_on


@pytest.fixture(params=STORES)
def app(request, database_url, tmp_path):
    """The app on each blob store, its blobs in the test's folder."""
    with app_on(database_url, BLOB_STORE=request.param,
                BLOB_DIR=str(tmp_path / "server-blobs")) as app:
        yield app


def photo(size: int = 300_000, seed: int = 3) -> bytes:
    block = hashlib.sha256(bytes([seed])).digest()
    return (block * (size // 32 + 1))[:size]


def signature_png() -> bytes:
    out = io.BytesIO()
    Image.new("LA", (300, 100), (0, 0)).save(out, "PNG")
    return out.getvalue()


class CutAfter(Network):
    """The app over WSGI, going offline after `patches` upload chunks; logs every PATCH's
    Upload-Offset."""

    def __init__(self, app, patches: int | None = None):
        super().__init__(app)
        self.patches, self.offsets = patches, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            if self.patches is not None and len(self.offsets) >= self.patches:
                raise httpx.ReadError("the connection dropped", request=request)
            self.offsets.append(int(request.headers["Upload-Offset"]))
        return super().handle_request(request)


def reopen(app, world, path, user: str, network=None, **options) -> SyncClient:
    client = SyncClient(path, server_url=SERVER_URL, transport=network or Network(app),
                        retry=RetryPolicy(attempts=1, sleep=no_wait), **options)
    if not client.signed_in:
        person = world.user(user)
        client.login(person.email, person.password, "tablet")
    return client


def test_a_photo_uploads_after_its_record_syncs_and_the_office_downloads_it(connect, world):
    tech, data = connect("tech_a"), photo()
    tech.offline()
    attachment_id = tech.field.attach(world.ids["wo_a"], data, filename="compressor.jpg")
    assert tech.client.status().uploads == {"files": 1, "bytes": len(data), "sent": 0,
                                            "failed": 0}
    tech.online()
    tech.client.sync()
    assert tech.client.status().uploads["files"] == 0
    office = connect("office", "office-pc")
    cached = office.client.attachments.open(attachment_id)
    assert cached.read_bytes() == data


def test_an_upload_cut_off_resumes_from_the_servers_offset_after_a_restart(app, world,
                                                                            tmp_path):
    data, replica = photo(1_000_000), tmp_path / "tech.db"
    first = CutAfter(app, patches=3)
    tech = reopen(app, world, replica, "tech_a", first)
    tech.sync()
    tech.attachments.chunk_size = 150_000
    attachment_id = FieldActions(tech).attach(world.ids["wo_a"], data)
    with pytest.raises(OfflineError):
        tech.sync()
    assert tech.status().uploads["sent"] == 450_000
    tech.close()

    again = CutAfter(app)
    tech = reopen(app, world, replica, "tech_a", again)
    tech.attachments.chunk_size = 150_000
    tech.sync()
    assert again.offsets[0] == 450_000
    assert tech.status().uploads["files"] == 0
    tech.close()
    office = reopen(app, world, tmp_path / "office.db", "office")
    office.sync()
    assert office.attachments.open(attachment_id).read_bytes() == data
    office.close()


def test_the_same_photo_attached_twice_is_sent_once(connect, world):
    tech, data = connect("tech_a"), photo()
    tech.field.attach(world.ids["wo_a"], data)
    tech.client.sync()
    sent = []
    tech.network.handle_request = _recording(tech.network.handle_request, sent)
    tech.field.attach(world.ids["wo_a"], data)
    tech.client.sync()
    assert [m for m in sent if m == "PATCH"] == []
    assert tech.client.status().uploads["files"] == 0


def _recording(handle, methods):
    def handle_request(request):
        methods.append(request.method)
        return handle(request)
    return handle_request


def test_an_attachment_the_server_rejects_drops_its_queued_bytes(connect, world):
    tech = connect("tech_a")
    tech.field.attach(world.ids["wo_a"], b"PK\x03\x04", filename="notes.zip",
                      content_type="application/zip")
    tech.client.sync()
    [rejected] = tech.client.rejected()
    assert rejected["code"] == "content_type_not_allowed"
    assert tech.client.status().uploads["files"] == 0


def test_a_signature_png_is_attached_with_the_sign_off(connect, world):
    tech, png = connect("tech_a"), signature_png()
    tech.field.start_work_order(world.ids["wo_a"])
    signature_id = tech.field.complete_work_order(world.ids["wo_a"], "Descaled", "Ana Nord",
                                                  signature=png)
    tech.client.sync()
    office = connect("office", "office-pc")
    signature = office.client.get("attachment", signature_id)
    assert (signature["kind"], signature["content_type"], signature["work_order_id"]) == (
        "signature", "image/png", world.ids["wo_a"])
    assert office.client.get("work_order", world.ids["wo_a"])["signed_by"] == "Ana Nord"
    assert office.client.attachments.open(signature_id).read_bytes() == png


def test_a_signature_must_be_a_png(connect, world):
    tech = connect("tech_a")
    with pytest.raises(LocalValidationError):
        tech.field.attach(world.ids["wo_a"], b"\xff\xd8", kind="signature",
                          content_type="image/jpeg")
    assert tech.client.pending() == []


def test_cached_bytes_are_dropped_when_the_record_leaves_the_device(connect, world):
    tech, data = connect("tech_a"), photo()
    attachment_id = tech.field.attach(world.ids["wo_a"], data)
    tech.client.sync()
    cached = tech.client.attachments.open(attachment_id)
    assert cached.exists()
    office = connect("office", "office-pc")
    office.client.update("work_order", world.ids["wo_a"],
                         {"technician_id": world.user("tech_b").id})
    office.client.sync()
    tech.client.sync()
    assert tech.client.get("attachment", attachment_id) is None
    assert not cached.exists()


def test_the_cache_keeps_within_its_budget_least_recently_used_out(connect, world):
    tech = connect("tech_a")
    first = tech.field.attach(world.ids["wo_a"], photo(seed=1))
    second = tech.field.attach(world.ids["wo_a"], photo(seed=2))
    tech.client.sync()
    office = connect("office", "office-pc")
    office.client.attachments.cache.budget = 400_000
    kept_first = office.client.attachments.open(first)
    kept_second = office.client.attachments.open(second)
    assert not kept_first.exists() and kept_second.exists()
    assert office.client.attachments.cache.size() <= 400_000


def test_the_author_opens_an_attachment_offline_before_it_uploads(connect, world):
    tech, data = connect("tech_a"), photo(2_500_000)
    tech.offline()
    attachment_id = tech.field.attach(world.ids["wo_a"], data)
    assert tech.client.attachments.open(attachment_id).read_bytes() == data
