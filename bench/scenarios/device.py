"""A light simulated device: the SDK's HTTP calls (`client_sdk.api.Api`) and an in-memory
replica, so hundreds of devices fit in one process.

Like the SDK, a device re-sends a request that failed in transit (a kept-alive connection
that the server closed just then); the protocol makes that safe. Such retries are counted
apart; a request that still fails, an error answer or a rejected mutation is an error.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench.scenarios import data, seeding
from bench.scenarios.measure import Recorder, TimedTransport
from client_sdk.api import Api
from client_sdk.errors import FieldsyncError, OfflineError
from client_sdk.jsonio import change_data_text
from sync.hlc import Clock
from sync.protocol import Mutation, MutationResult, Op, Status

PAGE = 1000
MAX_PAGES = 200  # a bound on one pull loop
RETRIES = 2  # re-sends of a request that failed in transit
T = TypeVar("T")


@dataclass
class DeviceLog:
    pushed: list[tuple[str, str, int]] = field(default_factory=list)  # entity, id, version
    errors: list[str] = field(default_factory=list)
    conflicts: int = 0
    mutations: int = 0
    retries: int = 0


class SimDevice:
    """One rep's device: login, pull until caught up, push a few changes."""

    def __init__(self, number: int, rep: seeding.Rep, url: str, recorder: Recorder):
        self.number, self.rep = number, rep
        self.api = Api(url, transport=TimedTransport(recorder), timeout=120.0)
        self.rng = random.Random(f"device:{number}")
        self.records: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.cursor: str | None = None
        self.token = ""
        self.clock = Clock("unset")
        self.next_mutation = 1
        self.log = DeviceLog()

    def login(self) -> None:
        answer = self.api.login(self.rep.email, seeding.PASSWORD, f"sim device {self.number}")
        self.token = answer["access_token"]
        self.clock = Clock(answer["device"]["id"])

    def pull_all(self) -> None:
        for _ in range(MAX_PAGES):
            page = self._call(lambda: self.api.pull(self.token, self.cursor, PAGE))
            for change in page["changes"]:
                key = (change["entity"], change["id"])
                if change["op"] == "put":
                    self.records[key] = (change["version"], json.loads(change_data_text(change)))
                    self.clock.observe(change["hlc"])
                else:
                    self.records.pop(key, None)
            self.cursor = page["cursor"]
            if not page["more"]:
                return
        raise RuntimeError(f"device {self.number}: no end to pulling after {MAX_PAGES} pages")

    def sync_round(self, round_no: int, creates: int, updates: int) -> None:
        """Make changes, push them, pull; a failure is logged and ends the round."""
        try:
            mutations = self._changes(round_no, creates, updates)
            results = self._call(lambda: self.api.push(self.token, mutations))
            for result in results:
                self._take(result)
            self.pull_all()
        except FieldsyncError as exc:
            self.log.errors.append(f"device {self.number} round {round_no}: {exc}")

    def close(self) -> None:
        self.api.close()

    def _call(self, request: Callable[[], T]) -> T:
        for attempt in range(RETRIES + 1):
            try:
                return request()
            except OfflineError:
                if attempt == RETRIES:
                    raise
                self.log.retries += 1
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _changes(self, round_no: int, creates: int, updates: int) -> list[Mutation]:
        mutations = []
        for k in range(creates):
            record = data.account(self.rep.territory_id, round_no * creates + k,
                                  label=f"D{self.number}")
            fields = {key: value for key, value in record.items() if key != "id"}
            mutations.append(self._mutation(record["id"], Op.CREATE, None, fields, {}))
        seeded = sorted(key for key, (_, d) in self.records.items()
                        if key[0] == "account" and d.get("territory_id") == self.rep.territory_id)
        for key in self.rng.sample(seeded, min(updates, len(seeded))):
            version, current = self.records[key]
            phone = f"+1 312-555-{(self.number * 10 + round_no) % 10000:04d}"
            mutations.append(self._mutation(key[1], Op.UPDATE, version, {"phone": phone},
                                            {"phone": current.get("phone")}))
        return mutations

    def _mutation(self, record_id, op, base_version, fields, base) -> Mutation:
        mutation = Mutation(self.next_mutation, "account", record_id, op, base_version, fields,
                            base, self.clock.now())
        self.next_mutation += 1
        self.log.mutations += 1
        return mutation

    def _take(self, result: MutationResult) -> None:
        if result.status is Status.REJECTED:
            self.log.errors.append(f"device {self.number}: rejected {result.error}")
            return
        self.log.conflicts += result.status is Status.CONFLICT
        record = result.record
        self.log.pushed.append((record.entity, record.record_id, record.version))
        self.records[(record.entity, record.record_id)] = (record.version, record.data)
