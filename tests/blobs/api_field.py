"""An app on one blob store with the test world and its signed-in users, for API tests."""

from __future__ import annotations

import base64
import hashlib
import itertools
import uuid

from tests.helpers import bearer, login
from tests.world import build_world

CHUNK_TYPE = "application/offset+octet-stream"
_mutation_ids = itertools.count(1)


class Field:
    """An app with its world and signed-in users, on one blob store."""

    def __init__(self, app):
        self.app, self.http = app, app.test_client()
        self.world = build_world(app)
        self.tokens = {}

    def auth(self, user: str) -> dict:
        if user not in self.tokens:
            person = self.world.user(user)
            self.tokens[user] = login(self.http, person.email, person.password, user)
        return bearer(self.tokens[user]["access_token"])

    def attach(self, user: str, data: bytes, *, work_order: str = "wo_a", **fields) -> dict:
        """Push an attachment record for `data`; returns the push result."""
        record_id = str(uuid.uuid4())
        values = {"work_order_id": self.world.ids[work_order], "kind": "photo",
                  "filename": "compressor.jpg", "content_type": "image/jpeg",
                  "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                  **fields}
        answer = self.http.post("/api/v1/sync/push", headers=self.auth(user), json={
            "protocol": 1, "mutations": [{"mutation_id": next(_mutation_ids),
                                          "entity": "attachment", "id": record_id,
                                          "op": "create", "fields": values}]})
        [result] = answer.get_json()["results"]
        return {**result, "id": record_id}

    def offset(self, user: str, record_id: str):
        return self.http.head(f"/api/v1/attachments/{record_id}/upload",
                              headers=self.auth(user))

    def send(self, user: str, record_id: str, start: int, chunk: bytes,
             checksum: bytes | None = None):
        digest = base64.b64encode(checksum or hashlib.sha256(chunk).digest()).decode()
        return self.http.patch(f"/api/v1/attachments/{record_id}/upload", data=chunk,
                               headers={**self.auth(user), "Content-Type": CHUNK_TYPE,
                                        "Upload-Offset": str(start),
                                        "Upload-Checksum": f"sha256 {digest}"})

    def upload(self, user: str, record_id: str, data: bytes, chunk: int = 400_000) -> None:
        start = int(self.offset(user, record_id).headers["Upload-Offset"])
        while start < len(data):
            answer = self.send(user, record_id, start, data[start:start + chunk])
            assert answer.status_code == 204, answer.get_json()
            start = int(answer.headers["Upload-Offset"])

    def get(self, user: str, path: str, **headers):
        """GET, read in full and closed (so the blob's file is closed, as a WSGI server
        closes it)."""
        answer = self.http.get(path, headers={**self.auth(user), **headers})
        answer.get_data()
        answer.close()
        return answer


def photo(size: int = 1_000_000, seed: int = 7) -> bytes:
    block = hashlib.sha256(bytes([seed])).digest()
    return (block * (size // 32 + 1))[:size]


def record_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
