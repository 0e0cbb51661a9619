"""The per-file checks: small pure functions from a Sample to detail strings.

Each yields nothing when the file is fine, or one line per problem that says what was found
and, where there is one, the fix. Severity lives in the table in `dataprep.inspection.checks`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from dataprep.base.formats import describe_content, has_jfif_marker
from dataprep.inspection.checks.sample import Sample

if TYPE_CHECKING:
    import numpy as np

# Mean absolute difference (0-255 scale) between TensorFlow's and Pillow's pixels above which
# the two decoders disagree about the image, not just about rounding (JPEG IDCT variants differ
# by 1-3 levels; palette indices read as gray differ by tens).
WRONG_PIXELS_THRESHOLD = 12.0

# How tf_decode and wrong_pixels word a decoder's own complaint, and a disagreement about the
# image's size: `dataprep.inspection.damage` reads these to tell damage from a format TensorFlow lacks.
LIBJPEG_SAID = " (libjpeg: "
SIZE_DISAGREES = "TensorFlow decodes {tf} but the image is {pil}"
EDGES_DISAGREE = "; their edges disagree too"
# Correlation of the two decodes' edge maps below which a JPEG's decoders disagree about the
# picture, not only its colours. Both are libjpeg-turbo: a colour-model difference (CMYK, the
# Adobe transform) moves no edge (measured: >= 0.99); damage they read differently does (0.02-0.35
# on damaged CMYK JPEGs, real and fuzzed). Palette indices read as gray keep ~0.7, but that is a BMP.
EDGE_AGREEMENT = 0.5

_END_MARKER = {"jpeg": "EOI (FF D9)", "png": "IEND", "gif": "trailer (3B)"}
_MODE_NAMES = {
    "L": "grayscale", "LA": "grayscale with alpha", "P": "palette", "PA": "palette with alpha",
    "CMYK": "CMYK", "YCbCr": "YCbCr", "RGBA": "RGB with alpha (dropped in training)", "1": "1-bit",
    "I": "32-bit integer", "I;16": "16-bit", "I;16B": "16-bit", "I;16L": "16-bit", "F": "32-bit float",
    "LAB": "Lab", "HSV": "HSV", "RGBX": "RGBX",
}  # fmt: skip


def empty_file(s: Sample) -> Iterator[str]:
    if not s.data:
        yield "0 bytes: nothing to decode; the download or copy failed"


def unknown_format(s: Sample) -> Iterator[str]:
    if s.data and s.format is None:
        yield f"content is {describe_content(s.data[:512])}, not an image ({len(s.data)} bytes)"


def extension_mismatch(s: Sample) -> Iterator[str]:
    if s.format is not None and s.extension_format is not None and s.format != s.extension_format:
        yield f"named {s.path.suffix} but the content is {s.format.upper()}"


def no_jfif_marker(s: Sample) -> Iterator[str]:
    if s.format == "jpeg" and not has_jfif_marker(s.data):
        yield "JPEG without the JFIF marker (camera Exif JPEGs look like this); not a problem on its own"


def truncated(s: Sample) -> Iterator[str]:
    end = s.stream_end
    if end is not None and end.truncated and s.format in _END_MARKER:
        yield f"no {_END_MARKER[s.format]} marker: the file stops early ({len(s.data)} bytes)"


def trailing_data(s: Sample) -> Iterator[str]:
    end = s.stream_end
    if end is not None and end.trailing_bytes > 0:
        yield f"{end.trailing_bytes} bytes after the {_END_MARKER.get(s.format or '', 'end')} marker"


def pixel_limit(s: Sample) -> Iterator[str]:
    pixels = s.header.pixels
    if pixels is not None and pixels > s.options.max_pixels:
        yield (
            f"header says {s.header.width}x{s.header.height} ({pixels / 1e6:.0f} megapixels), above the "
            f"{s.options.max_pixels / 1e6:.0f} MP limit (decompression bomb?); not decoded. "
            "If it is a genuine photo, raise --max-pixels"
        )


def too_small(s: Sample) -> Iterator[str]:
    w, h = s.header.width, s.header.height
    if w is not None and h is not None and min(w, h) < s.options.min_size:
        yield f"{w}x{h} pixels, below the {s.options.min_size} px minimum (--min-size)"


def color_mode(s: Sample) -> Iterator[str]:
    h = s.header
    if h.format == "bmp" and h.bits in (1, 2, 4, 16, 32) and h.bits is not None:
        yield f"{h.bits}-bit BMP"
    elif h.mode is not None and h.mode != "RGB":
        yield f"{_MODE_NAMES.get(h.mode, h.mode)} ({h.mode}); training converts it to RGB"


def animated(s: Sample) -> Iterator[str]:
    if s.header.frames > 1:
        yield f"{s.header.frames} frames; training uses only the first"


def pillow_decode(s: Sample) -> Iterator[str]:
    decoded = s.pillow
    if decoded.error is not None:
        yield f"Pillow cannot decode it: {decoded.error}"


def tf_decode(s: Sample) -> Iterator[str]:
    decoded = s.tensorflow
    if decoded.error is not None:
        said = f"{LIBJPEG_SAID}{'; '.join(decoded.messages[:2])})" if decoded.messages else ""
        yield f"TensorFlow cannot decode it: {decoded.error}{said}"


def corrupt_data(s: Sample) -> Iterator[str]:
    decoded = s.tensorflow
    if decoded.ok and decoded.messages:
        yield "libjpeg: " + "; ".join(decoded.messages[:3])


def wrong_pixels(s: Sample) -> Iterator[str]:
    import numpy as np

    tf_px, pil_px = s.tensorflow.array, s.pillow.array
    if tf_px is None or pil_px is None or s.reduced_jpeg:
        return
    if s.header.mode in ("P", "PA") and s.format in ("gif", "png", "webp"):
        return  # transparent palette pixels legitimately differ between decoders
    if tf_px.shape != pil_px.shape:
        yield SIZE_DISAGREES.format(tf=f"{tf_px.shape[1]}x{tf_px.shape[0]}", pil=f"{pil_px.shape[1]}x{pil_px.shape[0]}")
        return
    step = max(1, int(max(tf_px.shape[:2]) // 128))
    a = tf_px[::step, ::step].astype(np.int16)
    b = pil_px[::step, ::step].astype(np.int16)
    diff = float(np.abs(a - b).mean())
    if diff > WRONG_PIXELS_THRESHOLD:
        agreement = edge_agreement(a, b) if s.format == "jpeg" else 1.0  # see EDGE_AGREEMENT
        said = f"TensorFlow's pixels differ from the image's by {diff:.0f}/255 on average ({s.header.mode or '?'} {s.format})"
        if agreement < EDGE_AGREEMENT:
            yield f"{said}{EDGES_DISAGREE} (correlation {agreement:.2f}): the file is damaged, not only in another colour model"
        else:
            yield f"{said}: training would see wrong colours; convert it to RGB JPEG or PNG"


def edge_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """How well two decodes of one image agree about where its edges are: the correlation of
    their gray gradient magnitudes (1: the same edges, whatever the colours; 0: unrelated)."""
    import numpy as np

    def edges(x: np.ndarray) -> np.ndarray:
        gray = x.astype(np.float64).mean(axis=-1)
        return (np.abs(np.diff(gray, axis=1))[:-1, :] + np.abs(np.diff(gray, axis=0))[:, :-1]).ravel()

    ea, eb = edges(a), edges(b)
    if ea.size < 2 or (ea.std() == 0 and eb.std() == 0):
        return 1.0  # nothing to compare (both flat)
    if ea.std() == 0 or eb.std() == 0:
        return 0.0  # one decode has a picture, the other none
    return float(np.corrcoef(ea, eb)[0, 1])
