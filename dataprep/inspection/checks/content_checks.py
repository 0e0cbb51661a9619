"""Checks about what a file's content is, as training will read it: an image format the
training decoder cannot read, and an EXIF orientation the training decoder ignores.

Both are fixed by `dataprep convert`, and both say so. They read only the bytes the Sample
already holds (no second read, no decode).
"""

from __future__ import annotations

from collections.abc import Iterator

from dataprep.base.formats import ORIENTATION_SEEN, TF_FORMATS, exif_orientation, format_name
from dataprep.inspection.checks.sample import Sample


def unsupported_format(s: Sample) -> Iterator[str]:
    if s.format is not None and s.format not in TF_FORMATS:
        yield (
            f"{format_name(s.format, s.data[:4])} image: TensorFlow's decode_image reads only JPEG, PNG, GIF, BMP and "
            "WebP, so training would skip it; `dataprep convert` re-encodes it as PNG (or --to jpeg)"
        )


def orientation(s: Sample) -> Iterator[str]:
    value = exif_orientation(s.format, s.data)
    if value is not None and value in ORIENTATION_SEEN:
        yield (
            f"TensorFlow ignores the EXIF orientation ({value}): training sees this photo {ORIENTATION_SEEN[value]} "
            "compared with every viewer; `dataprep convert` bakes it into the pixels"
        )
