"""Readers that stream a blob in bounded pieces, never the whole file in memory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import BinaryIO

READ_BYTES = 256 * 1024


def pieces(reader: BinaryIO, size: int = READ_BYTES) -> Iterator[bytes]:
    """`reader`'s bytes from where it stands, `size` at a time."""
    while piece := reader.read(size):
        yield piece


def sha256_of(reader: BinaryIO) -> str:
    """The sha256 (hex) of everything `reader` holds from where it stands; closes it."""
    digest = hashlib.sha256()
    with reader:
        for piece in pieces(reader):
            digest.update(piece)
    return digest.hexdigest()
