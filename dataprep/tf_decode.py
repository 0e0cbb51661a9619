"""The one TensorFlow decode: what training feeds the model and what validation asks.

DESIGN.md: "what passes `validate` decodes in `trainer`". Both sides call the functions here,
so the decoder validation trusts is the pipeline's own. TensorFlow is imported lazily (dataprep
must start without it); the functions are graph-safe and run inside tf.data maps.

JPEGs much larger than the target are decoded at reduced scale (``decode_jpeg(ratio=2|4|8)``,
libjpeg's DCT scaling, which still reads every entropy-coded byte) before resizing.
"""

from __future__ import annotations

from typing import Any

from dataprep.tensorflow_runtime import import_tensorflow

JPEG_RATIOS = (1, 2, 4, 8)


def jpeg_ratio_index(height: Any, width: Any, image_size: int) -> Any:
    """Index into JPEG_RATIOS of the largest DCT scale that still leaves both sides ≥ image_size."""
    tf = import_tensorflow()
    short = tf.minimum(height, width)
    steps = [tf.cast(short >= ratio * image_size, tf.int32) for ratio in JPEG_RATIOS[1:]]
    return tf.add_n(steps)


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

    image = tf.cond(tf.io.is_jpeg(contents), jpeg, other)
    resized = tf.image.resize(image, [image_size, image_size], method="bilinear")
    # Bilinear weights are convex, so the float result already lies in 0..255: rounding is one
    # add before the truncating cast, no clip (1% less CPU per image than round + clip + cast;
    # BENCHMARKS.md, trainer input pipeline).
    return tf.cast(resized + 0.5, tf.uint8)


def load_image(path: str | Any, image_size: int) -> Any:
    """Read and decode one file exactly as the pipeline does (eager use: predict, tests)."""
    tf = import_tensorflow()
    return decode_image(tf.io.read_file(path), image_size)


def decode_full(contents: Any) -> Any:
    """Encoded bytes → full-size (H, W, 3) uint8, as the pipeline's decoder reads them before
    resizing: the call whose failure makes a file an `error` in validation."""
    tf = import_tensorflow()
    return tf.io.decode_image(contents, channels=3, expand_animations=False)
