"""The promises of docs/protocol.md, checked against a Fleet of devices and the server.

Some hold at every step (the outbox, what went over the wire, scope as of the last sync),
some once a device completed a sync (it holds exactly its scope), and some once writes
stopped and every device synced until nothing moved (receipts, recorded outcomes, history,
counters, scope keys).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from server.domain.policies import policy_for
from sync.policies import Policy
from tests.property.fleet import Device, Fleet, SyncMark
from tests.property.server_view import Key, expected_scope_keys

SETTLE_ROUNDS = 4
COMPUTED = {"order_line": {"unit_price", "line_total"}}  # the server prices order lines


# -- at every step -------------------------------------------------------------------------

def check_wire(fleet: Fleet) -> None:
    """Pushes carried the outbox unchanged; pulls sent current states within scope."""
    assert not fleet.violations, "\n".join(fleet.violations)


def check_outboxes(fleet: Fleet) -> None:
    """A mutation leaves the outbox exactly when its result reached the device."""
    for device in fleet.devices.values():
        pending = device.client.pending()
        assert [m.mutation_id for m in pending] == device.unacknowledged(), (
            f"{device.name} holds {[m.mutation_id for m in pending]} in its outbox but has "
            f"no answer for {device.unacknowledged()}")
        for m in pending:
            assert m == device.made[m.mutation_id], f"{device.name} altered {m}"


def check_scope_since_last_sync(fleet: Fleet) -> None:
    """A device holds a record outside its user's scope only if that record changed since
    the device last completed a sync (its next pull evicts it). When the user's own scope
    is not what it was then, or a pull since was served under another scope, only a sync
    can tell, and check_caught_up does."""
    server = fleet.server
    records, log = fleet.records(), fleet.log()
    keys = {user.id: server.keys_of(user) for user in {d.user for d in fleet.devices.values()}}
    for device in fleet.devices.values():
        mark, now = device.mark, keys[device.user.id]
        if now != mark.keys or device.pulled_under - {mark.keys}:
            continue
        outside = set(device.client.store.all_server_states()) - set(
            server.in_scope(device.user, records, now))
        unexplained = outside - {entry.key for entry in log if entry.seq > mark.head}
        assert not unexplained, f"{device.name} holds out-of-scope records {unexplained}"


def check_views(fleet: Fleet) -> None:
    """The app shows only records the device holds from the server or is creating."""
    for device in fleet.devices.values():
        held = set(device.client.store.all_server_states())
        creating = {(m.entity, m.record_id) for m in device.client.pending() if m.op == "create"}
        shown = set(device.client.store.all_views()) - held - creating
        assert not shown, f"{device.name} shows records it neither holds nor creates: {shown}"


def check_every_step(fleet: Fleet) -> None:
    check_wire(fleet)
    check_outboxes(fleet)
    check_scope_since_last_sync(fleet)
    check_views(fleet)


# -- after a completed sync ------------------------------------------------------------------

def check_caught_up(fleet: Fleet, device: Device) -> None:
    """After a sync that completed, the device's copy of the server equals the server's
    records in its user's scope, nothing more, and the app sees exactly that."""
    assert not device.client.pending(), f"{device.name} completed a sync with a full outbox"
    keys = fleet.server.keys_of(device.user)
    expected = fleet.server.in_scope(device.user, keys=keys)
    held = device.client.store.all_server_states()
    assert held == expected, f"{device.name} after sync:\n{_difference(expected, held)}"
    views = device.client.store.all_views()
    assert views == {key: data for key, (_, data) in held.items()}, (
        f"{device.name} shows other data than its server state")
    device.mark = SyncMark(fleet.head(), keys)
    device.pulled_under.clear()


def _difference(expected: dict, held: dict) -> str:
    lines = [f"  missing {key} {expected[key]}" for key in expected.keys() - held.keys()]
    lines += [f"  outside scope {key} {held[key]}" for key in held.keys() - expected.keys()]
    lines += [f"  {key}: server {expected[key]}, device {held[key]}"
              for key in expected.keys() & held.keys() if expected[key] != held[key]]
    return "\n".join(sorted(lines))


# -- once writes stopped ------------------------------------------------------------------

def settle(fleet: Fleet) -> None:
    """Sync every device on a good network, round after round, until nothing moves."""
    for _ in range(SETTLE_ROUNDS):
        head = fleet.head()
        for device in fleet.devices.values():
            assert device.sync(None)
            check_caught_up(fleet, device)
        if fleet.head() == head:
            break
    else:
        raise AssertionError(f"devices still pushing after {SETTLE_ROUNDS} rounds")
    for device in fleet.devices.values():
        check_caught_up(fleet, device)


def check_exactly_once(fleet: Fleet) -> None:
    """Every mutation a device made was handled once, and the device was told the result the
    server recorded (a replay answers the same as the first time)."""
    for device in fleet.devices.values():
        receipts = fleet.server.receipts(device.device_id)
        assert set(receipts) == set(device.made), (
            f"{device.name} made {sorted(device.made)}, server handled {sorted(receipts)}")
        assert device.told == receipts, f"{device.name} was told other results than recorded"


def check_outcomes_recorded(fleet: Fleet) -> None:
    """No acknowledged write is lost: an applied write carries the values sent, a conflict
    and a rejection are stored server-side with the full mutation, and the device keeps
    them for its user."""
    for device in fleet.devices.values():
        rejections = fleet.server.rejections(device.device_id)
        conflicts = fleet.server.conflicts(device.device_id)
        assert set(rejections) <= set(device.made) and set(conflicts) <= set(device.made)
        kept_rejections = {r["mutation_id"]: r for r in device.client.rejected()}
        kept_conflicts = {c["mutation_id"] for c in device.client.conflicts()}
        for mutation_id, result in device.told.items():
            m = device.made[mutation_id]
            stored = {"rejected": rejections, "conflict": conflicts}.get(result["status"], {})
            rows = stored.get(mutation_id, [])
            if result["status"] == "rejected":
                assert len(rows) == 1 and rows[0]["code"] == result["error"]["code"], rows
                assert kept_rejections[mutation_id]["code"] == result["error"]["code"]
            elif result["status"] == "conflict":
                assert len(rows) == len(result["conflicts"]) > 0, (result, rows)
                assert mutation_id in kept_conflicts, f"{device.name} forgot conflict {m}"
            else:
                assert not rejections.get(mutation_id) and not conflicts.get(mutation_id)
                _check_written(m, result["record"])
            for row in rows:
                assert row["mutation"] == m.to_wire(), f"stored {row['mutation']} for {m}"


def _check_written(m, record: dict[str, Any]) -> None:
    """An applied or merged mutation's answer holds the values it sent."""
    if record is None:
        return  # written, but now outside the author's scope: the answer leaves it out
    if m.op == "delete":
        assert record["deleted"], f"{m} applied but the record is not deleted"
        return
    policy = policy_for(m.entity)
    for name, value in m.fields.items():
        if policy.for_field(name).kind is not Policy.COUNTER:
            assert record["data"][name] == value, f"{m} applied as {record}"


def check_history(fleet: Fleet) -> None:
    """The log holds every version of every record, in order; each new version was made by
    a write that was accepted (a device's mutation or a back-office write), none twice; and
    answers naming the same version of a record agree on its state."""
    accepted: Counter[tuple[str | None, Key]] = Counter()
    for device in fleet.devices.values():
        for mutation_id, result in fleet.server.receipts(device.device_id).items():
            m = device.made[mutation_id]
            if result["status"] != "rejected":
                accepted[(device.device_id, (m.entity, m.record_id))] += 1
            if result["record"] is not None:
                fleet.history.saw(result["record"], writer=device.device_id, named=m.fields)
    for key in fleet.initial:
        accepted[(None, key)] += 1
    for key, count in fleet.back_office.writes.items():
        accepted[(None, key)] += count
    assert not fleet.history.clashes, "\n".join(fleet.history.clashes)
    logged: dict[Key, list[tuple[int, str | None]]] = {}
    for entry in fleet.log():
        logged.setdefault(entry.key, []).append((entry.version, entry.device_id))
    compared = 0
    for key, rec in fleet.server.records().items():
        entries = logged.get(key, [])
        versions = [version for version, _ in entries]
        assert versions == sorted(versions), f"{key} logged as {versions}"
        assert set(versions) == set(range(1, rec.version + 1)), (
            f"{key} is at v{rec.version}, the log has {versions}")
        for writer, made in _new_versions_by_writer(entries).items():
            assert made <= accepted[(writer, key)], (
                f"{key}: {writer or 'the server'} made {made} versions with "
                f"{accepted[(writer, key)]} accepted writes")
        known = fleet.history.states.get((*key, rec.version))
        assert known in (None, (rec.deleted, rec.data)), f"{key} is {rec}, answered {known}"
        compared += _check_only_named_fields_changed(fleet.history, key, entries)
    if compared:
        fleet.seen.add("writes compared with the versions before them")


def _check_only_named_fields_changed(history, key: Key, entries) -> int:
    """From one version to the next only the fields named by the write that made it change
    (and fields the server computes), so no write silently undoes another. Versions whose
    writer's answer left the record out (outside its author's scope) are skipped."""
    writers, compared = {}, 0
    for version, writer in entries:
        writers.setdefault(version, writer)
    for version in sorted(writers)[1:]:
        before, after = (history.states.get((*key, v)) for v in (version - 1, version))
        named = history.named.get((*key, version, writers[version]))
        if before is None or after is None or named is None:
            continue
        compared += 1
        changed = {f for f in before[1].keys() | after[1].keys()
                   if before[1].get(f) != after[1].get(f)}
        unnamed = changed - named - COMPUTED.get(key[0], set())
        assert not unnamed, (f"{key} v{version} changed {sorted(unnamed)}, which its write "
                             f"did not name: {before[1]} -> {after[1]}")
    return compared


def _new_versions_by_writer(entries: list[tuple[int, str | None]]) -> Counter[str | None]:
    """Who wrote each new version (entries repeating a version are scope cascades)."""
    made: Counter[str | None] = Counter()
    previous = 0
    for version, writer in entries:
        if version > previous:
            made[writer] += 1
        previous = max(previous, version)
    return made


def check_counters(fleet: Fleet) -> None:
    """Van stock is the initial quantity plus every delta the server accepted, each once."""
    records = fleet.server.records()
    for key, initial in fleet.initial.items():
        if key[0] != "van_stock":
            continue
        deltas = list(fleet.back_office.deltas[key[1]])
        for device in fleet.devices.values():
            deltas += [delta for mutation_id, delta in device.deltas.items()
                       if device.made[mutation_id].record_id == key[1]
                       and device.told[mutation_id]["status"] != "rejected"]
        now = records[key]
        assert now.data["quantity"] == initial.data["quantity"] + sum(deltas), (
            f"van stock {key[1]}: {initial.data['quantity']} + {deltas} "
            f"!= {now.data['quantity']}")
        assert now.version == initial.version + len(deltas), (
            f"van stock {key[1]} at v{now.version} after {len(deltas)} changes")


def check_scope_keys(fleet: Fleet) -> None:
    """Each record's scope keys are those its references give it (children follow parents)."""
    records = fleet.server.records()
    expected = expected_scope_keys(records)
    wrong = {key: (sorted(rec.keys), sorted(expected[key])) for key, rec in records.items()
             if key in expected and rec.keys != expected[key]}
    assert not wrong, f"records with stale scope keys (held, expected): {wrong}"


def check_after_settling(fleet: Fleet) -> None:
    check_exactly_once(fleet)
    check_outcomes_recorded(fleet)
    check_history(fleet)
    check_counters(fleet)
    check_scope_keys(fleet)
