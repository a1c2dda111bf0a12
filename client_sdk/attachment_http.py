"""The HTTP side of attachment bytes (docs/protocol.md §14): upload offsets and chunks,
ranged downloads, each with the session's token (refreshed once on an expired one)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from client_sdk.errors import OfflineError, ServerError
from client_sdk.session import Session

CHUNK_TYPE = "application/offset+octet-stream"


class AttachmentHttp:
    """Requests on /attachments/{id}/... through the SDK's httpx client."""

    def __init__(self, http: httpx.Client, session: Session):
        self._http, self._session = http, session

    def offset(self, record_id: str) -> int:
        """How many bytes of the attachment the server holds (HEAD .../upload)."""
        answer = self._send("HEAD", f"/attachments/{record_id}/upload")
        return int(answer.headers["Upload-Offset"])

    def send_chunk(self, record_id: str, offset: int, chunk: bytes) -> int:
        """PATCH one chunk at `offset`; returns the server's new offset. Raises ServerError
        (upload_offset_mismatch, checksum_mismatch, content_hash_mismatch...), OfflineError."""
        digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        answer = self._send("PATCH", f"/attachments/{record_id}/upload", content=chunk,
                            headers={"Content-Type": CHUNK_TYPE, "Upload-Offset": str(offset),
                                     "Upload-Checksum": f"sha256 {digest}"})
        return int(answer.headers["Upload-Offset"])

    @contextmanager
    def download(self, record_id: str, start: int, etag: str) -> Iterator[httpx.Response]:
        """The content from byte `start` on (all of it if the server's ETag is no longer
        `etag`: then the answer is 200, not 206), as a streamed response."""
        headers = {"Range": f"bytes={start}-", "If-Range": f'"{etag}"'} if start else {}
        with self._authorised(lambda token: self._http.stream(
                "GET", f"/attachments/{record_id}/content",
                headers={"Authorization": f"Bearer {token}", **headers})) as answer:
            yield answer

    def _send(self, method: str, path: str, **options) -> httpx.Response:
        def request(token: str):
            headers = {"Authorization": f"Bearer {token}", **options.pop("headers", {})}
            return _closing(self._http.request(method, path, headers=headers, **options))
        with self._authorised(lambda token: request(token)) as answer:
            return answer

    @contextmanager
    def _authorised(self, open_response: Callable[[str], object]) -> Iterator[httpx.Response]:
        try:
            with open_response(self._session.token()) as answer:
                if not _expired(answer):
                    _raise_for(answer)
                    yield answer
                    return
            with open_response(self._session.refresh()) as answer:
                _raise_for(answer)
                yield answer
        except httpx.TransportError as exc:
            raise OfflineError(f"cannot reach the server: {exc}") from exc


@contextmanager
def _closing(response: httpx.Response) -> Iterator[httpx.Response]:
    try:
        yield response
    finally:
        response.close()


def _expired(answer: httpx.Response) -> bool:
    # A HEAD answer has no body to tell why: any 401 is worth one refresh (a revoked
    # session then fails the refresh itself).
    return answer.status_code == 401


def _raise_for(answer: httpx.Response) -> None:
    if answer.is_success or answer.status_code == 304:
        return
    answer.read()
    try:
        error = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        raise ServerError(answer.status_code, "http_error", answer.text[:200]) from None
    raise ServerError(answer.status_code, error.get("code", "http_error"),
                      error.get("message", ""), error.get("fields") or {})
