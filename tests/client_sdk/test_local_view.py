"""The stored view of a record is kept in step incrementally (a write puts its mutation on top,
a push result settles the view without a replay when nothing is left pending); whatever
happens, it must equal the authoritative full replay: `local_view(server state, outbox)`."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk import LocalValidationError, ReplicaTooNew, SyncClient
from client_sdk.replica import local_view
from client_sdk.replica_sql import FORMAT
from sync.protocol import FieldConflict, MutationResult, RecordState, Status

LOW_HLC, HIGH_HLC = "0000000000001-0000-server", "9999999999999-0000-server"
# One record per entity, so field-level policies of each kind take part: last writer wins
# and manual (account), counter (van_stock), state precedence and client wins (work_order).
FIELDS = {
    "account": {"name": st.sampled_from(["Ada", "Bea"]), "notes": st.sampled_from(["x", "y"]),
                "territory_id": st.sampled_from(["t1", "t2"])},
    "van_stock": {"quantity": st.integers(0, 3), "part_id": st.sampled_from(["p1", "p2"])},
    "work_order": {"status": st.sampled_from(["new", "dispatched", "completed", "cancelled"]),
                   "resolution": st.sampled_from(["fixed", "replaced"])},
}
RECORDS = {entity: f"{entity}-1" for entity in FIELDS}
entities = st.sampled_from(sorted(FIELDS))


def values(entity: str) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional=FIELDS[entity])


writes = entities.flatmap(lambda e: st.tuples(
    st.just("write"), st.sampled_from(["create", "update", "delete"]), st.just(e), values(e)))
pulls = entities.flatmap(lambda e: st.tuples(
    st.just("pull"), st.booleans(), st.just(e), values(e), st.integers(0, 2),
    st.sampled_from([LOW_HLC, HIGH_HLC])))
answers = entities.flatmap(lambda e: st.tuples(
    st.just("answer"), st.sampled_from(list(Status)), st.just(e), values(e), st.booleans(),
    st.integers(0, 2)))
scripts = st.lists(st.one_of(writes, writes, pulls, answers), max_size=25)


def replica() -> SyncClient:
    client = SyncClient(":memory:")
    with client.store.transaction() as db:
        client.store.set_meta(db, device_id="device-1")  # as if signed in once
    return client


def write(client: SyncClient, op: str, entity: str, fields: dict) -> None:
    record_id = RECORDS[entity]
    with contextlib.suppress(LocalValidationError):
        if op == "create":
            client.create(entity, fields, record_id=record_id)
        elif op == "update":
            client.update(entity, record_id, fields)
        else:
            client.delete(entity, record_id)


def pull(client: SyncClient, put: bool, entity: str, data: dict, newer: int, hlc: str) -> None:
    """The server's state of the record, as a pulled page brings it."""
    version = (client.store.version(entity, RECORDS[entity]) or 0) + newer
    change = {"op": "put" if put else "delete", "entity": entity, "id": RECORDS[entity],
              "version": max(version, 1), "hlc": hlc, "data": data if put else None}
    with client.store.transaction() as db:
        client.store.apply_changes(db, [change])


def answer(client: SyncClient, status: Status, entity: str, data: dict, deleted: bool,
           newer: int) -> None:
    """The server's answer to the oldest outbox entry of the record, as a push brings it."""
    queued = [m for m in client.store.pending() if m.entity == entity]
    if not queued:
        return
    m = queued[0]
    version = (client.store.version(entity, m.record_id) or 0) + newer
    record = None if status is Status.REJECTED else RecordState(
        entity, m.record_id, max(version, 1), HIGH_HLC, deleted, {} if deleted else data)
    conflicts = (FieldConflict("name", "field", "lww", 1, 2, 3, 3),) * (
        status is Status.CONFLICT)
    result = MutationResult(m.mutation_id, status, entity, m.record_id, record, conflicts)
    with client.store.transaction() as db:
        client.store.record_results(db, [result])


def assert_views_are_the_full_replay(client: SyncClient) -> None:
    store = client.store
    for entity, record_id in RECORDS.items():
        with store.transaction() as db:
            replayed = local_view(entity, store.server_state(db, entity, record_id),
                                  store.pending_for(db, entity, record_id)).data
            row = db.execute("SELECT pending FROM record WHERE entity = ? AND id = ?",
                             (entity, record_id)).fetchone()
            queued = len(store.pending_for(db, entity, record_id))
        assert store.get(entity, record_id) == replayed, (entity, record_id)
        assert (row[0] if row else 0) == queued


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=scripts)
def test_the_stored_view_always_equals_replaying_the_outbox_over_the_server_state(script):
    client = replica()
    for step in script:
        {"write": write, "pull": pull, "answer": answer}[step[0]](client, *step[1:])
        assert_views_are_the_full_replay(client)
    client.close()


def test_a_write_on_top_of_many_pending_edits_replays_none_of_them(monkeypatch):
    client = replica()
    client.create("account", {"name": "Ada"}, record_id=RECORDS["account"])
    for n in range(20):
        client.update("account", RECORDS["account"], {"notes": f"visit {n}"})
    monkeypatch.setattr(type(client.store), "pending_for", None)  # a replay would need it
    client.update("account", RECORDS["account"], {"name": "Bea"})
    assert client.get("account", RECORDS["account"]) == {"name": "Bea", "notes": "visit 19"}
    client.close()


def stored(client: SyncClient, entity: str, record_id: str) -> tuple:
    with client.store.transaction() as db:
        return tuple(db.execute("SELECT server_data, data, pending FROM record "
                                "WHERE entity = ? AND id = ?", (entity, record_id)).fetchone())


def test_a_record_without_pending_edits_is_stored_once_and_read_from_its_server_state():
    client = replica()
    pull(client, True, "account", {"name": "Ada"}, 1, LOW_HLC)
    assert stored(client, "account", RECORDS["account"]) == ('{"name":"Ada"}', None, 0)
    assert client.get("account", RECORDS["account"]) == {"name": "Ada"}
    assert client.query("account", name="Ada") == [{"id": RECORDS["account"], "name": "Ada"}]
    assert client.store.all_views() == {("account", RECORDS["account"]): {"name": "Ada"}}
    assert client.status().records == 1
    client.close()


def test_an_edit_stores_the_view_until_the_server_answers_it():
    client = replica()
    pull(client, True, "account", {"name": "Ada"}, 1, LOW_HLC)
    client.update("account", RECORDS["account"], {"notes": "x"})
    assert stored(client, "account", RECORDS["account"])[1:] == ('{"name":"Ada","notes":"x"}', 1)
    answer(client, Status.APPLIED, "account", {"name": "Ada", "notes": "x"}, False, 1)
    assert stored(client, "account", RECORDS["account"])[1:] == (None, 0)
    assert client.get("account", RECORDS["account"]) == {"name": "Ada", "notes": "x"}
    client.close()


def test_a_replica_that_copied_the_server_state_into_the_view_reads_the_same():
    client = replica()
    pull(client, True, "account", {"name": "Ada"}, 1, LOW_HLC)
    with client.store.transaction() as db:  # as replicas written before kept every view
        db.execute("UPDATE record SET data = server_data")
    assert client.get("account", RECORDS["account"]) == {"name": "Ada"}
    pull(client, True, "account", {"name": "Bea"}, 1, LOW_HLC)
    assert stored(client, "account", RECORDS["account"]) == ('{"name":"Bea"}', None, 0)
    assert client.query("account", name="Bea") == [{"id": RECORDS["account"], "name": "Bea"}]
    client.close()


def test_a_replica_records_its_format_and_an_older_sdk_format_is_taken_over(tmp_path):
    path = tmp_path / "replica.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:  # from before the format was kept
        db.execute("PRAGMA user_version = 0")
    SyncClient(path).close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == FORMAT


def test_a_replica_written_by_a_newer_sdk_is_refused_untouched(tmp_path):
    path = tmp_path / "replica.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {FORMAT + 1}")
        db.execute("CREATE TABLE future (x)")
    with pytest.raises(ReplicaTooNew, match="newer SDK"):
        SyncClient(path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == FORMAT + 1
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("future",)]
