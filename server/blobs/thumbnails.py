"""Thumbnails of image attachments for lists and the back office (Pillow)."""

from __future__ import annotations

import io
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from server.blobs import BlobError

DEFAULT_SIZE, MIN_SIZE, MAX_SIZE = 256, 32, 1024


class NoThumbnail(BlobError):
    """The attachment is not an image Pillow can read."""

    code = "no_thumbnail"


def render(reader: BinaryIO, size: int) -> tuple[bytes, str]:
    """A thumbnail fitting `size` x `size` of the image `reader` holds: (bytes, media type).
    PNG when the image has transparency (a signature), JPEG otherwise. Raises NoThumbnail."""
    try:
        with reader, Image.open(reader) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
            image = ImageOps.exif_transpose(image)
            image.thumbnail((size, size))
            return _encode(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise NoThumbnail("the attachment is not an image the server can read") from exc


def _encode(image: Image.Image) -> tuple[bytes, str]:
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P"):
        image.save(out, "PNG", optimize=True)
        return out.getvalue(), "image/png"
    image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue(), "image/jpeg"
