"""Write transactions that meet concurrent writers are run again, never answered 500.

sync.database.retrying runs a transaction again after a deadlock or serialization failure
from PostgreSQL, and after the engine's RetryTransaction (a lock plan that changed); when
every attempt fails the client is told `503 server_busy`, nothing applied.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import SYNC_TABLES
from sync import database
from sync.database import retrying
from sync.errors import RetryTransaction, ServerBusy
from sync.locking import LockPlanChanged
from tests.databases import backend
from tests.device import Device
from tests.sync.harness import Harness, update
from tests.world import build_world

on_postgres = pytest.mark.skipif(backend() != "postgresql",
                                 reason="only PostgreSQL runs writers at the same time")


def test_a_transaction_that_must_run_again_is_run_again_until_it_succeeds(app):
    calls = []

    def work(conn):
        calls.append(1)
        if len(calls) < 3:
            raise RetryTransaction("moved")
        return conn.execute(sa.text("SELECT 1")).scalar_one()

    with app.app_context():
        assert retrying(db.engine, work, pause=0) == 1
    assert len(calls) == 3


def test_a_transaction_that_keeps_colliding_gives_up_as_server_busy(app):
    calls = []

    def work(conn):
        calls.append(1)
        raise LockPlanChanged("moved again")

    with app.app_context(), pytest.raises(ServerBusy):
        retrying(db.engine, work, pause=0)
    assert len(calls) == database.WRITE_ATTEMPTS


def test_other_database_errors_are_not_retried(app):
    calls = []

    def work(conn):
        calls.append(1)
        conn.execute(sa.text("SELECT * FROM no_such_table"))

    with app.app_context(), pytest.raises(sa.exc.DBAPIError):
        retrying(db.engine, work, pause=0)
    assert len(calls) == 1


def test_a_push_that_keeps_colliding_is_answered_503_server_busy_not_500(app, monkeypatch):
    w = build_world(app)
    dev = Device(app.test_client(), w.users["rep_n"])
    engine = app.extensions["fieldsync.sync"]

    def collide(*args, **kwargs):
        raise LockPlanChanged("moved")

    monkeypatch.setattr(engine, "push_json", collide)
    monkeypatch.setattr(database, "WRITE_ATTEMPTS", 2)
    response = dev.post("/api/v1/sync/push", {"protocol": 1, "mutations": [
        {"mutation_id": 1, "entity": "contact", "id": w.ids["contact_n1"], "op": "update",
         "base_version": 1, "fields": {"phone": "1"}, "base": {"phone": None}}]})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["error"]["code"] == "server_busy"


@on_postgres
def test_a_real_deadlock_is_retried_and_both_transactions_commit(app):
    w = build_world(app)
    r = SYNC_TABLES.record
    first, second = w.ids["acc_n1"], w.ids["acc_n2"]
    both_hold_one = threading.Barrier(2, timeout=10)
    attempts = {"a": 0, "b": 0}

    def locker(name: str, ids: tuple[str, str]):
        def work(conn):
            attempts[name] += 1
            lock = sa.select(r.c.version).where(r.c.entity == "account",
                                                r.c.record_id == sa.bindparam("id"))
            conn.execute(lock.with_for_update(), {"id": ids[0]})
            if attempts[name] == 1:
                both_hold_one.wait()  # each holds one row and wants the other's
            conn.execute(lock.with_for_update(), {"id": ids[1]})
            return name
        return lambda: retrying(db.engine, work, pause=0.01)

    results, errors = [], []

    def run(fn):
        with app.app_context():
            try:
                results.append(fn())
            except Exception as exc:  # asserted below
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(locker("a", (first, second)),)),
               threading.Thread(target=run, args=(locker("b", (second, first)),))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == ["a", "b"]
    assert attempts["a"] + attempts["b"] == 3  # PostgreSQL broke the cycle once


@on_postgres
def test_a_record_moved_to_another_parent_while_a_push_waits_is_pushed_on_a_fresh_plan(
        app, monkeypatch):
    from sync.apply import Applier

    h = Harness(app)
    ids = h.w.ids
    contact, moved_to = ids["contact_n1"], ids["acc_n2"]
    raised = []
    original = Applier.lock

    def counting_lock(self, mutations):
        try:
            original(self, mutations)
        except LockPlanChanged:
            raised.append(1)
            raise

    monkeypatch.setattr(Applier, "lock", counting_lock)
    outcome = {}

    def rep_push():
        with app.app_context():
            outcome["results"] = retrying(db.engine, lambda conn: h.sync.push(
                conn, h.actor("rep_n", conn), [update(1, "contact", contact, 1,
                                                      {"phone": "+33 1"}, {"phone": None})]))

    with h.tx() as conn:  # the office moves the contact and holds it until commit
        h.sync.write(conn, "contact", contact, "update", {"account_id": moved_to})
        pusher = threading.Thread(target=rep_push)
        pusher.start()
        pusher.join(timeout=1)
        assert pusher.is_alive()  # waiting for the contact
    pusher.join(timeout=30)
    assert [r.status for r in outcome["results"]] == ["merged"]
    assert raised == [1]
    record = h.record("contact", contact)
    assert (record.data["account_id"], record.data["phone"]) == (moved_to, "+33 1")
