"""A minimal protocol client for server tests: logs in, pushes, pulls into a dict replica.

Deliberately independent of client_sdk/ so the server is tested against the protocol as
docs/protocol.md states it, not against our own SDK's reading of it.
"""

from __future__ import annotations

from typing import Any

from sync.protocol import PROTOCOL_VERSION
from tests.helpers import bearer, login


class Device:
    def __init__(self, client, user, name: str = "laptop"):
        self.client = client
        self.user = user
        session = login(client, user.email, user.password, device=name)
        self.token = session["access_token"]
        self.device_id = session["device"]["id"]
        self.cursor: str | None = None
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.next_mutation_id = 1

    def post(self, path: str, body: dict):
        return self.client.post(path, json=body, headers=bearer(self.token))

    def push(self, *mutations: dict) -> list[dict]:
        """Push mutation dicts (ids assigned here unless given); returns the results."""
        batch = []
        for m in mutations:
            m = dict(m)
            if "mutation_id" not in m:
                m["mutation_id"] = self.next_mutation_id
                self.next_mutation_id += 1
            batch.append(m)
        response = self.post("/api/v1/sync/push", {"protocol": PROTOCOL_VERSION,
                                                    "mutations": batch})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["results"]

    def pull_page(self, limit: int = 1000) -> dict:
        response = self.post("/api/v1/sync/pull", {"protocol": PROTOCOL_VERSION,
                                                    "cursor": self.cursor, "limit": limit})
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        for change in page["changes"]:
            self.apply(change)
        self.cursor = page["cursor"]
        return page

    def sync(self, limit: int = 1000) -> list[dict]:
        """Pull until caught up; returns every change received."""
        received = []
        while True:
            page = self.pull_page(limit)
            received += page["changes"]
            if not page["more"]:
                return received

    def apply(self, change: dict) -> None:
        key = (change["entity"], change["id"])
        held = self.records.get(key)
        if held is not None and held["version"] > change["version"]:
            return
        if change["op"] == "put":
            self.records[key] = {"version": change["version"], "data": change["data"]}
        else:
            self.records.pop(key, None)

    def has(self, entity: str, record_id: str) -> bool:
        return (entity, record_id) in self.records

    def data(self, entity: str, record_id: str) -> dict:
        return self.records[(entity, record_id)]["data"]

    def version(self, entity: str, record_id: str) -> int:
        return self.records[(entity, record_id)]["version"]

    def entities(self) -> set[str]:
        return {entity for entity, _ in self.records}
