"""Tables of the database blob store (server.blobs.database): attachment bytes in chunks.

Used when several server hosts share the load and no shared filesystem is at hand; the
default filesystem store keeps none of this in the database.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.models.base import Base
from sync.sqltypes import UTCDateTime

UPLOAD_KEY = sa.String(90)  # "<sha256>.<length>"

blob_content = sa.Table(
    "blob_content",
    Base.metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# An upload in progress: how many bytes of it are stored for good.
blob_upload = sa.Table(
    "blob_upload",
    Base.metadata,
    sa.Column("key", UPLOAD_KEY, primary_key=True),
    sa.Column("length", sa.BigInteger, nullable=False),
    sa.Column("stored", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# The bytes, in rows of at most server.blobs.database.ROW_BYTES: under an upload's key while
# it is staged, under the content's sha256 once it is verified.
blob_chunk = sa.Table(
    "blob_chunk",
    Base.metadata,
    sa.Column("key", UPLOAD_KEY, primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
