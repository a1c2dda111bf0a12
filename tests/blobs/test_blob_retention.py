"""Retention collects a blob once no record points to it, and abandoned uploads."""

from __future__ import annotations

from datetime import timedelta

from server.blobs.access import make_store
from server.blobs.retention import BLOB_GRACE, UPLOAD_EXPIRY, collect_blobs
from server.extensions import db
from sync.sqltypes import utcnow
from tests.blobs.api_field import photo, record_sha


def collect(field, *, after: timedelta):
    with field.app.app_context():
        store = make_store(field.app.config, db.engine)
        report = collect_blobs(store, db.engine, now=utcnow() + after)
        return report, [sha for sha, _ in store.blobs()]


def delete(field, record_id: str) -> None:
    answer = field.http.delete(f"/api/v1/records/attachment/{record_id}",
                               headers=field.auth("office"))
    assert answer.status_code == 200, answer.get_json()


def test_deleting_the_last_record_of_a_blob_lets_retention_collect_it(field):
    data = photo(20_000)
    first, second = field.attach("tech_a", data), field.attach("tech_a", data)
    field.upload("tech_a", first["id"], data)
    delete(field, first["id"])
    report, kept = collect(field, after=BLOB_GRACE * 2)
    assert (report.blobs_deleted, kept) == (0, [record_sha(data)])
    delete(field, second["id"])
    report, kept = collect(field, after=BLOB_GRACE / 2)
    assert (report.blobs_deleted, kept) == (0, [record_sha(data)])
    report, kept = collect(field, after=BLOB_GRACE * 2)
    assert (report.blobs_deleted, kept) == (1, [])


def test_an_upload_abandoned_for_a_week_is_discarded(field):
    data = photo(20_000)
    record = field.attach("tech_a", data)
    field.send("tech_a", record["id"], 0, data[:5000])
    report, _ = collect(field, after=UPLOAD_EXPIRY / 2)
    assert report.uploads_expired == 0
    report, _ = collect(field, after=UPLOAD_EXPIRY * 2)
    assert report.uploads_expired == 1
    assert field.offset("tech_a", record["id"]).headers["Upload-Offset"] == "0"
