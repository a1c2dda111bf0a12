"""Retention of attachment bytes: a blob no live record points to is deleted, and so is an
upload abandoned for a week.

A blob is kept for BLOB_GRACE after its last record was deleted (or after it was stored, if
no record ever pointed to it): a device that syncs a new record for the same content right
then still finds the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from server.blobs import BlobStore
from server.models import Attachment
from sync.database import read_transaction

BLOB_GRACE = timedelta(hours=24)
UPLOAD_EXPIRY = timedelta(days=7)

_attachment = Attachment.__table__


@dataclass(frozen=True)
class BlobRetentionReport:
    blobs_deleted: int
    uploads_expired: int


def collect_blobs(store: BlobStore, engine: sa.Engine, *, now: datetime,
                  grace: timedelta = BLOB_GRACE,
                  upload_expiry: timedelta = UPLOAD_EXPIRY) -> BlobRetentionReport:
    """Delete the blobs no record needs any more and the uploads abandoned since
    `upload_expiry`; returns how many of each."""
    deleted = 0
    for sha256, stored_at in list(store.blobs()):
        if stored_at < now - grace and not _needed(engine, sha256, now - grace):
            store.delete(sha256)
            deleted += 1
    expired = [upload for upload, at in list(store.uploads()) if at < now - upload_expiry]
    for upload in expired:
        store.discard(upload)
    return BlobRetentionReport(deleted, len(expired))


def _needed(engine: sa.Engine, sha256: str, since: datetime) -> bool:
    """Whether a live record points to the blob, or one deleted after `since`."""
    recent = sa.or_(_attachment.c.deleted_at.is_(None), _attachment.c.deleted_at >= since)
    with read_transaction(engine) as conn:
        return conn.execute(sa.select(_attachment.c.id).where(
            _attachment.c.sha256 == sha256, recent).limit(1)).first() is not None
