"""HTTP calls of the sync protocol over an httpx client whose transport is injectable.

Tests hand in `httpx.WSGITransport(app=...)` to run against the Flask app in-process, or a
wrapper that drops responses to simulate a flaky network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from client_sdk.errors import ErrorCode, OfflineError, ServerError
from client_sdk.jsonio import decode_page, loads
from sync.protocol import PROTOCOL_VERSION, Mutation, MutationResult


class Api:
    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0):
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/api/v1",
                                  transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    @property
    def http(self) -> httpx.Client:
        """The underlying client, for requests outside the JSON shape (attachment bytes)."""
        return self._http

    def call(self, method: str, path: str, *, json: Any = None, token: str | None = None,
             encoded: str | None = None, decode: Callable[[bytes], Any] | None = None,
             sent: Callable[[], None] | None = None) -> Any:
        """One request with `json` (or `encoded`, the same already as JSON text); returns the
        decoded JSON answer (None for 204); a successful one is decoded by `decode`
        (client_sdk.jsonio.loads unless given), an error answer by the standard library.
        `sent`, when given, is called once the request's body is written out, while the
        answer is awaited (httpcore's trace tells; a transport that does not trace, as the
        tests' in-process ones, never calls it).

        Raises OfflineError when the server cannot be reached and ServerError for an
        error answer.
        """
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        content = None
        if encoded is not None:
            headers["Content-Type"] = "application/json"
            content = encoded.encode()
        try:
            response = self._http.request(method, path, json=json, content=content,
                                          headers=headers, extensions=_tracing(sent))
        except httpx.TransportError as exc:
            unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            raise OfflineError(f"cannot reach the server: {exc}", unsent=unsent) from exc
        if response.status_code == 204:
            return None
        try:
            body = ((decode or loads)(response.content) if response.is_success
                    else response.json())
        except ValueError:
            body = None
        if response.is_success and body is not None:
            return body
        error = (body or {}).get("error") if isinstance(body, dict) else None
        if not error:
            raise ServerError(response.status_code, ErrorCode.HTTP_ERROR, response.text[:200])
        raise ServerError(response.status_code, error.get("code", ErrorCode.HTTP_ERROR),
                          error.get("message", ""), error.get("fields") or {})

    def login(self, email: str, password: str, device_name: str,
              installation_id: str | None = None) -> dict:
        body = {"email": email, "password": password, "device_name": device_name}
        if installation_id is not None:
            body["installation_id"] = installation_id
        return self.call("POST", "/auth/login", json=body)

    def refresh(self, refresh_token: str) -> dict:
        return self.call("POST", "/auth/refresh", json={"refresh_token": refresh_token})

    def push(self, token: str, mutations: list[Mutation]) -> list[MutationResult]:
        return self.push_encoded(token, [
            json.dumps(m.to_wire(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            for m in mutations])

    def push_encoded(self, token: str, mutations: Sequence[str]) -> list[MutationResult]:
        """`push` for mutations already in their wire form as JSON text (as the outbox
        gives them), which spares decoding and encoding each of them again."""
        return self.push_results(self.push_answer(token, mutations))

    def push_answer(self, token: str, mutations: Sequence[str], *,
                    sent: Callable[[], None] | None = None) -> bytes:
        """`push_encoded` up to its successful answer, not yet decoded (`push_results`):
        raises as `call` does for an error answer or no answer; `sent` as for `call`."""
        return self.call("POST", "/sync/push", token=token, decode=bytes, sent=sent, encoded=(
            f'{{"protocol":{PROTOCOL_VERSION},"mutations":[{",".join(mutations)}]}}'))

    @staticmethod
    def push_results(answer: bytes) -> list[MutationResult]:
        """The results of a successful push answer; ServerError if it holds none."""
        try:
            body = loads(answer)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise ServerError(200, ErrorCode.HTTP_ERROR, answer[:200].decode(errors="replace"))
        return [MutationResult.from_wire(r) for r in body["results"]]

    def pull(self, token: str, cursor: str | None, limit: int) -> dict:
        """A pull page; each put's `data` is its JSON text as sent (see
        client_sdk.jsonio.decode_page), read with `change_data_text`."""
        return self.call("POST", "/sync/pull", token=token, json={
            "protocol": PROTOCOL_VERSION, "cursor": cursor, "limit": limit}, decode=decode_page)


# httpcore's trace event once a request's body is written out (http11.*, http2.*)
_BODY_SENT = "send_request_body.complete"


def _tracing(sent: Callable[[], None] | None) -> dict[str, Any] | None:
    """httpx request extensions calling `sent` once the body is written out."""
    if sent is None:
        return None

    def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith(_BODY_SENT):
            sent()
    return {"trace": trace}
