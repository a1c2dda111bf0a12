"""Scheduled jobs: retention compacts the log, purges tombstones and forces stale resets."""

from __future__ import annotations

import sqlalchemy as sa

from server.extensions import db
from server.jobs import build_scheduler, sync_retention
from server.models import SYNC_TABLES
from sync.protocol import PROTOCOL_VERSION
from tests.device import Device
from tests.helpers import bearer
from tests.world import build_world


def log_rows(app, entity, record_id):
    c = SYNC_TABLES.change
    with app.app_context():
        return db.session.execute(sa.select(c.c.seq).where(
            c.c.entity == entity, c.c.record_id == record_id)).scalars().all()


def test_compaction_keeps_only_the_latest_change_of_each_record(app, client):
    w = build_world(app)
    office = Device(client, w.user("office"))
    for city in ("Kiel", "Lübeck", "Husum"):
        client.patch(f"/api/v1/records/account/{w.ids['acc_n1']}", json={"city": city},
                     headers=bearer(office.token))
    assert len(log_rows(app, "account", w.ids["acc_n1"])) == 4
    app.config.update(SYNC_COMPACT_AFTER_HOURS=-1, SYNC_RETENTION_DAYS=3650)
    report = sync_retention(app)
    assert report.compacted >= 3 and report.truncated == 0
    assert len(log_rows(app, "account", w.ids["acc_n1"])) == 1
    rep = Device(client, w.user("rep_n"))
    rep.sync()
    assert rep.data("account", w.ids["acc_n1"])["city"] == "Husum"


def record_keys(app) -> set[tuple[str, str, str]]:
    rk = SYNC_TABLES.record_key
    with app.app_context():
        return set(db.session.execute(sa.select(rk.c.key, rk.c.entity, rk.c.record_id)).all())


def test_retention_purges_old_tombstones_and_sends_stale_devices_to_reset(app, client):
    w = build_world(app)
    office = Device(client, w.user("office"))
    rep = Device(client, w.user("rep_n"))
    rep.sync()
    client.delete(f"/api/v1/records/contact/{w.ids['contact_n1']}", headers=bearer(office.token))
    app.config.update(SYNC_RETENTION_DAYS=-1)
    keys_before = record_keys(app)
    report = sync_retention(app)
    keys_after = record_keys(app)
    assert report.tombstones_purged == 1 and report.horizon > 0
    r = SYNC_TABLES.record
    with app.app_context():
        assert db.session.execute(sa.select(r).where(r.c.record_id == w.ids["contact_n1"])
                                  ).first() is None
        # its scope key rows went with it (found by the keys its scope listed), no others
        assert keys_after == {row for row in keys_before if row[2] != w.ids["contact_n1"]}
        assert len(keys_after) < len(keys_before)
    response = rep.post("/api/v1/sync/pull", {"protocol": PROTOCOL_VERSION, "cursor": rep.cursor})
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "reset_required"


def test_the_scheduler_carries_the_retention_and_login_purge_jobs(app):
    scheduler = build_scheduler(app, background=True)
    assert {job.id for job in scheduler.get_jobs()} == {
        "sync_retention", "collect_blobs", "purge_login_attempts"}
