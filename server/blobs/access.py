"""Who may read or upload an attachment's bytes: whoever sees its record.

A blob is reached only through an attachment record the caller may see (same scope rule as
a pull), so a blob is readable only by users who can see a record that points to it. Anyone
else gets `404 not_found`, the same answer as for an id that does not exist.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask import current_app

from server.blobs import BlobStore, UploadKey
from server.blobs.database import DatabaseBlobStore
from server.blobs.filesystem import FileBlobStore
from server.errors import ApiError, not_found
from server.extensions import db
from server.models import SYNC_TABLES, Attachment
from sync.database import read_transaction
from sync.entities import Actor

_attachment = Attachment.__table__
_keys = SYNC_TABLES.record_key


def blob_store() -> BlobStore:
    """The app's blob store (BLOB_STORE: `filesystem` or `database`), built on first use."""
    store = current_app.extensions.get("fieldsync.blobs")
    if store is None:
        store = make_store(current_app.config, db.engine)
        current_app.extensions["fieldsync.blobs"] = store
    return store


def make_store(config, engine: sa.Engine) -> BlobStore:
    """The blob store `config` asks for; raises ValueError for an unknown BLOB_STORE."""
    kind = config.get("BLOB_STORE", "filesystem")
    if kind == "filesystem":
        return FileBlobStore(config["BLOB_DIR"])
    if kind == "database":
        return DatabaseBlobStore(engine)
    raise ValueError(f"BLOB_STORE must be filesystem or database, not {kind!r}")


def visible_attachment(actor: Actor, attachment_id: str) -> sa.Row:
    """The live attachment record `attachment_id` if `actor` sees it; raises ApiError 404
    (not_found) otherwise, whether it does not exist or is out of the actor's scope."""
    try:
        record_id = str(uuid.UUID(attachment_id))
    except ValueError:
        raise not_found("no such attachment") from None
    with read_transaction(db.engine) as conn:
        row = conn.execute(sa.select(_attachment).where(
            _attachment.c.id == record_id, _attachment.c.deleted_at.is_(None))).first()
        keys = conn.execute(sa.select(_keys.c.key).where(
            _keys.c.entity == "attachment", _keys.c.record_id == record_id)).scalars().all()
    if row is None or not actor.sees(keys):
        raise not_found("no such attachment")
    return row


def upload_of(row: sa.Row) -> UploadKey:
    """The upload of an attachment's bytes; ApiError 422 when the record has no sha256."""
    if not row.sha256:
        raise ApiError("no_content_hash",
                       "the attachment has no sha256: set it before uploading its bytes")
    return UploadKey(row.sha256, row.size_bytes)
