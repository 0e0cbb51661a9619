"""The checks `validate` runs, registered in one explicit table.

A per-file check is a small function `(sample) -> iterable of detail strings`; each detail
becomes a Finding with the check's name and severity from the table. Adding one is one
function plus one row. Dataset checks (duplicates, junk, odd sizes, scan problems) have no
per-file function: they are computed over every file at once (validate.py, clean.py), and
their row gives them their severity and summary like every other check.

Bump CHECKS_VERSION whenever a check's behaviour changes: it is part of the result-cache key,
so stale results are never reused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dataprep.base.findings import Finding, Severity
from dataprep.inspection.checks import content_checks as cc
from dataprep.inspection.checks import file_checks as fc
from dataprep.inspection.checks import quality_checks as qc
from dataprep.inspection.checks.names import Check
from dataprep.inspection.checks.sample import CheckOptions, QualityThresholds, Sample

CHECKS_VERSION = "8"  # 8: XBM/XPM are images; low_information spares a subject on a plain background; wrong_pixels says when a JPEG's edges disagree; 7: hashes from one 64x64 gray grid


@dataclass(frozen=True)
class CheckSpec:
    name: str
    severity: Severity
    summary: str
    # `(sample) -> details` for a per-file check; None for a check computed over the dataset.
    run: Callable[[Sample], Iterable[str]] | None = None

    @property
    def per_file(self) -> bool:
        return self.run is not None


ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(Check.EMPTY_FILE, ERR, "zero bytes", fc.empty_file),
    CheckSpec(Check.UNKNOWN_FORMAT, ERR, "content is no image format (text, HTML, garbage)", fc.unknown_format),
    CheckSpec(
        Check.UNSUPPORTED_FORMAT,
        ERR,
        "an image format TensorFlow cannot decode (PPM, TIFF, TGA, HEIC, ...): dataprep convert",
        cc.unsupported_format,
    ),
    CheckSpec(Check.EXTENSION_MISMATCH, INFO, "extension says one format, content another", fc.extension_mismatch),
    CheckSpec(Check.NO_JFIF_MARKER, INFO, "JPEG without the JFIF marker (fine on its own)", fc.no_jfif_marker),
    CheckSpec(Check.TRUNCATED, WARN, "ends before the format's end marker", fc.truncated),
    CheckSpec(Check.TRAILING_DATA, INFO, "bytes after the end marker", fc.trailing_data),
    CheckSpec(Check.PIXEL_LIMIT, ERR, "header dimensions above the pixel cap (decompression bomb)", fc.pixel_limit),
    CheckSpec(Check.TOO_SMALL, WARN, "width or height below the minimum", fc.too_small),
    CheckSpec(Check.COLOR_MODE, INFO, "not plain RGB: CMYK, grayscale, palette, 1/16-bit, alpha", fc.color_mode),
    CheckSpec(
        Check.EXIF_ORIENTATION,
        WARN,
        "EXIF orientation that TensorFlow ignores: training sees it rotated; dataprep convert",
        cc.orientation,
    ),
    CheckSpec(Check.ANIMATED, INFO, "more than one frame; training sees the first", fc.animated),
    CheckSpec(Check.PILLOW_DECODE, ERR, "Pillow's full decode fails", fc.pillow_decode),
    CheckSpec(Check.TF_DECODE, ERR, "TensorFlow's decode_image fails", fc.tf_decode),
    CheckSpec(Check.CORRUPT_DATA, WARN, "decodes, but libjpeg reported corrupt data", fc.corrupt_data),
    CheckSpec(Check.WRONG_PIXELS, ERR, "TensorFlow decodes to other pixels than the image holds", fc.wrong_pixels),
    CheckSpec(Check.DARK, INFO, "very dark: the brightest pixels are dim", qc.dark),
    CheckSpec(Check.LIGHT, INFO, "very light: washed out, the darkest pixels are bright", qc.light),
    CheckSpec(Check.BLURRY, INFO, "little edge detail for its contrast: out of focus or upscaled", qc.blurry),
    CheckSpec(Check.LOW_INFORMATION, INFO, "few gray levels: nearly blank or flat", qc.low_information),
    CheckSpec(Check.ODD_ASPECT_RATIO, INFO, "much wider than tall, or taller than wide", qc.odd_aspect_ratio),
    CheckSpec(Check.GRAYSCALE, INFO, "stored as colour but every pixel is gray", qc.grayscale),
    # Computed over the whole dataset once every file is inspected, or by the scan itself.
    CheckSpec(
        Check.JUNK_FILE,
        WARN,
        "not an image by content (text, HTML, archives) or Thumbs.db, .DS_Store, desktop.ini, ._*",
    ),
    CheckSpec(Check.DUPLICATE, INFO, "exact byte duplicate of another file"),
    CheckSpec(
        Check.NEAR_DUPLICATE,
        INFO,
        "a copy (same pixels, or a resized/re-compressed/cropped/brightened one) that clean --duplicates removes",
    ),
    CheckSpec(Check.ODD_SIZE, INFO, "far larger or smaller than the dataset's typical image"),
    CheckSpec(
        Check.INSPECTION_FAILED,
        ERR,
        "the file could not be inspected: a decoder crashed or hung, or it (or its folder) is unreadable",
    ),
    CheckSpec(
        Check.NOT_FOLLOWED,
        WARN,
        "a symbolic link that leaves the folder, points at a folder, dangles or loops: not followed",
    ),
    CheckSpec(Check.EMPTY_CLASS, WARN, "a class folder with no images"),
)

FILE_CHECKS: tuple[CheckSpec, ...] = tuple(c for c in CHECKS if c.per_file)
CHECK_NAMES: tuple[str, ...] = tuple(c.name for c in CHECKS)
_BY_NAME = {c.name: c for c in CHECKS}
# name -> (severity, summary) of the dataset checks (kept for the renderers that list them).
DATASET_CHECKS: dict[str, tuple[Severity, str]] = {c.name: (c.severity, c.summary) for c in CHECKS if not c.per_file}


def severity_of(name: str) -> Severity:
    """The severity the table gives check `name`."""
    return _BY_NAME[name].severity


def finding(path: str, name: str, detail: str) -> Finding:
    """A Finding of check `name`, with the table's severity."""
    return Finding(path, name, _BY_NAME[name].severity, detail)


def run_checks(sample: Sample) -> list[Finding]:
    """Run every per-file check on one sample, in table order."""
    findings: list[Finding] = []
    for spec in FILE_CHECKS:
        assert spec.run is not None
        for detail in spec.run(sample):
            findings.append(Finding(sample.rel, spec.name, spec.severity, detail))
    return findings


__all__ = [
    "CHECKS", "CHECKS_VERSION", "CHECK_NAMES", "DATASET_CHECKS", "FILE_CHECKS", "Check", "CheckOptions",
    "CheckSpec", "QualityThresholds", "Sample", "finding", "run_checks", "severity_of",
]  # fmt: skip
