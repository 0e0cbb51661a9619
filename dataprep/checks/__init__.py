"""The checks `validate` runs, registered in one explicit table.

A check is a small function `(sample) -> iterable of detail strings`; each detail becomes a
Finding with the check's name and severity from the table. Adding a check is one function
plus one row. Bump CHECKS_VERSION whenever a check's behaviour changes: it is part of the
result-cache key, so stale results are never reused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dataprep.checks import file_checks as fc
from dataprep.checks import quality_checks as qc
from dataprep.checks.sample import CheckOptions, QualityThresholds, Sample
from dataprep.findings import Finding, Severity

CHECKS_VERSION = "4"


@dataclass(frozen=True)
class CheckSpec:
    name: str
    severity: Severity
    needs: str  # "bytes" | "header" | "pillow" | "tensorflow": what the check reads from the Sample
    run: Callable[[Sample], Iterable[str]]
    summary: str


ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("empty_file", ERR, "bytes", fc.empty_file, "zero bytes"),
    CheckSpec("unknown_format", ERR, "bytes", fc.unknown_format, "content is no image format (text, HTML, garbage)"),
    CheckSpec("unsupported_format", ERR, "bytes", fc.unsupported_format, "an image format TensorFlow cannot decode"),
    CheckSpec("extension_mismatch", INFO, "bytes", fc.extension_mismatch, "extension says one format, content another"),
    CheckSpec("no_jfif_marker", INFO, "bytes", fc.no_jfif_marker, "JPEG without the JFIF marker (fine on its own)"),
    CheckSpec("truncated", WARN, "bytes", fc.truncated, "ends before the format's end marker"),
    CheckSpec("trailing_data", INFO, "bytes", fc.trailing_data, "bytes after the end marker"),
    CheckSpec("pixel_limit", ERR, "header", fc.pixel_limit, "header dimensions above the pixel cap (decompression bomb)"),
    CheckSpec("too_small", WARN, "header", fc.too_small, "width or height below the minimum"),
    CheckSpec("color_mode", INFO, "header", fc.color_mode, "not plain RGB: CMYK, grayscale, palette, 1/16-bit, alpha"),
    CheckSpec("animated", INFO, "header", fc.animated, "more than one frame; training sees the first"),
    CheckSpec("pillow_decode", ERR, "pillow", fc.pillow_decode, "Pillow's full decode fails"),
    CheckSpec("tf_decode", ERR, "tensorflow", fc.tf_decode, "TensorFlow's decode_image fails"),
    CheckSpec("corrupt_data", WARN, "tensorflow", fc.corrupt_data, "decodes, but libjpeg reported corrupt data"),
    CheckSpec("wrong_pixels", ERR, "tensorflow", fc.wrong_pixels, "TensorFlow decodes to other pixels than the image holds"),
    CheckSpec("dark", INFO, "pillow", qc.dark, "very dark: the brightest pixels are dim"),
    CheckSpec("light", INFO, "pillow", qc.light, "very light: washed out, the darkest pixels are bright"),
    CheckSpec("blurry", INFO, "pillow", qc.blurry, "little edge detail for its contrast: out of focus or upscaled"),
    CheckSpec("low_information", INFO, "pillow", qc.low_information, "few gray levels: nearly blank or flat"),
    CheckSpec("odd_aspect_ratio", INFO, "pillow", qc.odd_aspect_ratio, "much wider than tall, or taller than wide"),
    CheckSpec("grayscale", INFO, "pillow", qc.grayscale, "stored as colour but every pixel is gray"),
)

# Checks computed over the whole dataset once every file is inspected (see report.py).
DATASET_CHECKS: dict[str, tuple[Severity, str]] = {
    "junk_file": (WARN, "Thumbs.db, .DS_Store, desktop.ini, ._* or a non-image extension"),
    "duplicate": (INFO, "exact byte duplicate of another file"),
    "near_duplicate": (INFO, "a copy (same pixels, or a resized/re-compressed/cropped/brightened one) that clean --duplicates removes"),
    "odd_size": (INFO, "far larger or smaller than the dataset's typical image"),
    "inspection_failed": (ERR, "the file could not be inspected: a decoder crashed or hung, or it (or its folder) is unreadable"),
    "not_followed": (WARN, "a symbolic link that leaves the folder, points at a folder, dangles or loops: not followed"),
    "empty_class": (WARN, "a class folder with no images"),
}

CHECK_NAMES: tuple[str, ...] = tuple(c.name for c in CHECKS) + tuple(DATASET_CHECKS)


def run_checks(sample: Sample) -> list[Finding]:
    """Run every registered check on one sample, in table order."""
    findings: list[Finding] = []
    for spec in CHECKS:
        for detail in spec.run(sample):
            findings.append(Finding(sample.rel, spec.name, spec.severity, detail))
    return findings


__all__ = ["CHECKS", "CHECKS_VERSION", "CHECK_NAMES", "DATASET_CHECKS", "CheckOptions", "CheckSpec", "QualityThresholds", "Sample", "run_checks"]
