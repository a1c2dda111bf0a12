"""Run actions at the same moment on real threads, and check the promises afterwards.

Each action runs on a thread of its own with its own HTTP client (the Flask app in-process,
so every request takes a connection of its own from the pool, as gunicorn threads do). A
barrier releases them together and a random delay of up to `jitter` seconds varies which
reaches the database first, so repeated rounds cover the orders that matter.

`Ledger` keeps every push answer and every office write that was acknowledged, and
`check_acknowledged` holds each one to promise 1: the change is in the server's state, or a
conflict or rejection of it is stored with its payload. `assert_replica_matches` holds a
device to promises 3 to 5: after it pulls until caught up, its replica equals what a new
device of the same user receives from nothing.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from server.extensions import db
from server.models import SYNC_TABLES
from tests.device import Device
from tests.helpers import bearer

ROUNDS = int(os.environ.get("FIELDSYNC_RACE_ROUNDS", "8"))
# What this process checked, for the summary line (tests/conftest.py)
TOTALS = {"races": 0, "acknowledged": 0, "rejected": 0, "lost": 0}
ACKNOWLEDGED = {"applied", "merged", "conflict"}


def at_once(*actions: Callable[[], Any], jitter: float = 0.004) -> list[Any]:
    """Run `actions` together on threads; returns their results in order, re-raises the
    first failure (an assertion inside an action, a 5xx)."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)
    errors: list[BaseException] = []

    def run(index: int, action: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            time.sleep(random.uniform(0, jitter))
            results[index] = action()
        except BaseException as exc:  # re-raised on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    TOTALS["races"] += 1
    assert not any(t.is_alive() for t in threads), "an action hung (a lock never released?)"
    if errors:
        raise errors[0]
    return results


def device(app, user, name: str | None = None) -> Device:
    """A protocol device of `user` with an HTTP client of its own (one per thread)."""
    return Device(app.test_client(), user, name=name or f"race-{uuid.uuid4().hex[:8]}")


def office_patch(office: Device, entity: str, record_id: str, fields: dict) -> dict:
    """An office edit through the records API; fails on anything but 200."""
    response = office.client.patch(f"/api/v1/records/{entity}/{record_id}", json=fields,
                                   headers=bearer(office.token))
    assert response.status_code < 500, response.get_json()
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def push(dev: Device, *mutations: dict) -> list[dict]:
    """Push and return the results; a 5xx fails the test (Device asserts 200)."""
    return dev.push(*mutations)


@dataclass
class Ledger:
    """Acknowledged writes to hold to promise 1."""

    pushes: list[tuple[Device, dict, dict]] = field(default_factory=list)
    checked: int = 0

    def pushed(self, dev: Device, mutations: list[dict], results: list[dict]) -> None:
        for m, r in zip(mutations, results, strict=True):
            self.pushes.append((dev, m, r))

    def check_acknowledged(self, app) -> None:
        """Each acknowledged mutation is in the record, or stored as a conflict or
        rejection with its full payload."""
        with app.app_context():
            for dev, m, result in self.pushes:
                try:
                    _check_one(dev, m, result)
                except AssertionError:
                    TOTALS["lost"] += 1
                    raise
                rejected = result["status"] == "rejected"
                TOTALS["rejected" if rejected else "acknowledged"] += 1
                self.checked += 1
        self.pushes.clear()


def _check_one(dev: Device, m: dict, result: dict) -> None:
    stored = _stored_mutation(dev.device_id, result["mutation_id"])
    if result["status"] == "rejected":
        assert stored == ("rejection", _wire(m)), f"rejected without its payload: {result}"
        return
    assert result["status"] in ACKNOWLEDGED, result
    record = _record(m["entity"], m["id"])
    assert record is not None, f"acknowledged {m['op']} of {m['entity']} {m['id']} is lost"
    if m["op"] == "delete":
        assert record["deleted"] or stored is not None, f"acknowledged delete lost: {m}"
        return
    kept = all(record["data"].get(k) == v for k, v in m["fields"].items())
    assert kept or stored is not None, (
        f"acknowledged {m['op']} lost: sent {m['fields']}, server has v{record['version']} "
        f"{ {k: record['data'].get(k) for k in m['fields']} }, answer {result}")


def _record(entity: str, record_id: str) -> dict | None:
    import json

    r = SYNC_TABLES.record
    row = db.session.execute(sa.select(r.c.version, r.c.deleted, r.c.payload).where(
        r.c.entity == entity, r.c.record_id == record_id)).first()
    db.session.rollback()
    if row is None:
        return None
    return {"version": row.version, "deleted": row.deleted, "data": json.loads(row.payload)}


def _stored_mutation(device_id: str, mutation_id: int) -> tuple[str, dict] | None:
    """The stored conflict or rejection of a mutation, with its payload."""
    for kind, table in (("rejection", SYNC_TABLES.rejection), ("conflict", SYNC_TABLES.conflict)):
        row = db.session.execute(sa.select(table.c.mutation).where(
            table.c.device_id == device_id, table.c.mutation_id == mutation_id)).first()
        if row is not None:
            db.session.rollback()
            return kind, _wire(row.mutation)
    db.session.rollback()
    return None


def _wire(mutation: dict) -> dict:
    """What identifies a mutation's content: its target, operation and fields."""
    return {"entity": mutation["entity"], "id": mutation["id"], "op": mutation["op"],
            "fields": mutation.get("fields") or {}}


def assert_replica_matches(app, dev: Device) -> None:
    """After pulling until caught up, `dev` holds exactly what a new device of its user
    receives from no cursor: no missed change, no record kept that left its scope."""
    dev.sync()
    fresh = device(app, dev.user)
    fresh.sync()
    missing = fresh.records.keys() - dev.records.keys()
    extra = dev.records.keys() - fresh.records.keys()
    assert not missing, f"{dev.user.name}'s device never received {sorted(missing)}"
    assert not extra, f"{dev.user.name}'s device kept {sorted(extra)}, outside its scope"
    stale = [k for k, v in fresh.records.items() if dev.records[k] != v]
    assert not stale, f"{dev.user.name}'s device holds stale copies of {stale}"
