"""The simulated company for the property test: devices running the real SyncClient against
the Flask app in-process over a flaky network, and a back office writing through the records
and admin APIs. Each keeps a model of what it did and what it was told, for the checks.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from client_sdk import LocalValidationError, OfflineError, RetryPolicy, SyncClient
from server.domain import import_records
from server.extensions import db
from server.models import SYNC_TABLES, Base
from sync import changelog
from sync.database import write_transaction
from sync.protocol import Mutation, Op
from sync.retention import compact_log, purge_tombstones
from sync.sqltypes import utcnow
from tests.databases import truncate_all
from tests.helpers import CreatedUser, bearer, login
from tests.property.actions import OFFICE_ACTIONS, Change, Context, Names
from tests.property.faults import Exchange, Fault, FaultyTransport
from tests.property.server_view import Key, LogEntry, ServerRecord, ServerView, visible
from tests.world import World, build_world, uid

SERVER_URL = "http://fieldsync.test"

# device name -> the user signed in on it (rep_n carries a phone and a laptop)
DEVICES = {"rep_n.phone": "rep_n", "rep_n.laptop": "rep_n", "rep_s.phone": "rep_s",
           "tech_a.tablet": "tech_a", "tech_b.tablet": "tech_b", "office.desk": "office"}
TERRITORY_CHOICES = [["N"], ["S"], ["N", "S"], []]


@dataclass(frozen=True)
class SyncMark:
    """Where the server stood when a device last completed a sync: log head, user's keys."""

    head: int
    keys: frozenset[str]


class History:
    """Every record state the server answered with, by (entity, id, version), and the
    fields each writer named in the writes answered with that version.

    A version names one state: two answers for the same version must agree. From one
    version to the next only the fields named by the write that made it may change, so a
    value an acknowledged write set stays until another write names that field.
    """

    def __init__(self) -> None:
        self.states: dict[tuple[str, str, int], tuple[bool, dict[str, Any]]] = {}
        self.named: dict[tuple[str, str, int, str | None], set[str]] = {}
        self.clashes: list[str] = []

    def saw(self, record: Mapping[str, Any], *, writer: str | None,
            named: Iterable[str]) -> None:
        """`writer` (a device id, None for the server) wrote the fields `named` and was
        answered with `record` (wire form)."""
        key = (record["entity"], record["id"], record["version"])
        state = (record["deleted"], dict(record["data"]))
        if self.states.setdefault(key, state) != state:
            self.clashes.append(f"{key}: {self.states[key]} and {state}")
        self.named.setdefault((*key, writer), set()).update(named)

    def saw_state(self, key: Key, rec: ServerRecord) -> None:
        """The server held `rec` (read from its tables between two steps)."""
        self.saw({"entity": key[0], "id": key[1], "version": rec.version,
                  "deleted": rec.deleted, "data": rec.data}, writer=None, named=())


@dataclass
class Device:
    """One installation of the SDK, and a model of what it made and what it was told."""

    name: str
    user: CreatedUser
    path: Path
    pull_limit: int
    observe: Any = None
    transport: FaultyTransport | None = None
    client: SyncClient | None = None
    made: dict[int, Mutation] = field(default_factory=dict)  # every mutation it made
    deltas: dict[int, int] = field(default_factory=dict)  # van stock deltas by mutation id
    told: dict[int, dict[str, Any]] = field(default_factory=dict)  # results it received
    mark: SyncMark | None = None
    pulled_under: set[frozenset[str]] = field(default_factory=set)  # user's keys at pulls

    def open(self, app, pull_limit: int | None = None) -> None:
        self.transport = FaultyTransport(httpx.WSGITransport(app=app), self.observe)
        self.client = SyncClient(self.path, server_url=SERVER_URL, transport=self.transport,
                                 retry=RetryPolicy(attempts=1, sleep=lambda s: None),
                                 pull_limit=pull_limit or self.pull_limit)

    def restart(self, app) -> None:
        """The app is closed and started again: only the replica file survives."""
        self.client.close()
        self.open(app)

    @property
    def device_id(self) -> str:
        return self.client.session.device_id

    def unacknowledged(self) -> list[int]:
        return sorted(set(self.made) - set(self.told))

    def view(self, entity: str) -> list[dict[str, Any]]:
        return self.client.query(entity)

    def make(self, change: Change) -> Mutation | None:
        """Make `change` offline; returns the mutation it queued (None for a no-op edit, or
        a status move the SDK refused before queueing: the workflow does not allow it)."""
        try:
            self._write(change)
        except LocalValidationError as exc:
            if set(exc.fields) != {"status"}:
                raise
            return None
        new = [m for m in self.client.pending() if m.mutation_id not in self.made]
        assert len(new) <= 1, f"one edit queued {len(new)} mutations"
        if not new:
            return None
        mutation = self.made[new[0].mutation_id] = new[0]
        if change.delta is not None:
            sent = mutation.fields["quantity"] - mutation.base["quantity"]
            assert sent == change.delta, f"a {change.delta:+} edit was queued as {sent:+}"
            self.deltas[mutation.mutation_id] = change.delta
        return mutation

    def _write(self, change: Change) -> None:
        if change.op is Op.CREATE:
            self.client.create(change.entity, change.fields, record_id=change.record_id)
        elif change.op is Op.UPDATE:
            self.client.update(change.entity, change.record_id, change.fields)
        else:
            self.client.delete(change.entity, change.record_id)

    def sync(self, fault: Fault | None) -> bool:
        """One sync run with `fault` injected; returns whether it completed."""
        self.transport.arm(fault)
        try:
            self.client.sync()
        except OfflineError:
            assert fault is not None, "a sync failed on a good network"
            return False
        finally:
            self.transport.arm(None)
        return True


class BackOffice:
    """A dispatcher on the records API and an admin on the users API, never offline."""

    def __init__(self, app, world: World, names: Names, server: ServerView, history: History):
        self.http, self.world, self.names = app.test_client(), world, names
        self.server, self.history = server, history
        self.dispatcher = world.user("dispatcher")
        self.tokens = {name: login(self.http, world.user(name).email)["access_token"]
                       for name in ("dispatcher", "admin")}
        self.deltas: defaultdict[str, list[int]] = defaultdict(list)  # van stock id -> deltas
        self.writes: Counter[Key] = Counter()  # records it wrote, how many times

    def view(self, entity: str) -> list[dict[str, Any]]:
        return [{"id": record_id, **rec.data}
                for (kind, record_id), rec in self.server.records().items()
                if kind == entity and not rec.deleted]

    def act(self, action: str, target: int, choice: int) -> None:
        if action == "set_territories":
            self.set_territories(target, choice)
            return
        ctx = Context(self.dispatcher.id, "dispatcher", self.view, self.names)
        change = OFFICE_ACTIONS[action](ctx, target, choice)
        if change is None:
            return
        record = self.write(change)
        if record is not None:
            self.writes[(change.entity, change.record_id)] += 1
            self.history.saw(record, writer=None, named=change.fields)
            if change.delta is not None:
                self.deltas[change.record_id].append(change.delta)

    def write(self, change: Change) -> dict[str, Any] | None:
        """The record as written, or None when the server refused the change."""
        path = f"/api/v1/records/{change.entity}"
        headers = bearer(self.tokens["dispatcher"])
        if change.op is Op.CREATE:
            response = self.http.post(path, json={"id": change.record_id, **change.fields},
                                      headers=headers)
        elif change.op is Op.UPDATE:
            response = self.http.patch(f"{path}/{change.record_id}", json=change.fields,
                                       headers=headers)
        else:
            response = self.http.delete(f"{path}/{change.record_id}", headers=headers)
        assert response.status_code < 500, response.get_json()
        return response.get_json() if response.status_code in (200, 201) else None

    def set_territories(self, target: int, choice: int) -> None:
        rep = self.world.user(["rep_n", "rep_s"][target % 2])
        codes = TERRITORY_CHOICES[choice % len(TERRITORY_CHOICES)]
        response = self.http.patch(f"/api/v1/admin/users/{rep.id}",
                                   json={"territory_codes": codes},
                                   headers=bearer(self.tokens["admin"]))
        assert response.status_code == 200, response.get_json()


class Fleet:
    """The devices, the back office and the server of one example, and what was seen."""

    def __init__(self, app, root: Path, pull_limits: Mapping[str, int]):
        self.app, self.server = app, ServerView(app)
        self.world = build_world(app)
        _seed_more(app, self.world)
        self.names = _names(self.world)
        self.history = History()
        self.initial = self.server.records()
        for key, rec in self.initial.items():
            self.history.saw_state(key, rec)
        self.violations: list[str] = []
        self.seen: set[str] = set()  # what happened on the wire, for hypothesis statistics
        self._log: dict[int, LogEntry] = {}  # every change-log entry ever seen
        self.devices = {name: Device(name, self.world.user(user), root / f"{name}.sqlite",
                                     pull_limits[name]) for name, user in DEVICES.items()}
        for device in self.devices.values():
            device.observe = lambda exchange, d=device: self.observed(d, exchange)
        self.back_office = BackOffice(app, self.world, self.names, self.server, self.history)

    def start(self) -> None:
        """Every device signs in and downloads its scope once, on a good network (in big
        pages, to save time; its own page size applies from then on)."""
        for name, device in self.devices.items():
            device.open(self.app, pull_limit=1000)
            device.client.login(device.user.email, device.user.password, name)
            assert device.sync(None)
            device.restart(self.app)

    def records(self) -> dict[Key, ServerRecord]:
        """The server's records now. Their states go into the history, so that nearly every
        version of every record is known to the checks of consecutive versions."""
        records = self.server.records()
        for key, rec in records.items():
            self.history.saw_state(key, rec)
        return records

    def log(self) -> list[LogEntry]:
        """Every change-log entry the server ever held, retention notwithstanding."""
        self._log.update((entry.seq, entry) for entry in self.server.log())
        return [self._log[seq] for seq in sorted(self._log)]

    def head(self) -> int:
        return max((entry.seq for entry in self.log()), default=0)

    def run_retention(self, *, truncate: bool) -> None:
        """The nightly job, as if every change were old: compact the log and, with
        `truncate`, drop all of it and the tombstones so every lagging device must reset.
        Receipts are kept (their expiry is tested elsewhere)."""
        self.log()
        cutoff = utcnow() + timedelta(minutes=1)
        with self.app.app_context(), write_transaction(db.engine) as conn:
            compact_log(conn, SYNC_TABLES, older_than=cutoff)
            if truncate:
                changelog.truncate_before(conn, SYNC_TABLES, cutoff)
                purge_tombstones(conn, SYNC_TABLES, deleted_before=cutoff)

    def close(self) -> None:
        for device in self.devices.values():
            if device.client is not None:
                device.client.close()

    # -- watching the wire ------------------------------------------------------------------

    def observed(self, device: Device, exchange: Exchange) -> None:
        if exchange.status == 410:
            self.seen.add(f"{exchange.endpoint} answered {exchange.response['error']['code']}")
        if exchange.status != 200:
            return  # the client resets on 410 and raises on any other error
        if exchange.endpoint == "push":
            self._check_push_request(device, exchange.request)
            results = exchange.response["results"]
            if exchange.delivered:
                device.told.update((r["mutation_id"], r) for r in results)
            self._note_push(results, exchange.delivered)
        elif exchange.endpoint == "pull":
            self._check_pulled_changes(device, exchange.response["changes"])
            self.seen.update(f"pulled {c['op']}" for c in exchange.response["changes"])

    def _note_push(self, results: list[dict[str, Any]], delivered: bool) -> None:
        if not delivered:
            self.seen.add("a push answer was lost")
        for result in results:
            self.seen.add(f"push result {result['status']}")
            self.seen.update(f"conflict {c['kind']} {c['policy']}" for c in result["conflicts"])
            if result["error"]:
                self.seen.add(f"rejected {result['error']['code']}")

    def _check_push_request(self, device: Device, request: dict[str, Any]) -> None:
        """A push carries the whole outbox, oldest first, each mutation as it was made."""
        expected = [device.made[i].to_wire() for i in device.unacknowledged()]
        if request["mutations"] != expected:
            self.violations.append(f"{device.name} pushed {request['mutations']} while its "
                                   f"unacknowledged mutations were {expected}")

    def _check_pulled_changes(self, device: Device, changes: list[dict[str, Any]]) -> None:
        """Each pulled change tells the record's current state, and only within scope."""
        keys = self.server.keys_of(device.user)
        device.pulled_under.add(keys)
        records = self.server.records({(c["entity"], c["id"]) for c in changes})
        for change in changes:
            key = (change["entity"], change["id"])
            problem = _pulled_change_problem(change, records.get(key), keys)
            if problem:
                self.violations.append(f"{device.name} pulled {change['op']} {key} "
                                       f"v{change['version']}: {problem}")


def _pulled_change_problem(change: dict[str, Any], rec: ServerRecord | None,
                           keys: frozenset[str]) -> str | None:
    op = change["op"]
    if rec is None:
        return None if op == "delete" else "the server has no such record"
    if change["version"] != rec.version:
        return f"the server holds v{rec.version}"
    if op == "put":
        if rec.deleted or not visible(keys, rec.keys):
            return "deleted or outside the user's scope"
        return None if change["data"] == rec.data else f"the server holds {rec.data}"
    if op == "evict":
        return "the record is still in scope" if visible(keys, rec.keys) else None
    return None if rec.deleted else "the record is not deleted"


def _seed_more(app, w: World) -> None:
    """A little more than tests.world: a van for tech_b, a visit and a southern contact."""
    ids, users = w.ids, w.users
    ids.update(van_b=uid(), van_a2=uid(), visit_n1=uid(), contact_s1=uid())
    with app.app_context(), write_transaction(db.engine) as conn:
        import_records(conn, "van_stock", [
            {"id": ids["van_b"], "technician_id": users["tech_b"].id, "part_id": ids["part1"],
             "quantity": 4},
            {"id": ids["van_a2"], "technician_id": users["tech_a"].id, "part_id": ids["part2"],
             "quantity": 2},
        ])
        import_records(conn, "visit", [
            {"id": ids["visit_n1"], "account_id": ids["acc_n1"], "rep_id": users["rep_n"].id,
             "status": "planned"},
        ])
        import_records(conn, "contact", [
            {"id": ids["contact_s1"], "account_id": ids["acc_s1"], "first_name": "Sol",
             "last_name": "Sud"},
        ])


def _names(w: World) -> Names:
    names = Names(territories=dict(w.territories),
                  technicians={t: w.user(t).id for t in ("tech_a", "tech_b")},
                  parts=[w.ids["part1"], w.ids["part2"]],
                  products=[w.ids["product1"], w.ids["product2"]],
                  price_list=w.ids["price_list"])
    names.labels.update({record_id: label for label, record_id in w.ids.items()})
    names.labels.update({tid: f"territory_{code}" for code, tid in w.territories.items()})
    return names


def _scratch() -> str | None:
    """Replicas are thrown away after each example: keep them in memory when we can."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@contextmanager
def running_fleet(app, pull_limits: Mapping[str, int]) -> Iterator[Fleet]:
    """A fresh database and world, every device signed in and synced once."""
    with app.app_context():
        db.session.remove()
        truncate_all(db.engine, Base.metadata)
    with tempfile.TemporaryDirectory(prefix="fieldsync-replicas-", dir=_scratch()) as root:
        fleet = Fleet(app, Path(root), pull_limits)
        try:
            fleet.start()
            yield fleet
        finally:
            fleet.close()

