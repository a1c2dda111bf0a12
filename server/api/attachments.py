"""Attachment bytes over HTTP: resumable chunked upload, ranged download, thumbnails.

The wire contract is docs/protocol.md §14. Every route first finds the attachment record
and checks the caller sees it (server.blobs.access): the bytes follow the record's scope.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request
from werkzeug.wsgi import wrap_file

from server.auth import current_principal, login_required
from server.blobs import BlobError, OffsetMismatch, uploads
from server.blobs.access import blob_store, upload_of, visible_attachment
from server.blobs.limits import current_limits
from server.blobs.readers import READ_BYTES
from server.blobs.thumbnails import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, render
from server.errors import STATUS, ApiError, error_body
from sync.errors import ErrorCode

bp = Blueprint("attachments", __name__, url_prefix="/api/v1/attachments")

CHUNK_TYPE = "application/offset+octet-stream"
# A blob never changes under its hash: a client may keep it as long as it likes.
IMMUTABLE = "private, max-age=31536000, immutable"

@bp.errorhandler(BlobError)
def _blob_error(exc: BlobError):
    response = jsonify(error_body(exc.code, str(exc)))
    response.status_code = STATUS[ErrorCode(exc.code)]
    if isinstance(exc, OffsetMismatch):
        response.headers["Upload-Offset"] = str(exc.stored)
    return response


def _attachment(attachment_id: str):
    return visible_attachment(current_principal().actor(None), attachment_id)


@bp.route("/<attachment_id>/upload", methods=["HEAD"])
@login_required()
def upload_offset(attachment_id: str):
    """How much of the attachment's bytes the server holds (Upload-Offset)."""
    upload = upload_of(_attachment(attachment_id))
    done = uploads.offset(blob_store(), upload)
    return Response(status=200, headers=_offset_headers(done, upload.length))


@bp.patch("/<attachment_id>/upload")
@login_required()
def upload_chunk(attachment_id: str):
    """Append one chunk at Upload-Offset, checked against Upload-Checksum."""
    upload = upload_of(_attachment(attachment_id))
    limit = current_limits().max_bytes
    if upload.length > limit:
        raise ApiError("attachment_too_large", f"attachments are limited to {limit} bytes")
    if request.mimetype != CHUNK_TYPE:
        raise ApiError("unsupported_media_type", f"send a chunk as {CHUNK_TYPE}")
    start, checksum = _offset_header(), _checksum_header()
    end = uploads.append_chunk(blob_store(), upload, start, _body(), checksum)
    return Response(status=204, headers=_offset_headers(end, upload.length))


def _offset_headers(offset: int, length: int) -> dict[str, str]:
    return {"Upload-Offset": str(offset), "Upload-Length": str(length),
            "Cache-Control": "no-store"}


def _offset_header() -> int:
    raw = request.headers.get("Upload-Offset", "")
    if not raw.isdigit():
        raise ApiError("bad_request", "Upload-Offset must be a non-negative integer",
                       {"Upload-Offset": ["a non-negative integer"]})
    return int(raw)


def _checksum_header() -> bytes:
    algorithm, _, value = request.headers.get("Upload-Checksum", "").partition(" ")
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if algorithm != "sha256" or len(digest) != 32:
        raise ApiError("bad_request", "Upload-Checksum must be 'sha256 <base64 digest>'",
                       {"Upload-Checksum": ["sha256 <base64 of the chunk's digest>"]})
    return digest


def _body() -> Iterator[bytes]:
    # Streamed: a chunk is never held in memory whole (werkzeug stops at Content-Length
    # and raises ClientDisconnected when the connection is cut before it).
    stream = request.stream
    while piece := stream.read(READ_BYTES):
        yield piece


@bp.get("/<attachment_id>/content")
@login_required()
def content(attachment_id: str):
    """The attachment's bytes; Range, ETag (its sha256) and If-None-Match apply."""
    row = _attachment(attachment_id)
    upload = upload_of(row)
    if request.if_none_match.contains(upload.sha256):
        return _conditional(Response(status=304), upload.sha256, None)
    store = blob_store()
    size = store.size(upload.sha256)
    if size is None:
        raise ApiError("content_not_uploaded", "the attachment's bytes are not uploaded yet")
    reader = store.open(upload.sha256)
    response = Response(wrap_file(request.environ, reader, READ_BYTES),
                        mimetype=row.content_type, direct_passthrough=True)
    response.content_length = size
    response.headers["Content-Disposition"] = (
        f"inline; filename*=UTF-8''{quote(row.filename, safe='')}")
    try:
        return _conditional(response, upload.sha256, size)
    except Exception:  # a range outside the blob (416): the response is never sent
        reader.close()
        raise


def _conditional(response: Response, etag: str, size: int | None) -> Response:
    response.set_etag(etag)
    response.headers["Cache-Control"] = IMMUTABLE
    return response.make_conditional(request, accept_ranges=size is not None,
                                     complete_length=size)


@bp.get("/<attachment_id>/thumbnail")
@login_required()
def thumbnail(attachment_id: str):
    """A thumbnail (JPEG, or PNG for transparent images) fitting ?size= pixels (256)."""
    row = _attachment(attachment_id)
    upload = upload_of(row)
    size = min(max(request.args.get("size", DEFAULT_SIZE, type=int), MIN_SIZE), MAX_SIZE)
    etag = f"{upload.sha256}-{size}"
    if request.if_none_match.contains(etag):
        return _conditional(Response(status=304), etag, None)
    if not row.content_type.startswith("image/"):
        raise ApiError("no_thumbnail", "only image attachments have thumbnails")
    store = blob_store()
    if store.size(upload.sha256) is None:
        raise ApiError("content_not_uploaded", "the attachment's bytes are not uploaded yet")
    data, media_type = render(store.open(upload.sha256), size)
    return _conditional(Response(data, mimetype=media_type), etag, None)


def attachment_links(entity: str, record_id: str) -> dict:
    """The URLs of an attachment record's bytes, for the records API ({} for others)."""
    if entity != "attachment":
        return {}
    base = f"{request.script_root}/api/v1/attachments/{record_id}"
    return {"links": {"content": f"{base}/content", "thumbnail": f"{base}/thumbnail",
                      "upload": f"{base}/upload"}}
