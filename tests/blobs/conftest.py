"""Fixtures for the blob tests: each blob store, on the test database where it needs one."""

from __future__ import annotations

import pytest

from server.blobs.database import DatabaseBlobStore
from server.blobs.filesystem import FileBlobStore

STORES = ["filesystem", "database"]


@pytest.fixture(params=STORES)
def store(request, tmp_path, engine):
    """Each BlobStore implementation in turn (the database one on the test database)."""
    if request.param == "filesystem":
        return FileBlobStore(tmp_path / "blobs")
    return DatabaseBlobStore(engine)
