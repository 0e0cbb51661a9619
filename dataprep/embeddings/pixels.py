"""One image file -> the square uint8 RGB array the backbone reads.

JPEGs (almost every photo) are decoded by libjpeg-turbo through simplejpeg with DCT scaling: a
4000 px photo headed for 224 px is decoded at 1/8 of its size, far less work than a full decode
and a resize. Everything else goes through Pillow. The image is then squashed to the square
(the aspect ratio is not kept, as in Keras' image_dataset_from_directory and the trainer) with
Pillow's antialiased bilinear filter. EXIF orientation is ignored, as TensorFlow's decoder does:
the network sees the pixels the trainer sees.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

JPEG_MAGIC = b"\xff\xd8\xff"


class UndecodableImage(Exception):
    """The file could not be turned into pixels; the message says why."""


def load_square_rgb(path: Path, size: int) -> np.ndarray:
    """The image at `path` as a (size, size, 3) uint8 array."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UndecodableImage(f"unreadable: {err.strerror}") from None
    array = _jpeg_pixels(data, size) if data.startswith(JPEG_MAGIC) else None
    try:
        image = Image.fromarray(array) if array is not None else _pillow_image(data, size)
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise UndecodableImage(f"decode failed: {err}") from None


def _jpeg_pixels(data: bytes, size: int) -> np.ndarray | None:
    """libjpeg-turbo's DCT-scaled decode, at the smallest scale that still covers `size` on both
    sides; None for the JPEGs it does not take (CMYK, 12-bit, arithmetic-coded): Pillow reads those."""
    import simplejpeg

    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", min_width=size, min_height=size, strict=False)  # type: ignore[no-any-return]
    except ValueError:
        return None


def _pillow_image(data: bytes, size: int) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (size, size))  # JPEG only: DCT scaling in Pillow's own decoder
    image.seek(0)  # animated images: the first frame, as TensorFlow's decode_image gives
    return image.convert("RGB")
