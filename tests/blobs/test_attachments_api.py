"""Attachment bytes over HTTP (docs/protocol.md §14), in-process, on both blob stores."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from tests.blobs.api_field import CHUNK_TYPE, photo, record_sha


def content_url(record_id: str) -> str:
    return f"/api/v1/attachments/{record_id}/content"


def test_an_upload_resumes_from_what_the_server_holds_and_downloads_whole(field):
    data = photo()
    record = field.attach("tech_a", data)
    assert record["status"] == "applied", record
    first = field.send("tech_a", record["id"], 0, data[:300_000])
    assert (first.status_code, first.headers["Upload-Offset"]) == (204, "300000")
    asked = field.offset("tech_a", record["id"])
    assert (asked.headers["Upload-Offset"], asked.headers["Upload-Length"]) == (
        "300000", str(len(data)))
    field.upload("tech_a", record["id"], data)
    answer = field.get("tech_a", content_url(record["id"]))
    assert answer.status_code == 200
    assert hashlib.sha256(answer.data).hexdigest() == record_sha(data)
    assert answer.headers["ETag"] == f'"{record_sha(data)}"'
    assert answer.headers["Content-Type"] == "image/jpeg"


def test_a_chunk_sent_at_the_wrong_offset_is_told_the_right_one(field):
    data = photo()
    record = field.attach("tech_a", data)
    field.send("tech_a", record["id"], 0, data[:1000])
    answer = field.send("tech_a", record["id"], 500, data[500:2000])
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "upload_offset_mismatch"
    assert answer.headers["Upload-Offset"] == "1000"


def test_a_chunk_with_a_flipped_byte_is_refused_and_nothing_of_it_kept(field):
    data = photo()
    record = field.attach("tech_a", data)
    flipped = bytearray(data[:100_000])
    flipped[4242] ^= 0x10
    answer = field.send("tech_a", record["id"], 0, bytes(flipped),
                        hashlib.sha256(data[:100_000]).digest())
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "checksum_mismatch"
    assert field.offset("tech_a", record["id"]).headers["Upload-Offset"] == "0"


def test_a_chunk_without_a_checksum_is_refused(field):
    data = photo(1000)
    record = field.attach("tech_a", data)
    answer = field.http.patch(f"/api/v1/attachments/{record['id']}/upload", data=data,
                              headers={**field.auth("tech_a"), "Content-Type": CHUNK_TYPE,
                                       "Upload-Offset": "0"})
    assert answer.status_code == 400
    assert "Upload-Checksum" in answer.get_json()["error"]["fields"]


def test_bytes_that_do_not_hash_to_the_records_sha256_never_count(field):
    data = photo(50_000)
    record = field.attach("tech_a", data, sha256=record_sha(b"another photo"))
    answer = field.send("tech_a", record["id"], 0, data)
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "content_hash_mismatch"
    assert field.get("tech_a", content_url(record["id"])).get_json()["error"]["code"] == (
        "content_not_uploaded")


def test_a_second_identical_upload_by_someone_else_is_stored_once(field):
    data = photo()
    mine = field.attach("tech_a", data)
    field.upload("tech_a", mine["id"], data)
    theirs = field.attach("tech_b", data, work_order="wo_b")
    asked = field.offset("tech_b", theirs["id"])
    assert asked.headers["Upload-Offset"] == str(len(data))
    assert field.get("tech_b", content_url(theirs["id"])).data == data
    from server.blobs.access import make_store
    from server.extensions import db

    with field.app.app_context():
        assert [sha for sha, _ in make_store(field.app.config, db.engine).blobs()] == [
            record_sha(data)]


@pytest.mark.parametrize("user", ["tech_b", "rep_n", "rep_s"])
def test_users_who_cannot_see_the_record_get_404_for_its_bytes(field, user):
    data = photo(10_000)
    record = field.attach("tech_a", data)
    field.upload("tech_a", record["id"], data)
    for answer in (field.get(user, content_url(record["id"])),
                   field.get(user, f"/api/v1/attachments/{record['id']}/thumbnail"),
                   field.offset(user, record["id"]),
                   field.send(user, record["id"], 0, data)):
        assert answer.status_code == 404
    assert field.get(user, content_url(record["id"])).get_json()["error"]["code"] == "not_found"
    assert field.get("office", content_url(record["id"])).data == data


def test_a_download_resumes_with_a_range_and_is_not_sent_again_when_unchanged(field):
    data = photo(2_500_000)
    record = field.attach("tech_a", data)
    field.upload("tech_a", record["id"], data)
    url = content_url(record["id"])
    part = field.get("tech_a", url, Range="bytes=600000-")
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 600000-{len(data) - 1}/{len(data)}"
    assert part.data == data[600_000:]
    middle = field.get("tech_a", url, Range="bytes=1048570-1048589")
    assert middle.data == data[1_048_570:1_048_590]
    beyond = field.get("tech_a", url, Range=f"bytes={len(data)}-")
    assert beyond.status_code == 416
    unchanged = field.get("tech_a", url, **{"If-None-Match": f'"{record_sha(data)}"'})
    assert unchanged.status_code == 304 and unchanged.data == b""


def image_bytes(mode: str, fmt: str, size=(1200, 800)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (0, 0, 0, 0)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(("mode", "fmt", "media_type"), [
    ("RGB", "JPEG", "image/jpeg"), ("RGBA", "PNG", "image/png")])
def test_an_image_attachment_has_a_thumbnail(field, mode, fmt, media_type):
    data = image_bytes(mode, fmt)
    record = field.attach("tech_a", data, content_type=media_type)
    field.upload("tech_a", record["id"], data)
    answer = field.get("tech_a", f"/api/v1/attachments/{record['id']}/thumbnail?size=128")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == media_type
    with Image.open(io.BytesIO(answer.data)) as thumb:
        assert thumb.size == (128, 85)
    again = field.get("tech_a", f"/api/v1/attachments/{record['id']}/thumbnail?size=128",
                      **{"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304


def test_a_pdf_has_no_thumbnail(field):
    data = b"%PDF-1.4 not really"
    record = field.attach("tech_a", data, content_type="application/pdf")
    field.upload("tech_a", record["id"], data)
    answer = field.get("tech_a", f"/api/v1/attachments/{record['id']}/thumbnail")
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (404, "no_thumbnail")


def test_an_attachment_above_the_size_limit_is_rejected(field):
    result = field.attach("tech_a", b"", size_bytes=3_000_001)
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "attachment_too_large"
    assert "size_bytes" in result["error"]["fields"]


def test_an_attachment_of_a_type_not_allowed_is_rejected(field):
    result = field.attach("tech_a", b"MZ", content_type="application/x-msdownload")
    assert result["error"]["code"] == "content_type_not_allowed"


def test_an_upload_for_a_record_above_a_lowered_limit_is_refused(field):
    data = photo(10_000)
    record = field.attach("tech_a", data)
    field.app.config["ATTACHMENT_MAX_BYTES"] = 5_000
    answer = field.send("tech_a", record["id"], 0, data)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (
        413, "attachment_too_large")


def test_the_limits_are_shown_with_the_entities(field):
    answer = field.get("tech_a", "/api/v1/sync/entities").get_json()
    assert answer["attachments"] == {"max_bytes": 3_000_000,
                                     "content_types": ["image/*", "application/pdf"]}


def test_the_records_api_gives_the_urls_of_an_attachments_bytes(field):
    data = photo(10_000)
    record = field.attach("tech_a", data)
    field.upload("tech_a", record["id"], data)
    listed = field.get("office", "/api/v1/records/attachment").get_json()["items"]
    links = listed[0]["links"]
    assert links["content"] == content_url(record["id"])
    assert field.get("office", links["content"]).data == data
    one = field.get("office", f"/api/v1/records/attachment/{record['id']}").get_json()
    assert one["links"]["thumbnail"] == f"/api/v1/attachments/{record['id']}/thumbnail"
