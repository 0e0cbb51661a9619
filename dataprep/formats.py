"""Image format sniffing from magic bytes (what the stdlib's `imghdr` did; it is gone in 3.13),
and the structure of JPEG and PNG streams: where the image data really ends.

Pure functions on bytes: no decoding, no I/O.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

# Formats TensorFlow's `decode_image` reads (what training uses).
TF_FORMATS = frozenset({"jpeg", "png", "gif", "bmp", "webp"})

EXTENSION_FORMATS = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".jfif": "jpeg",
    ".png": "png", ".gif": "gif", ".bmp": "bmp", ".webp": "webp",
    ".tif": "tiff", ".tiff": "tiff", ".heic": "heic", ".heif": "heic", ".avif": "avif",
}  # fmt: skip


def sniff_format(head: bytes) -> str | None:
    """The image format the first bytes announce, or None when they announce no image."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis"):
            return "heic"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ico"
    if head[:4] == b"8BPS":
        return "psd"
    if head[:2] in (b"P1", b"P2", b"P3", b"P4", b"P5", b"P6") and head[2:3] in (b"\n", b" ", b"\r", b"\t"):
        return "pnm"
    if head[:4] == b"\x76\x2f\x31\x01":
        return "exr"
    return None


def describe_content(head: bytes) -> str:
    """A short human description of bytes that are not an image: 'HTML', 'text', 'PDF', ..."""
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<svg"):
        return "XML/SVG text"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if not head.strip(b"\x00"):
        return "only zero bytes"
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "unrecognised binary data"


def extension_format(name: str) -> str | None:
    return EXTENSION_FORMATS.get(os.path.splitext(name.lower())[1])


@dataclass(frozen=True)
class StreamEnd:
    """Where a stream's end marker is: `end` is the offset just past it, None when missing."""

    end: int | None
    size: int

    @property
    def truncated(self) -> bool:
        return self.end is None

    @property
    def trailing_bytes(self) -> int:
        return 0 if self.end is None else self.size - self.end


_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn carry no length
# In entropy-coded data FF 00 is a stuffed byte, FF D0-D7 a restart marker and FF FF fill;
# any other FF xx is the next real marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def jpeg_stream_end(data: bytes) -> StreamEnd:
    """Walk JPEG marker segments and entropy-coded scans to the EOI marker.

    Embedded thumbnails (inside APP1) are skipped by segment length, so their EOI is not
    mistaken for the image's. Garbage between segments is skipped the way libjpeg does.
    """
    n = len(data)
    if data.endswith(b"\xff\xd9"):
        return StreamEnd(n, n)  # the common case: ends with EOI, nothing after it
    pos = 2  # after SOI
    while pos < n:
        ff = data.find(b"\xff", pos)
        if ff < 0 or ff + 1 >= n:
            return StreamEnd(None, n)
        marker = data[ff + 1]
        if marker == 0xFF:  # fill byte
            pos = ff + 1
            continue
        if marker == 0xD9:
            return StreamEnd(ff + 2, n)
        if marker in _STANDALONE or marker == 0x00:
            pos = ff + 2
            continue
        if ff + 4 > n:
            return StreamEnd(None, n)
        length = int.from_bytes(data[ff + 2 : ff + 4], "big")
        pos = ff + 2 + length
        if marker == 0xDA:  # start of scan: skip entropy-coded data to the next real marker
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                return StreamEnd(None, n)
            pos = found.start()
    return StreamEnd(None, n)


def png_stream_end(data: bytes) -> StreamEnd:
    """Walk PNG chunks to the end of IEND."""
    n = len(data)
    pos = 8
    while pos + 8 <= n:
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            return StreamEnd(None, n)
        if ctype == b"IEND":
            return StreamEnd(end, n)
        pos = end
    return StreamEnd(None, n)


def _skip_sub_blocks(data: bytes, pos: int) -> int | None:
    """Offset after a GIF sub-block chain (size byte, data, ..., 0), or None when cut short."""
    n = len(data)
    while pos < n:
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    return None


def gif_stream_end(data: bytes) -> StreamEnd:
    """Walk GIF blocks (extensions, images) to the 0x3B trailer."""
    n = len(data)
    if n < 13:
        return StreamEnd(None, n)
    pos = 13
    if data[10] & 0x80:  # global colour table
        pos += 3 * (2 ** ((data[10] & 0x07) + 1))
    while pos < n:
        block = data[pos]
        if block == 0x3B:
            return StreamEnd(pos + 1, n)
        if block == 0x21 and pos + 2 <= n:  # extension: label, then sub-blocks
            after = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C and pos + 10 <= n:  # image descriptor, local table, LZW size, sub-blocks
            flags = data[pos + 9]
            pos += 10
            if flags & 0x80:
                pos += 3 * (2 ** ((flags & 0x07) + 1))
            after = _skip_sub_blocks(data, pos + 1)
        else:
            return StreamEnd(None, n)
        if after is None:
            return StreamEnd(None, n)
        pos = after
    return StreamEnd(None, n)


def stream_end(fmt: str | None, data: bytes) -> StreamEnd | None:
    """Stream end for formats with an explicit end marker, else None."""
    if fmt == "jpeg":
        return jpeg_stream_end(data)
    if fmt == "png":
        return png_stream_end(data)
    if fmt == "gif":
        return gif_stream_end(data)
    return None


def has_jfif_marker(data: bytes) -> bool:
    """True when a JPEG carries the JFIF APP0 marker (what the Keras tutorial's filter looks for)."""
    return data[6:10] == b"JFIF" or b"JFIF\x00" in data[:64]
