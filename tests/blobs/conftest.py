"""Fixtures for the blob tests: each blob store, on the test database where it needs one."""

from __future__ import annotations

import pytest

from server.blobs.database import DatabaseBlobStore
from server.blobs.filesystem import FileBlobStore
from tests.blobs.api_field import Field
from tests.conftest import app_on

STORES = ["filesystem", "database"]


@pytest.fixture(params=STORES)
def store(request, tmp_path, engine):
    """Each BlobStore implementation in turn (the database one on the test database)."""
    if request.param == "filesystem":
        return FileBlobStore(tmp_path / "blobs")
    return DatabaseBlobStore(engine)


@pytest.fixture(params=STORES)
def field(request, database_url, tmp_path):
    """The test world on an app with each blob store, attachments limited to 3 MB."""
    with app_on(database_url, BLOB_STORE=request.param, BLOB_DIR=str(tmp_path / "blobs"),
                ATTACHMENT_MAX_BYTES=3_000_000) as app:
        yield Field(app)
