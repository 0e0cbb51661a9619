"""What `convert` would do, decided before any file moves: which images become what, and why;
which cannot be converted (with the reason); which are refused because their decode is damaged.

Pure over validate's report (the only file read is a look at which target names are taken);
`dataprep.actions.convert` carries the plan out, in place or into a copy, journaled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from dataprep.base.defaults import DEFAULT_CONVERT_TO, DEFAULT_JPEG_QUALITY
from dataprep.base.errors import DataprepError
from dataprep.base.formats import FORMATS, enable_heif, format_extension, format_name
from dataprep.inspection.damage import decode_damage
from dataprep.inspection.report import FileResult, Report
from dataprep.inspection.validate import ValidateOptions

TARGETS = ("png", "jpeg")
_FIXED_BY_REENCODING = ("unsupported_format", "tf_decode", "wrong_pixels", "exif_orientation")
_NOT_CONVERTIBLE = ("empty_file", "unknown_format", "pixel_limit", "pillow_decode", "inspection_failed", "truncated")

AfterFile = Callable[[int, int], None]


@dataclass
class ConvertOptions:
    """How to convert: output format for re-encoded images, JPEG quality, whether animated
    images may lose their other frames, where originals go (in place) or the copy (out)."""

    to: str = DEFAULT_CONVERT_TO
    quality: int = DEFAULT_JPEG_QUALITY
    first_frame: bool = False
    force_damaged: bool = False
    out: Path | None = None
    quarantine: Path | None = None
    dry_run: bool = False
    validate: ValidateOptions = field(default_factory=ValidateOptions)
    after_file: AfterFile | None = None

    def check(self) -> None:
        if self.to not in TARGETS:
            raise DataprepError(f"--to {self.to!r} is not an output format (expected png or jpeg)")
        if not 1 <= self.quality <= 100:
            raise DataprepError(f"--quality {self.quality} is out of range (expected 1-100; 95 keeps photos intact)")


@dataclass
class Conversion:
    """One file to convert: `rel` (the original) becomes `target`, re-encoded as `output` (None:
    the same bytes, renamed); `why` lists what is fixed."""

    rel: str
    target: str
    output: str | None
    why: list[str]
    sha256: str | None = None
    size: int = 0
    damage: list[str] = field(default_factory=list)  # converted anyway (--force-damaged)

    def to_dict(self) -> dict[str, Any]:
        d = {"path": self.rel, "target": self.target, "output": self.output or "rename", "why": self.why}
        return d | ({"damage": self.damage} if self.damage else {})


def heif_available() -> bool:
    """Whether HEIC/HEIF can be read (through the optional pillow-heif)."""
    return enable_heif()


# --- planning ----------------------------------------------------------------------------------


def _reasons(r: FileResult, first_frame: bool) -> tuple[list[str], bool, str | None]:
    """(what converting fixes, whether it re-encodes, why it is skipped)."""
    checks = {f.check: f for f in r.findings}
    blocked = [c for c in _NOT_CONVERTIBLE if c in checks]
    if blocked:
        return [], False, f"{blocked[0]}: {checks[blocked[0]].detail} (not convertible; `dataprep clean` removes it)"
    why = []
    fmt = r.format or "?"
    if "unsupported_format" in checks:
        why.append(f"{format_name(fmt)} is not a format TensorFlow reads")
    if "tf_decode" in checks:
        why.append(f"TensorFlow cannot decode this {r.mode or ''} {format_name(fmt)}".replace("  ", " "))
    if "wrong_pixels" in checks:
        why.append(f"TensorFlow decodes this {r.mode or ''} {format_name(fmt)} to wrong pixels".replace("  ", " "))
    if "exif_orientation" in checks:
        why.append("EXIF orientation baked in")
    reencode = bool(why)
    if r.frames > 1:
        if not first_frame:
            if why:
                return [], False, f"animated ({r.frames} frames): pass --first-frame to keep only the first frame"
            return [], False, ""
        why.append(f"first of {r.frames} frames kept (--first-frame)")
        reencode = True
    if "extension_mismatch" in checks and not reencode:
        why.append(f"renamed: the content is {format_name(fmt)}")
    return why, reencode, None


def _target_name(rel: str, output_fmt: str, taken: set[str], exists: Callable[[str], bool]) -> str | None:
    """Where the converted file goes: same name when the extension already fits the format,
    else the stem with the format's extension, else `name.oldext.newext`; None if all are taken."""
    pure = PurePosixPath(rel)
    if pure.suffix.lower() in FORMATS.get(output_fmt, ("", ()))[1]:
        return rel
    ext = format_extension(output_fmt)
    for candidate in (pure.with_suffix(ext), pure.with_name(pure.name + ext)):
        text = candidate.as_posix()
        if text not in taken and not exists(text):
            return text
    return None


def _exists_besides(root: Path, source: str) -> Callable[[str], bool]:
    """Whether a file other than `source` already exists at a relative path under `root`."""
    return lambda rel: rel != source and (root / rel).exists()


Plan = tuple[list[Conversion], list[tuple[str, str]], list[tuple[str, str]]]


def _refusal(damage: list[str]) -> str:
    return (
        f"damaged, not converted ({damage[0]}): re-encoding would hide the damage; `dataprep clean` removes it, "
        "or --force-damaged converts it anyway and records the damage in the manifest"
    )


def plan_conversions(report: Report, options: ConvertOptions) -> Plan:
    """Which images to convert into what, which cannot be (with the reason), and which are
    refused because their decode was damaged."""
    planned: list[Conversion] = []
    skipped: list[tuple[str, str]] = []
    refused: list[tuple[str, str]] = []
    images = {r.rel for r in report.scan.images}
    taken = set(images)
    need_heif = False
    for r in report.results:
        if r.rel not in images:
            continue
        if r.format == "heic" and any(f.check == "unsupported_format" for f in r.findings):
            need_heif = True
        why, reencode, skip = _reasons(r, options.first_frame)
        if skip:
            skipped.append((r.rel, skip))
        if not why:
            continue
        damage = decode_damage(r) if reencode else []  # a rename keeps the bytes: validate still sees it
        if damage and not options.force_damaged:
            refused.append((r.rel, _refusal(damage)))
            continue
        if damage:
            why.append("converted although damaged (--force-damaged; the damage is in the manifest)")
        output = (("jpeg" if r.format == "jpeg" else options.to) if reencode else r.format) or options.to
        target = _target_name(r.rel, output, taken - {r.rel}, _exists_besides(report.root, r.rel))
        if target is None:
            skipped.append((r.rel, "every name for the converted file is taken; rename a file and re-run"))
            continue
        taken.add(target)
        planned.append(Conversion(r.rel, target, output if reencode else None, why, r.sha256, r.size, damage))
    if need_heif and not heif_available():
        raise DataprepError(
            "HEIC/HEIF images need the optional pillow-heif decoder, which is not installed; "
            "run: pip install 'dataprep[heif]' (then re-run dataprep convert)"
        )
    return planned, skipped, refused
