"""One file under inspection: its bytes, its header, and one decode, computed lazily and at
most once. Every check, hash and property reads the same Sample, so a file is read once and
decoded once.

The one decode, and when TensorFlow is asked at all (DESIGN.md, "One decode per file"):

- An 8-bit baseline or progressive YCbCr/grayscale JPEG is decoded by libjpeg-turbo (through
  simplejpeg) in strict mode, DCT-scaled down: libjpeg still reads every entropy-coded byte, and
  strict mode turns every libjpeg warning ("Corrupt JPEG data: ...", "Premature end of JPEG
  file") into a failure. TensorFlow's JPEG decoder is libjpeg-turbo too, with no check of its own
  beyond a size cap (see `_settles_tensorflow`), and it fails only on libjpeg errors and
  missing data: so a clean, warning-free decode here is TensorFlow's verdict, and it is not
  asked. This is the common case; a folder of clean JPEGs never imports TensorFlow. Its header
  is the frame header that decode read (Pillow's header parse is skipped: Pillow reads the same
  SOF segment; a multi-picture file, which Pillow opens as MPO, is not settled this way).
- Every other file (a JPEG that warns or fails, CMYK, 12-bit, arithmetic-coded, multi-picture;
  PNG, which Pillow reads with its own parser where TensorFlow uses libpng; GIF, BMP, WebP) is
  decoded by Pillow and asked of TensorFlow's own decoder, the training pipeline's
  (`dataprep.base.tf_decode`), imported on the first such file.

tests/test_differential.py is the proof: the real TensorFlow decoders against these verdicts
over the fixture zoo, the regression corpus and fresh fuzzed mutants.
"""

from __future__ import annotations

import re
import struct
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from dataprep.base.defaults import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIZE, apply_pixel_cap
from dataprep.base.formats import (
    TF_FORMATS,
    StreamEnd,
    extension_format,
    identify_format,
    stream_end,
)
from dataprep.base.tensorflow_runtime import (
    CapturedStderr,
    import_tensorflow_for_decoding,
    tf_error_message,
)
from dataprep.base.tf_decode import decode_full

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from dataprep.inspection.checks.image_properties import ImageProperties


@dataclass(frozen=True)
class QualityThresholds:
    """Where the image-quality findings start (names and scores as CleanVision's, thresholds
    measured on real photos: see benchmarks/duplicates_bench.py). Scores are on the
    ANALYSIS_SIDE thumbnail of `dataprep.inspection.checks.image_properties`."""

    dark: float = 0.2  # `dark`: the brightest 1% of pixels are below this (0-1 perceived brightness)
    light: float = 0.9  # `light`: the darkest 1% of pixels are above this
    blurry: float = 0.2  # `blurry`: sharpness (Laplacian spread / gray spread) below this
    low_information: float = 3.0  # `low_information`: gray-level entropy below this many bits...
    low_information_subject: float = 0.05  # ...unless this share of the frame is a subject carrying as many
    odd_aspect_ratio: float = 0.33  # `odd_aspect_ratio`: short side / long side below this
    grayscale: float = 6.0  # `grayscale`: RGB image whose channels differ by at most this (99th pct)
    # `odd_size`: sqrt(w*h) this many times above or below the dataset median. Judged over the
    # whole dataset after the cache, so it is not part of the cache key.
    odd_size: float = field(default=10.0, metadata={"cache_key": False})

    def fingerprint(self) -> str:
        from dataprep.inspection.cache import fingerprint

        return fingerprint(self)


@dataclass(frozen=True)
class CheckOptions:
    """Thresholds the checks use. Every field is part of the result-cache key: change one,
    results change."""

    max_pixels: int = DEFAULT_MAX_PIXELS  # what Pillow refuses as a decompression bomb
    min_size: int = DEFAULT_MIN_SIZE
    use_tf: bool = True
    # Perceptual hashes and image properties (quality checks, duplicates, leakage).
    image_properties: bool = True
    quality: QualityThresholds = field(default_factory=QualityThresholds)

    def fingerprint(self) -> str:
        from dataprep.inspection.cache import fingerprint

        return fingerprint(self)


@dataclass
class Header:
    """What the image's header says, read without decoding pixels."""

    format: str | None = None
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    frames: int = 1
    bits: int | None = None
    error: str | None = None

    @property
    def pixels(self) -> int | None:
        return None if self.width is None or self.height is None else self.width * self.height


@dataclass
class Decoded:
    """A decoder's verdict: an RGB uint8 array on success, or the error it raised. `settled`
    names why the verdict is known without calling that decoder (the single decode decided it)."""

    array: np.ndarray | None = None
    error: str | None = None
    messages: list[str] = field(default_factory=list)
    skipped: str | None = None
    settled: str | None = None

    @property
    def ok(self) -> bool:
        return self.array is not None or (self.settled is not None and self.error is None)


# "<_io.BytesIO object at 0x7f20679e5080>": an address differs on every run, so it must not
# reach a report (same inputs, same report).
_OBJECT_REPR = re.compile(r"\s*<[^<>]*\bat 0x[0-9a-fA-F]+>")

# TensorFlow's JPEG decoder refuses an image of this many bytes or more (height * width *
# components of the file, jpeg_mem.cc), before it decodes anything.
TF_JPEG_MAX_BYTES = 1 << 29
# Frame markers the single decode settles: SOF0 baseline, SOF1 extended sequential, SOF2
# progressive (Huffman-coded). Arithmetic, lossless and hierarchical JPEGs go to TensorFlow.
_SETTLED_SOF = frozenset({0xC0, 0xC1, 0xC2})
_ANY_SOF = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)})
_JPEG_SPACES = {"YCbCr": 3, "Gray": 1}  # libjpeg-turbo's colour spaces the single decode settles
# The APP2 segment of a multi-picture (MPO) file: Pillow opens such a file as MPO, with frames.
MULTI_PICTURE = b"MPF\x00"
SETTLED_BY_LIBJPEG = "a clean, warning-free libjpeg-turbo decode of every entropy-coded byte"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    first = _OBJECT_REPR.sub("", text[0]) if text else ""
    return f"{type(err).__name__}: {first}".rstrip(": ")


@dataclass(frozen=True)
class JpegFrame:
    """What a JPEG's frame header (SOFn) says: the coding process, bits per sample, components."""

    marker: int
    precision: int
    components: int


def jpeg_frame(data: bytes) -> JpegFrame | None:
    """The first SOFn segment of a JPEG, walking marker segments from SOI; None when there is
    none before the first scan or the segments are not well formed."""
    n, pos = len(data), 2
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None  # garbage between segments: libjpeg warns; not a clean file
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _ANY_SOF:
            if length < 8 or pos + 10 > n:
                return None
            return JpegFrame(marker, data[pos + 4], data[pos + 9])
        pos += 2 + length
    return None


class Sample:
    """A file, read once; header and decodes are computed on first use."""

    def __init__(self, path: Path, rel: str, options: CheckOptions, data: bytes | None = None) -> None:
        self.path = path
        self.rel = rel
        self.options = options
        self.data = path.read_bytes() if data is None else data
        self._frame: Header | None = None  # a JPEG's frame header, as the single decode read it

    @cached_property
    def format(self) -> str | None:
        return identify_format(self.data)

    @cached_property
    def extension_format(self) -> str | None:
        return extension_format(self.path.name)

    @cached_property
    def stream_end(self) -> StreamEnd | None:
        return stream_end(self.format, self.data)

    @cached_property
    def header(self) -> Header:
        """The header as Pillow reads it. For a JPEG the single decode settled, the frame header
        it decoded (Pillow reads the same SOF segment: same size; 1 component is "L", 3 "RGB"),
        without parsing the file a second time."""
        if self.settled and self._frame is not None:
            return self._frame
        return self._pillow_header()

    def _pillow_header(self) -> Header:
        from PIL import Image, UnidentifiedImageError

        if self.format is None:
            return Header(error="not an image")
        # Our own --max-pixels cap applies (pixel_limit); Pillow's bomb check would hide the size.
        saved_cap, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(BytesIO(self.data)) as im:
                    bits = None
                    if im.format == "BMP" and len(self.data) >= 30:
                        bits = int.from_bytes(self.data[28:30], "little")
                    return Header(
                        format=(im.format or "").lower() or None,
                        width=im.width,
                        height=im.height,
                        mode=im.mode,
                        frames=_frame_count(im),
                        bits=bits,
                    )
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error) as err:
            return Header(format=self.format, error=_first_line(err))
        except Exception as err:
            # (IndexError, ZeroDivisionError, ...); a header that cannot be read is data, not a crash.
            return Header(format=self.format, error=_first_line(err))
        finally:
            Image.MAX_IMAGE_PIXELS = saved_cap

    @property
    def decodable(self) -> str | None:
        """Why no decoder should run on this file, or None when they may."""
        if not self.data:
            return "empty file"
        if self.format is None:
            return "not an image"
        pixels = self.header.pixels
        if pixels is not None and pixels > self.options.max_pixels:
            return "over the pixel limit"
        return None

    @property
    def reduced_jpeg(self) -> bool:
        """Plain YCbCr or grayscale JPEGs decode identically in Pillow and TensorFlow (both are
        libjpeg-turbo), so their decode needs only the verdict, not full-size pixels."""
        return self.format == "jpeg" and self.header.mode in ("RGB", "L")

    @cached_property
    def libjpeg(self) -> Decoded | None:
        """The single decode of a JPEG the libjpeg-turbo path can settle (see the module
        docstring), strict and DCT-scaled; None for every other file. `settled` is set only
        when the decode was clean: then it is also Pillow's and TensorFlow's verdict."""
        try:
            import simplejpeg
        except ImportError:  # no wheel for this platform: every file goes to Pillow and TensorFlow
            return None

        if self.format != "jpeg" or MULTI_PICTURE in self.data:  # Pillow reads a multi-picture file as MPO
            return None
        frame = jpeg_frame(self.data)
        if frame is None or frame.marker not in _SETTLED_SOF or frame.precision != 8:
            return None
        try:
            height, width, space, _ = simplejpeg.decode_jpeg_header(self.data)
        except ValueError:
            return None
        if _JPEG_SPACES.get(space) != frame.components or not width or not height:
            return None
        if width * height > self.options.max_pixels:
            return None  # pixel_limit reports it, from Pillow's header
        if height * width * frame.components >= TF_JPEG_MAX_BYTES:
            return None  # TensorFlow refuses it before decoding: let TensorFlow say so
        mode = "L" if frame.components == 1 else "RGB"
        self._frame = Header(format="jpeg", width=width, height=height, mode=mode)
        out_w, out_h = self._reduced_size(width, height)
        try:
            array = simplejpeg.decode_jpeg(self.data, colorspace="RGB", min_width=out_w, min_height=out_h, strict=True)
        except Exception as err:
            return Decoded(error=_first_line(err))
        return Decoded(array=array, settled=SETTLED_BY_LIBJPEG)

    @property
    def settled(self) -> bool:
        """Whether the single decode alone gives the decoders' verdicts (no TensorFlow call)."""
        decoded = self.libjpeg
        return decoded is not None and decoded.settled is not None

    @cached_property
    def pillow(self) -> Decoded:
        """Pillow's verdict. A clean strict libjpeg-turbo decode is Pillow's verdict too (Pillow
        decodes JPEG with libjpeg-turbo, after its header parse succeeded); otherwise Pillow's
        own full decode (load(), not verify(): verify misses truncated JPEGs), as RGB."""
        import numpy as np
        from PIL import Image

        if self.settled:
            assert self.libjpeg is not None
            return self.libjpeg
        if reason := self.decodable:
            return Decoded(skipped=reason)
        apply_pixel_cap(self.options.max_pixels)  # --max-pixels raises Pillow's own limit too
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(BytesIO(self.data)) as im:
                    if self.reduced_jpeg:
                        # DCT-domain downscaling: libjpeg still reads every entropy-coded byte
                        # (so truncation and corrupt data still fail), at a fraction of the cost.
                        im.draft(im.mode, self._draft_size(im.width, im.height))
                    im.load()
                    rgb = _to_rgb(im)
                    return Decoded(array=np.asarray(rgb))
        except Exception as err:
            return Decoded(error=_first_line(err))

    def _draft_size(self, width: int, height: int) -> tuple[int, int]:
        """The size asked of a DCT-scaled JPEG decode: 1/8 scale, but with image properties on,
        large enough (MIN_DECODE_SIDE on the long side) to measure sharpness and hash."""
        import math

        from dataprep.inspection.checks.image_properties import MIN_DECODE_SIDE

        scale = 1 / 8
        if self.options.image_properties:
            scale = max(scale, min(1.0, MIN_DECODE_SIDE / max(width, height, 1)))
        return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))

    def _reduced_size(self, width: int, height: int) -> tuple[int, int]:
        """The output size of the libjpeg-turbo decode: the 1/1, 1/2, 1/4 or 1/8 scale that Pillow's
        draft() picks for `_draft_size` (the largest reduction still at least that large), so the
        pixels, and the hashes made from them, are the same whichever path decoded the file."""
        want_w, want_h = self._draft_size(width, height)
        reduction = min(width // want_w, height // want_h)
        denom = next(d for d in (8, 4, 2, 1) if reduction >= d)
        return -(-width // denom), -(-height // denom)

    @property
    def pixels(self) -> Decoded:
        """The one decode every property is computed from."""
        return self.libjpeg if self.settled and self.libjpeg is not None else self.pillow

    @cached_property
    def properties(self) -> ImageProperties | None:
        """Hashes and image properties of the one decode (the same array, no second decode);
        None when they are off or the image did not decode."""
        from dataprep.inspection.checks.image_properties import image_properties

        array = self.pixels.array
        if not self.options.image_properties or array is None or array.ndim != 3 or 0 in array.shape:
            return None
        return image_properties(array)

    @cached_property
    def tensorflow(self) -> Decoded:
        """TensorFlow's verdict, as the training pipeline's decoder gives it
        (`dataprep.base.tf_decode.decode_full`: decode_image(channels=3, expand_animations=False)).
        Settled by the single decode where that is exact; otherwise TensorFlow is asked, and
        libjpeg's warnings, which it writes to the process's stderr, are captured as `messages`."""
        if not self.options.use_tf:
            return Decoded(skipped="TensorFlow check disabled")
        if reason := self.decodable:
            return Decoded(skipped=reason)
        if self.format not in TF_FORMATS:
            return Decoded(skipped=f"{self.format} is not a format TensorFlow decodes")
        if self.settled:
            return Decoded(settled=SETTLED_BY_LIBJPEG)
        tf = import_tensorflow_for_decoding()
        with CapturedStderr() as captured:
            try:
                array = decode_full(tf.constant(self.data)).numpy()
                error = None
            except (tf.errors.OpError, ValueError) as err:
                array, error = None, tf_error_message(err)
        return Decoded(array=array, error=error, messages=captured.lines)


def _frame_count(im: Image.Image) -> int:
    """How many frames the header announces. Counting walks every frame, and Pillow raises
    (IndexError, EOFError, ...) on a damaged later frame: the first frame, which is all that
    training decodes, is still there, so a failed count is 1 and the decoders judge the rest."""
    try:
        return int(getattr(im, "n_frames", 1) or 1)
    except Exception:
        return 1


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Scale 16-bit to 8-bit the way decoders do, rather than clipping.
        import numpy as np
        from PIL import Image

        arr = np.asarray(im, dtype=np.float64)
        scale = 257.0 if arr.max(initial=0) > 255 else 1.0
        return Image.fromarray(np.clip(arr / scale, 0, 255).astype("uint8")).convert("RGB")
    return im.convert("RGB")
