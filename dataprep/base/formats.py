"""What a file's bytes are: image format sniffing from magic numbers (what the stdlib's `imghdr`
did; it is gone in 3.13) with Pillow's identification behind it, which formats TensorFlow reads,
the EXIF orientation, and the structure of JPEG, PNG and GIF streams (where the data really ends).

Functions on bytes already read: no I/O, and no pixel decoding.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

# Formats TensorFlow's `decode_image` reads (what training uses).
TF_FORMATS = frozenset({"jpeg", "png", "gif", "bmp", "webp"})

# Every image format we name: key -> (what users call it, its extensions; the first is the one
# a file is renamed to). Keys are what `identify_format` returns.
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "jpeg": ("JPEG", (".jpg", ".jpeg", ".jpe", ".jfif")),
    "png": ("PNG", (".png",)),
    "gif": ("GIF", (".gif",)),
    "bmp": ("BMP", (".bmp", ".dib")),
    "webp": ("WebP", (".webp",)),
    "tiff": ("TIFF", (".tif", ".tiff")),
    "heic": ("HEIC/HEIF", (".heic", ".heif", ".hif")),
    "avif": ("AVIF", (".avif",)),
    "jpeg2000": ("JPEG 2000", (".jp2", ".j2k", ".jpx", ".jpf", ".j2c", ".jpc")),
    "pnm": ("PPM/PGM/PBM", (".ppm", ".pgm", ".pbm", ".pnm", ".pam", ".pfm")),
    "tga": ("TGA", (".tga", ".icb", ".vda", ".vst")),
    "ico": ("ICO", (".ico", ".cur")),
    "psd": ("PSD", (".psd",)),
    "qoi": ("QOI", (".qoi",)),
    "sgi": ("SGI", (".sgi", ".rgb", ".rgba", ".bw")),
    "pcx": ("PCX", (".pcx",)),
    "dds": ("DDS", (".dds",)),
    "icns": ("ICNS", (".icns",)),
    "exr": ("OpenEXR", (".exr",)),
    "fits": ("FITS", (".fits", ".fit", ".fts")),
    "xbm": ("XBM", (".xbm",)),
    "xpm": ("XPM", (".xpm",)),
}
EXTENSION_FORMATS = {ext: key for key, (_name, exts) in FORMATS.items() for ext in exts}
IMAGE_EXTENSIONS = frozenset(EXTENSION_FORMATS)
# Pillow's format ids that are another name for one of ours.
_PILLOW_ALIASES = {"ppm": "pnm", "mpo": "jpeg", "dib": "bmp", "cur": "ico", "heif": "heic"}
_PNM_KINDS = {
    b"P1": "PBM",
    b"P4": "PBM",
    b"P2": "PGM",
    b"P5": "PGM",
    b"P3": "PPM",
    b"P6": "PPM",
    b"P7": "PAM",
    b"Pf": "PFM",
    b"PF": "PFM",
}


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
    if head[:2] in _PNM_KINDS and head[2:3] in (b"\n", b" ", b"\r", b"\t"):
        return "pnm"
    if head[:4] == b"\x76\x2f\x31\x01":
        return "exr"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xffO\xffQ")):
        return "jpeg2000"
    if head[:4] == b"qoif":
        return "qoi"
    if head[:2] == b"\x01\xda":
        return "sgi"
    if head[:4] == b"DDS ":
        return "dds"
    if head[:4] == b"icns":
        return "icns"
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    return None


def not_an_image(head: bytes) -> bool:
    """Bytes that are known to be something else (text, HTML, PDF, archives, Office/OLE files).
    Text in an image format Pillow reads (XBM, XPM: C source code) is not excluded here."""
    if is_text_image(head):
        return False
    return describe_content(head) != "unrecognised binary data" or head.startswith(_OTHER_MAGIC)


def is_text_image(head: bytes) -> bool:
    """The start of an image written as C source text: XPM (``/* XPM */``) or XBM (``#define
    NAME_width``), the signatures Pillow's plugins accept."""
    start = head.lstrip()
    return start.startswith(b"/* XPM */") or (start.startswith(b"#define") and b"_width" in start[:256])


# Containers that are never images: gzip, bzip2, xz, 7z, RAR, OLE (Thumbs.db, .doc), AppleDouble.
_OTHER_MAGIC = (
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!",
    b"\xd0\xcf\x11\xe0",
    b"\x00\x05\x16\x07",
)


def enable_heif() -> bool:
    """Let Pillow read HEIC/HEIF through the optional pillow-heif (`pip install 'dataprep[heif]'`).
    True when it is installed."""
    global _heif
    if _heif is None:
        try:
            import pillow_heif
        except ImportError:
            _heif = False
        else:
            pillow_heif.register_heif_opener()
            _heif = True
    return _heif


_heif: bool | None = None


def identify_format(data: bytes) -> str | None:
    """The image format of a file's bytes: magic numbers first, then Pillow's identification
    (TGA has no magic number; Pillow knows dozens of formats). None when it is no image.
    Reads only `data`, which the caller already has: no second read of the file."""
    fmt = sniff_format(data[:32])
    if fmt == "heic":
        enable_heif()  # before anyone asks Pillow for the header
    if fmt is not None or not data or not_an_image(data[:512]):
        return fmt
    import warnings
    from io import BytesIO

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(BytesIO(data)) as im:
                name = (im.format or "").lower()
                if not name or im.width < 1 or im.height < 1:
                    return None
    except Exception:
        return None
    return format_key(name)


def format_key(pillow_format: str) -> str:
    """Our key for one of Pillow's format ids ('PPM' -> 'pnm', 'JPEG2000' -> 'jpeg2000')."""
    key = pillow_format.lower()
    return _PILLOW_ALIASES.get(key, key)


def format_name(fmt: str, head: bytes = b"") -> str:
    """What users call a format: 'JPEG 2000', 'TGA', 'PPM' (from the bytes when they say which)."""
    if fmt == "pnm" and head[:2] in _PNM_KINDS:
        return _PNM_KINDS[head[:2]]
    return FORMATS.get(fmt, (fmt.upper(), ()))[0]


def format_extension(fmt: str) -> str:
    """The extension a file of this format gets when it is renamed: '.jpg', '.png', ..."""
    return FORMATS.get(fmt, ("", (f".{fmt}",)))[1][0]


def describe_content(head: bytes) -> str:
    """A short human description of bytes that are not an image: 'HTML', 'text', 'PDF', ..."""
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if stripped.startswith((b"<?xml", b"<svg")):
        return "XML/SVG text"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip archive"
    if not head.strip(b"\x00"):
        return "only zero bytes"
    if b"\x00" in head:  # text has no NUL bytes; image headers (TGA, ...) nearly always do
        return "unrecognised binary data"
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "unrecognised binary data"


def extension_format(name: str) -> str | None:
    """The format a file name's extension claims, or None for an extension no image format uses."""
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


# --- EXIF orientation ---------------------------------------------------------------------------

# What training sees, for each EXIF Orientation value, compared with what a viewer shows:
# TensorFlow's decoders ignore the tag; viewers (and Pillow's ImageOps.exif_transpose) apply it.
ORIENTATION_SEEN = {
    2: "mirrored left to right",
    3: "upside down (rotated 180°)",
    4: "mirrored top to bottom",
    5: "mirrored and rotated 90° counter-clockwise",
    6: "rotated 90° counter-clockwise",
    7: "mirrored and rotated 90° clockwise",
    8: "rotated 90° clockwise",
}


def _tiff_orientation(tiff: bytes) -> int | None:
    """The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block, or None."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order: Literal["little", "big"] = "little" if tiff[:2] == b"II" else "big"
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return None
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(tiff):
            return None
        if int.from_bytes(tiff[entry : entry + 2], order) == 0x0112:
            value = int.from_bytes(tiff[entry + 8 : entry + 10], order)
            return value if 1 <= value <= 8 else None
    return None


def _jpeg_exif(data: bytes) -> bytes | None:
    pos = 2
    n = len(data)
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xDA, 0xD9):  # the scan starts: metadata segments come before it
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xE1 and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
            return data[pos + 10 : pos + 2 + length]
        pos += 2 + length
    return None


def _png_exif(data: bytes) -> bytes | None:
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if kind == b"eXIf":
            return data[pos + 8 : pos + 8 + length]
        if kind in (b"IDAT", b"IEND"):
            return None
        pos += 12 + length
    return None


def _webp_exif(data: bytes) -> bytes | None:
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if kind == b"EXIF":
            block = data[pos + 8 : pos + 8 + length]
            return block[6:] if block.startswith(b"Exif\x00\x00") else block
        pos += 8 + length + (length & 1)
    return None


def exif_orientation(fmt: str | None, data: bytes) -> int | None:
    """The EXIF Orientation (1-8) of a JPEG, PNG or WebP, read from its metadata without
    decoding; None when it has none. (Other formats are re-encoded by `convert` anyway.)"""
    readers = {"jpeg": _jpeg_exif, "png": _png_exif, "webp": _webp_exif}
    if fmt not in readers:
        return None
    block = readers[fmt](data)
    return _tiff_orientation(block) if block else None
