"""The one TensorFlow decode: what training feeds the model and what validation asks.

DESIGN.md: "what passes `validate` decodes in `trainer`". Both sides call the functions here,
so the decoder validation trusts is the pipeline's own. TensorFlow is imported lazily (dataprep
must start without it); the functions are graph-safe and run inside tf.data maps.

JPEGs much larger than the target are decoded at reduced scale (``decode_jpeg(ratio=2|4|8)``,
libjpeg's DCT scaling, which still reads every entropy-coded byte) before resizing.
"""

from __future__ import annotations

import os
from typing import Any

from dataprep.base.tensorflow_runtime import import_tensorflow

JPEG_RATIOS = (1, 2, 4, 8)


def jpeg_ratio_index(height: Any, width: Any, image_size: int) -> Any:
    """Index into JPEG_RATIOS of the largest DCT scale that still leaves both sides ≥ image_size."""
    tf = import_tensorflow()
    short = tf.minimum(height, width)
    steps = [tf.cast(short >= ratio * image_size, tf.int32) for ratio in JPEG_RATIOS[1:]]
    return tf.add_n(steps)


def jpeg_ratio(height: int, width: int, image_size: int) -> int:
    """`jpeg_ratio_index`'s choice as the ratio itself, for sizes known on the host."""
    return max(ratio for ratio in JPEG_RATIOS if ratio == 1 or min(height, width) >= ratio * image_size)


# Start-of-frame markers (SOF0-SOF15 less DHT, JPG and DAC): where a JPEG states its size.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length: TEM and the restart markers.
_BARE_MARKERS = frozenset([0x01, *range(0xD0, 0xD8)])


def jpeg_header_size(path: str) -> tuple[int, int] | None:
    """(height, width) from a JPEG's start-of-frame header, read without decoding (the file's
    first 4 KB, more only when its metadata is longer); None when the file is not a well-formed
    JPEG up to that header.

    The sizes are the ones ``extract_jpeg_shape`` reads (libjpeg's ``jpeg_read_header``). A file
    this does not understand gets None, never a guess, and the caller decodes it with
    `decode_image`, which finds its own ratio.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        head = os.read(fd, 4096)
        if head[:3] != b"\xff\xd8\xff":
            return None
        pos = 2
        while True:
            if pos + 9 > len(head):  # the next marker, its length and a frame header may lie beyond
                more = os.read(fd, max(65536, pos + 9 - len(head)))
                if not more:
                    return None
                head += more
                continue
            if head[pos] != 0xFF:
                return None
            code = head[pos + 1]
            if code == 0xFF:  # a fill byte before the marker code
                pos += 1
                continue
            if code in _BARE_MARKERS:
                pos += 2
                continue
            if code in (0x00, 0xD8, 0xD9, 0xDA):  # stuffed byte, second SOI, EOI, or a scan before any frame
                return None
            length = int.from_bytes(head[pos + 2 : pos + 4], "big")
            if length < 2:
                return None
            if code in _SOF_MARKERS:
                height = int.from_bytes(head[pos + 5 : pos + 7], "big")
                width = int.from_bytes(head[pos + 7 : pos + 9], "big")
                return (height, width) if height > 0 and width > 0 else None
            pos += 2 + length
    except OSError:
        return None
    finally:
        os.close(fd)


def resize_to_uint8(image: Any, image_size: int) -> Any:
    """(H, W, 3) uint8 → (image_size, image_size, 3) uint8: bilinear, rounded."""
    tf = import_tensorflow()
    resized = tf.image.resize(image, [image_size, image_size], method="bilinear")
    # Bilinear weights are convex, so the float result already lies in 0..255: rounding is one
    # add before the truncating cast, no clip (1% less CPU per image than round + clip + cast;
    # BENCHMARKS.md, trainer input pipeline).
    return tf.cast(resized + 0.5, tf.uint8)


def decode_jpeg_at(contents: Any, ratio: int, image_size: int) -> Any:
    """A JPEG whose DCT ratio is known (`jpeg_ratio` of its `jpeg_header_size`) → the pixels
    `decode_image` gives it, with no branch in the graph. The training pipeline groups files by
    ratio: branching per element costs 5-12% more CPU per image in a parallel map (BENCHMARKS.md,
    trainer input pipeline)."""
    tf = import_tensorflow()
    return resize_to_uint8(tf.image.decode_jpeg(contents, channels=3, ratio=ratio), image_size)


def decode_image(contents: Any, image_size: int) -> Any:
    """Encoded bytes → (image_size, image_size, 3) uint8 (squashed to square, like the tutorials)."""
    tf = import_tensorflow()

    def jpeg() -> Any:
        shape = tf.image.extract_jpeg_shape(contents)
        branches = [(lambda r=ratio: tf.image.decode_jpeg(contents, channels=3, ratio=r)) for ratio in JPEG_RATIOS]
        return tf.switch_case(jpeg_ratio_index(shape[0], shape[1], image_size), branches)

    def other() -> Any:
        image = tf.io.decode_image(contents, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        return image

    return resize_to_uint8(tf.cond(tf.io.is_jpeg(contents), jpeg, other), image_size)


def load_image(path: str | Any, image_size: int) -> Any:
    """Read and decode one file exactly as the pipeline does (eager use: predict, tests)."""
    tf = import_tensorflow()
    return decode_image(tf.io.read_file(path), image_size)


def decode_full(contents: Any) -> Any:
    """Encoded bytes → full-size (H, W, 3) uint8, as the pipeline's decoder reads them before
    resizing: the call whose failure makes a file an `error` in validation."""
    tf = import_tensorflow()
    return tf.io.decode_image(contents, channels=3, expand_animations=False)
