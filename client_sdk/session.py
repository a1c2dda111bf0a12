"""The device's session: tokens kept in the replica, refreshed before they expire."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from client_sdk.api import Api
from client_sdk.errors import ErrorCode, NotLoggedIn, ServerError, SessionRevoked
from client_sdk.store import LocalStore

REVOKED = {ErrorCode.DEVICE_REVOKED, ErrorCode.USER_DISABLED, ErrorCode.REFRESH_TOKEN_REUSED}
EARLY_REFRESH_SECONDS = 30


class Session:
    def __init__(self, store: LocalStore, api: Api, clock: Callable[[], float] = time.time):
        self.store, self.api, self.clock = store, api, clock
        self._lock = threading.Lock()

    @property
    def device_id(self) -> str | None:
        return self.store.meta("device_id")

    @property
    def user(self) -> dict[str, Any] | None:
        import json

        raw = self.store.meta("user")
        return json.loads(raw) if raw else None

    def save(self, answer: dict[str, Any]) -> None:
        """Keep a login or refresh answer; the refresh token is stored before it is used."""
        import json

        now = self.clock()
        with self.store.transaction() as db:
            self.store.set_meta(
                db, access_token=answer["access_token"], refresh_token=answer["refresh_token"],
                access_expires_at=str(now + answer["expires_in"]),
                device_id=answer["device"]["id"], device_name=answer["device"]["name"],
                user=json.dumps(answer["user"]))
        # The old refresh token is spent: if a power loss brought it back, the next refresh
        # would present a reused token and the server would revoke the login.
        self.store.make_durable()

    def forget(self) -> None:
        with self.store.transaction() as db:
            self.store.set_meta(db, access_token=None, refresh_token=None,
                                access_expires_at=None)

    def token(self) -> str:
        """A valid access token, refreshed first when it is about to expire."""
        with self._lock:
            token = self.store.meta("access_token")
            if token is None and self.store.meta("refresh_token") is None:
                raise NotLoggedIn("sign in first (fieldsync-client login)")
            expires = float(self.store.meta("access_expires_at") or 0)
            if token is None or self.clock() > expires - EARLY_REFRESH_SECONDS:
                token = self._refresh()
            return token

    def refresh(self) -> str:
        with self._lock:
            return self._refresh()

    def _refresh(self) -> str:
        refresh_token = self.store.meta("refresh_token")
        if refresh_token is None:
            raise NotLoggedIn("sign in again")
        try:
            answer = self.api.refresh(refresh_token)
        except ServerError as exc:
            if exc.status in (401, 403):
                self.forget()
                kind = SessionRevoked if exc.code in REVOKED else NotLoggedIn
                raise kind(f"sign in again: {exc.message}") from exc
            raise
        self.save(answer)
        return answer["access_token"]
