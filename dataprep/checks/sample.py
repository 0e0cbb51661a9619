"""One file under inspection: its bytes, its header, and each decoder's result, computed
lazily and at most once. Every check reads from the same Sample, so a file is read once and
decoded once per decoder, however many checks look at it.
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

from dataprep.defaults import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIZE, apply_pixel_cap
from dataprep.formats import TF_FORMATS, StreamEnd, extension_format, sniff_format, stream_end
from dataprep.tensorflow_runtime import CapturedStderr, import_tensorflow, tf_error_message
from dataprep.tf_decode import decode_full

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from dataprep.checks.image_properties import ImageProperties


@dataclass(frozen=True)
class QualityThresholds:
    """Where the image-quality findings start (names and scores as CleanVision's, thresholds
    measured on real photos: see benchmarks/duplicates_bench.py). Scores are on the
    ANALYSIS_SIDE thumbnail of `dataprep.checks.image_properties`."""

    dark: float = 0.2  # `dark`: the brightest 1% of pixels are below this (0-1 perceived brightness)
    light: float = 0.9  # `light`: the darkest 1% of pixels are above this
    blurry: float = 0.2  # `blurry`: sharpness (Laplacian spread / gray spread) below this
    low_information: float = 3.0  # `low_information`: gray-level entropy below this many bits
    odd_aspect_ratio: float = 0.33  # `odd_aspect_ratio`: short side / long side below this
    grayscale: float = 6.0  # `grayscale`: RGB image whose channels differ by at most this (99th pct)
    odd_size: float = 10.0  # `odd_size`: sqrt(w*h) this many times above or below the dataset median

    def fingerprint(self) -> str:
        # odd_size is judged over the whole dataset, after the cache: not part of the key.
        return (
            f"dark={self.dark};light={self.light};blurry={self.blurry};low_information={self.low_information};"
            f"odd_aspect_ratio={self.odd_aspect_ratio};grayscale={self.grayscale}"
        )


@dataclass(frozen=True)
class CheckOptions:
    """Thresholds the checks use. Part of the result-cache key: change one, results change."""

    max_pixels: int = DEFAULT_MAX_PIXELS  # what Pillow refuses as a decompression bomb
    min_size: int = DEFAULT_MIN_SIZE
    use_tf: bool = True
    # Perceptual hashes and image properties (quality checks, duplicates, leakage).
    image_properties: bool = True
    quality: QualityThresholds = field(default_factory=QualityThresholds)

    def fingerprint(self) -> str:
        text = f"max_pixels={self.max_pixels};min_size={self.min_size};use_tf={int(self.use_tf)}"
        return text + f";properties={int(self.image_properties)};{self.quality.fingerprint()}"


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
    """A decoder's verdict: an RGB uint8 array on success, or the error it raised."""

    array: np.ndarray | None = None
    error: str | None = None
    messages: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.array is not None


# "<_io.BytesIO object at 0x7f20679e5080>": an address differs on every run, so it must not
# reach a report (same inputs, same report).
_OBJECT_REPR = re.compile(r"\s*<[^<>]*\bat 0x[0-9a-fA-F]+>")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    first = _OBJECT_REPR.sub("", text[0]) if text else ""
    return f"{type(err).__name__}: {first}".rstrip(": ")


class Sample:
    """A file, read once; header and decodes are computed on first use."""

    def __init__(self, path: Path, rel: str, options: CheckOptions, data: bytes | None = None) -> None:
        self.path = path
        self.rel = rel
        self.options = options
        self.data = path.read_bytes() if data is None else data

    @cached_property
    def format(self) -> str | None:
        return sniff_format(self.data[:32])

    @cached_property
    def extension_format(self) -> str | None:
        return extension_format(self.path.name)

    @cached_property
    def stream_end(self) -> StreamEnd | None:
        return stream_end(self.format, self.data)

    @cached_property
    def header(self) -> Header:
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
        except Exception as err:  # noqa: BLE001 - Pillow's parsers raise anything on hostile bytes
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
        libjpeg-turbo), so Pillow's decode needs only the verdict, not full-size pixels."""
        return self.format == "jpeg" and self.header.mode in ("RGB", "L")

    @cached_property
    def pillow(self) -> Decoded:
        """Pillow's full decode (load(), not verify(): verify misses truncated JPEGs), as RGB."""
        import numpy as np
        from PIL import Image

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
        except Exception as err:  # noqa: BLE001 - any decoder failure is a finding, by design
            return Decoded(error=_first_line(err))

    def _draft_size(self, width: int, height: int) -> tuple[int, int]:
        """The size asked of a draft-mode JPEG decode: 1/8 scale, but with image properties on,
        large enough (MIN_DECODE_SIDE on the long side) to measure sharpness and hash."""
        import math

        from dataprep.checks.image_properties import MIN_DECODE_SIDE

        scale = 1 / 8
        if self.options.image_properties:
            scale = max(scale, min(1.0, MIN_DECODE_SIDE / max(width, height, 1)))
        return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))

    @cached_property
    def properties(self) -> ImageProperties | None:
        """Hashes and image properties of Pillow's decode (the same array, no second decode);
        None when they are off or the image did not decode."""
        from dataprep.checks.image_properties import image_properties

        array = self.pillow.array
        if not self.options.image_properties or array is None or array.ndim != 3 or 0 in array.shape:
            return None
        return image_properties(array)

    @cached_property
    def tensorflow(self) -> Decoded:
        """TensorFlow's decoder exactly as training calls it:
        decode_image(channels=3, expand_animations=False). libjpeg's warnings, which it
        writes to the process's stderr, are captured as `messages`."""
        if not self.options.use_tf:
            return Decoded(skipped="TensorFlow check disabled")
        if reason := self.decodable:
            return Decoded(skipped=reason)
        if self.format not in TF_FORMATS:
            return Decoded(skipped=f"{self.format} is not a format TensorFlow decodes")
        tf = import_tensorflow()
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
    except Exception:  # noqa: BLE001 - see the docstring
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
