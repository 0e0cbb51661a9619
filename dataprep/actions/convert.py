"""`convert`: make every image TensorFlow cannot read, or reads wrongly, into one it reads right.

What it fixes, from validate's findings (one read, one decode per file, the result cache):
- an image format the training decoder cannot read (`unsupported_format`: PPM, TIFF, TGA, JPEG
  2000, HEIC, AVIF, ICO, PSD, ...) -> PNG (lossless; `--to jpeg` for JPEG at `--quality`);
- pixels TensorFlow decodes wrong or not at all while Pillow reads them (`wrong_pixels`,
  `tf_decode`: CMYK, palette/1-bit/16-bit BMP, 16-bit PNG) -> RGB;
- an EXIF orientation TensorFlow ignores (`exif_orientation`) -> baked into the pixels, tag reset;
- an extension that lies about the content (`extension_mismatch`) -> renamed to the real one;
- with `--first-frame`, animated images -> their first frame (explicit: it drops frames).
JPEG sources stay JPEG (at `--quality`); everything else becomes `--to`.

Never what is damaged (`dataprep.inspection.damage`: cut short, corrupt data, decoders disagreeing about the
picture): re-encoding it would launder the damage into a clean file. Such a file is refused by
name; `--force-damaged` converts it anyway and records the damage in the manifest. A decoder that
raises while re-encoding a file fails that file alone: one line names it and why, and the
original is back in place, byte-identical (it is decoded before it moves; a re-run of a killed
run that finds it already quarantined moves it back).

In place (default), each original moves into the quarantine `clean` uses, with the same
manifest, so `dataprep restore` gives back the exact original tree (it also removes the
converted file, when it is unchanged). Crash safety as in `clean`: every planned file is in the
manifest before the first move; per file the journal records the intent, the original moves
(one rename), the converted bytes' hash is journaled, then they are written atomically. A re-run
finishes what a killed run started; a second run finds nothing to do. With `out`, a converted
copy of the dataset is written to OUT (OUT/convert.json first, each file atomically; a re-run
writes what is missing) and DIR is not touched. What to convert, and why, is planned before any
file moves (`dataprep.actions.convert_plan`); this module carries the plan out.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from dataprep.actions.convert_plan import Conversion, ConvertOptions, heif_available, plan_conversions
from dataprep.actions.quarantine import (
    CONVERTED,
    JOURNAL,
    PLANNED,
    QUARANTINED,
    RESERVED,
    RESTORED,
    Manifest,
    default_quarantine,
    now,
    open_record_folder,
    safe_rel,
)
from dataprep.base.errors import DataprepError
from dataprep.base.folder_lock import LOCK_NAME, folder_locks
from dataprep.base.journal import (
    Journal,
    copy_atomic,
    move_atomic,
    remove_stale_temporaries,
    sha256_file,
    write_atomic,
    write_json_atomic,
)
from dataprep.inspection.scan import require_directory
from dataprep.inspection.validate import validate

if TYPE_CHECKING:
    from PIL import Image

OUT_MANIFEST = "convert.json"
OUT_VERSION = 1


@dataclass
class ConvertResult:
    root: Path
    planned: list[Conversion]
    skipped: list[tuple[str, str]]
    refused: list[tuple[str, str]] = field(
        default_factory=list
    )  # damaged: not converted (see dataprep.inspection.damage)
    failed: list[tuple[str, str]] = field(default_factory=list)  # a decoder raised; the original is in place
    quarantine: Path | None = None
    out: Path | None = None
    converted: int = 0
    copied: int = 0
    recovered: int = 0
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": OUT_VERSION,
            "root": str(self.root),
            "quarantine": str(self.quarantine) if self.quarantine else None,
            "out": str(self.out) if self.out else None,
            "dry_run": self.dry_run,
            "files": [c.to_dict() for c in self.planned],
            "skipped": [{"path": rel, "reason": why} for rel, why in self.skipped],
            "refused_damaged": [{"path": rel, "reason": why} for rel, why in self.refused],
            "failed": [{"path": rel, "reason": why} for rel, why in self.failed],
            "converted": self.converted,
            "copied": self.copied,
            "recovered_from_interrupted_run": self.recovered,
        }


# --- pixels ------------------------------------------------------------------------------------


def _to_output_mode(im: Image.Image, output: str) -> Image.Image:
    """RGB (or RGBA, for PNG, when the image has transparency); 16-bit and float scaled to 8 bits."""
    import numpy as np
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        scale = 257.0 if arr.max(initial=0) > 255 else 1.0
        im = Image.fromarray(np.clip(arr / scale, 0, 255).astype("uint8"))
    alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if output == "png" and alpha:
        return im if im.mode == "RGBA" else im.convert("RGBA")
    if im.mode == "RGBA" or im.mode == "LA":
        return im.convert("RGB")
    return im if im.mode == "RGB" else im.convert("RGB")


def encode_converted(data: bytes, output: str, quality: int) -> bytes:
    """The image in `data` (its first frame), upright (EXIF orientation applied and reset), in
    RGB(A), encoded as PNG or JPEG. Deterministic: the same input gives the same bytes."""
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(BytesIO(data)) as im:
            # A freshly opened image is at its first frame; no seek(0): Pillow numbers some
            # formats' frames from 1 (PSD) and raises EOFError on a seek outside them.
            im.load()
            cmyk = im.mode == "CMYK"
            upright = ImageOps.exif_transpose(im) or im
            pixels = _to_output_mode(upright, output)
            params: dict[str, Any] = {}
            exif = upright.getexif()
            if len(exif):
                params["exif"] = exif.tobytes()
            icc = im.info.get("icc_profile")
            if icc and not cmyk and pixels.mode in ("RGB", "RGBA"):
                params["icc_profile"] = icc
            buf = BytesIO()
            if output == "jpeg":
                pixels.save(buf, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2, **params)
            else:
                pixels.save(buf, "PNG", **params)
            return buf.getvalue()


def converted_bytes(conversion: Conversion | dict[str, Any], source: bytes, quality: int) -> bytes:
    """The bytes the converted file gets: re-encoded, or (a rename) the original bytes."""
    output = conversion.output if isinstance(conversion, Conversion) else conversion.get("output")
    if output is None:
        return source
    if output == "heic":  # pragma: no cover - never an output format
        raise DataprepError("internal: heic is not an output format")
    heif_available()
    return encode_converted(source, output, quality)


class ReencodeFailed(DataprepError):
    """A decoder raised while one file was re-encoded: that file is not converted (exit 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=1)


def _reencode(rel: str, conversion: Conversion | dict[str, Any], original: Path, quality: int) -> bytes:
    """`converted_bytes` of one file, a decoder's exception turned into ReencodeFailed naming it."""
    source = original.read_bytes()
    try:
        return converted_bytes(conversion, source, quality)
    except DataprepError:
        raise
    except Exception as err:  # Pillow's plugins raise anything on bad input: EOFError, IndexError, struct.error
        reason = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else 'no message'}"
        raise ReencodeFailed(f"could not convert '{rel}': {reason}; the original is in place, unchanged") from err


# --- in place ----------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _journal_hashes(journal: Journal) -> dict[str, str]:
    """The hash of each converted file as journaled just before it was written."""
    return {
        e["path"]: e["sha256"]
        for e in journal.entries()
        if e.get("op") == "convert" and e.get("phase") == "encoded" and isinstance(e.get("sha256"), str)
    }


def _finish_entry(
    rel: str, entry: dict[str, Any], root: Path, quarantine: Path, journal: Journal, hashes: dict[str, str]
) -> None:
    """Take one planned conversion to the end, from wherever a killed run left it."""
    src = safe_rel(rel, root, "the manifest")
    stored = safe_rel(rel, quarantine, "the manifest")
    target = safe_rel(entry["converted_to"], root, "the manifest")
    original_sha = entry.get("sha256")
    quality = int(entry.get("quality", 95))
    data: bytes | None = None
    if not stored.exists():
        data = _reencode(rel, entry, src, quality)  # before it moves: a decoder that raises leaves it in place
        journal.append({"op": "convert", "path": rel, "phase": "intent", "target": entry["converted_to"]})
        move_atomic(src, stored)
    elif src.exists() and src != target and original_sha and sha256_file(src) == original_sha == sha256_file(stored):
        src.unlink()  # an interrupted cross-filesystem move left both copies
    expected = hashes.get(rel)
    if target.exists():
        found = sha256_file(target)
        if expected is not None and found == expected:
            entry["converted_sha256"] = found
            entry["status"] = CONVERTED
            journal.append({"op": "convert", "path": rel, "phase": "done"})
            return
        if target == src and original_sha and found == original_sha == sha256_file(stored):
            target.unlink()  # a cross-filesystem leftover of the original, in the converted file's place
        else:
            raise DataprepError(
                f"'{target}' exists and is not the file dataprep convert wrote for '{rel}'; move it away and re-run"
            )
    if data is None:
        try:
            data = _reencode(rel, entry, stored, quality)
        except ReencodeFailed:
            _roll_back(rel, src, stored, journal)
            raise
    digest = _sha(data)
    journal.append({"op": "convert", "path": rel, "phase": "encoded", "sha256": digest})
    write_atomic(target, data)
    entry["converted_sha256"] = digest
    entry["status"] = CONVERTED
    journal.append({"op": "convert", "path": rel, "phase": "done"})


def _roll_back(rel: str, src: Path, stored: Path, journal: Journal) -> None:
    """Put an original whose re-encoding failed back in place (the same bytes: one rename)."""
    if stored.exists() and not src.exists():
        move_atomic(stored, src)
    journal.append({"op": "convert", "path": rel, "phase": "rolled_back"})


def _finish_or_fail(
    rel: str, manifest: Manifest, quarantine: Path, journal: Journal, hashes: dict[str, str], result: ConvertResult
) -> bool:
    """`_finish_entry`; a file whose decoder raised leaves the manifest and joins `result.failed`."""
    try:
        _finish_entry(rel, manifest.entries[rel], manifest.root, quarantine, journal, hashes)
    except ReencodeFailed as err:
        del manifest.entries[rel]
        result.failed.append((rel, str(err)))
        return False
    return True


def _recover(manifest: Manifest, quarantine: Path, journal: Journal, result: ConvertResult) -> int:
    """Finish every conversion a killed run left unfinished; drop those it never started."""
    open_entries = {
        rel: e
        for rel, e in manifest.entries.items()
        if e.get("action") == "convert" and e["status"] in (PLANNED, QUARANTINED)
    }
    if not open_entries:
        return 0
    remove_stale_temporaries(quarantine)
    for folder in {(manifest.root / PurePosixPath(e["converted_to"]).parent) for e in open_entries.values()}:
        if folder.is_dir():
            for leftover in folder.glob(".dataprep-tmp-*"):
                leftover.unlink(missing_ok=True)
    hashes = _journal_hashes(journal)
    settled = 0
    for rel in sorted(open_entries):
        src = safe_rel(rel, manifest.root, "the manifest")
        stored = safe_rel(rel, quarantine, "the manifest")
        if not stored.exists() and src.exists():
            del manifest.entries[rel]  # never started: planned again from a fresh validate
            continue
        if not stored.exists():
            raise DataprepError(
                f"'{rel}' is in the manifest but neither in '{quarantine}' nor in '{manifest.root}'; it was moved by hand"
            )
        settled += _finish_or_fail(rel, manifest, quarantine, journal, hashes, result)
    return settled


def _open_quarantine(base: Path, requested: Path | None) -> tuple[Path, Manifest]:
    return open_record_folder(base, requested or default_quarantine(base), "quarantine", "--quarantine")


def _convert_in_place(base: Path, opts: ConvertOptions) -> ConvertResult:
    quarantine, manifest = _open_quarantine(base, opts.quarantine)
    journal = Journal(quarantine / JOURNAL)
    result = ConvertResult(base, [], [], quarantine=quarantine, dry_run=opts.dry_run)
    if not opts.dry_run:
        result.recovered = _recover(manifest, quarantine, journal, result)
        if result.recovered or result.failed or any(e.get("action") == "convert" for e in manifest.entries.values()):
            manifest.save()
    report = validate(base, opts.validate)
    planned, result.skipped, result.refused = plan_conversions(report, opts)
    failed = {rel for rel, _ in result.failed}  # rolled back while recovering: not tried twice
    result.planned = planned = [c for c in planned if c.rel not in failed]
    if opts.dry_run or not planned:
        return result
    for c in planned:
        if c.rel in RESERVED:
            raise DataprepError(f"'{c.rel}' has the name of the quarantine's own {c.rel}; rename it and re-run")
        previous = manifest.entries.get(c.rel)
        if (
            previous is not None
            and previous["status"] in (QUARANTINED, CONVERTED)
            and safe_rel(c.rel, quarantine, "the report").exists()
        ):
            raise DataprepError(
                f"'{c.rel}' is already in the quarantine '{quarantine}' from an earlier run; restore or move that copy away first"
            )
        manifest.entries[c.rel] = {
            "path": c.rel, "size": c.size, "sha256": c.sha256 or sha256_file(base / c.rel), "action": "convert",
            "converted_to": c.target, "output": c.output, "quality": opts.quality, "why": c.why,
            "status": PLANNED, "time": now(),
        } | ({"damage": c.damage} if c.damage else {})  # fmt: skip
    manifest.save()  # every planned file is on record before the first one moves
    for n, c in enumerate(planned, 1):
        result.converted += _finish_or_fail(c.rel, manifest, quarantine, journal, {}, result)
        if opts.after_file is not None:
            opts.after_file(n, len(planned))
    manifest.save()
    return result


def undo_conversion(
    rel: str, entry: dict[str, Any], root: Path, quarantine: Path, journal: Journal, dry_run: bool
) -> str:
    """Undo one conversion (a row of `dataprep.actions.restore`'s table): remove the converted file (only when
    it is unchanged) and move the original back. Returns 'restored', 'refused' or 'settled' (nothing
    left to do); the entry is marked restored unless refused."""
    outcome = _undo_conversion_files(rel, entry, root, quarantine, journal, dry_run)
    if outcome != "refused" and not dry_run:
        entry["status"] = RESTORED
    return outcome


def _undo_conversion_files(
    rel: str, entry: dict[str, Any], root: Path, quarantine: Path, journal: Journal, dry_run: bool
) -> str:
    stored = safe_rel(rel, quarantine, "the manifest")
    original = safe_rel(rel, root, "the manifest")
    target = safe_rel(entry.get("converted_to", rel), root, "the manifest")
    if not stored.exists():
        return "settled" if original.exists() else "refused"
    expected = entry.get("converted_sha256") or _journal_hashes(journal).get(rel)
    if target.exists():
        if expected is None or sha256_file(target) != expected:
            return "refused"  # the converted file was changed (or is not ours): keep both
        if dry_run:
            return "restored"
        journal.append({"op": "restore", "path": rel, "phase": "intent", "remove": entry.get("converted_to")})
        target.unlink()
    if original.exists():
        return "refused"
    if not dry_run:
        move_atomic(stored, original)
        journal.append({"op": "restore", "path": rel, "phase": "done"})
    return "restored"


# --- a converted copy --------------------------------------------------------------------------


def _convert_to_copy(base: Path, opts: ConvertOptions) -> ConvertResult:
    import json

    assert opts.out is not None
    out = opts.out.expanduser().resolve()
    if _overlaps(out, base):
        raise DataprepError(f"--out '{out}' overlaps the dataset '{base}'; choose a new folder outside it")
    record = out / OUT_MANIFEST
    if out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):
        try:
            previous = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise DataprepError(
                f"--out '{out}' is not empty and holds no {OUT_MANIFEST} (expected a new folder, or one an earlier "
                "dataprep convert --out wrote); choose another folder"
            ) from None
        if previous.get("root") != str(base):
            raise DataprepError(
                f"--out '{out}' holds a converted copy of '{previous.get('root')}', not of '{base}'; choose another folder"
            )
    report = validate(base, opts.validate)
    planned, skipped, refused = plan_conversions(report, opts)
    result = ConvertResult(base, planned, skipped, refused, out=out, dry_run=opts.dry_run)
    if opts.dry_run:
        return result
    by_rel = {c.rel: c for c in planned}
    copies = [r.rel for r in report.scan.images if r.rel not in by_rel]
    write_json_atomic(record, {
        "version": OUT_VERSION, "tool": "dataprep", "root": str(base), "to": opts.to, "quality": opts.quality,
        "converted": [c.to_dict() for c in planned], "copied": copies,
        "left_out": [{"path": r.rel, "reason": report.scan.junk_reason(r)} for r in report.scan.junk],
    })  # fmt: skip
    remove_stale_temporaries(out)
    total = len(planned) + len(copies)
    for n, rel in enumerate([c.rel for c in planned] + copies, 1):
        conversion = by_rel.get(rel)
        dest = safe_rel(conversion.target if conversion else rel, out, "the report")
        if not dest.exists():
            if conversion is None:
                copy_atomic(base / rel, dest)
                result.copied += 1
            else:
                try:
                    write_atomic(dest, _reencode(rel, conversion, base / rel, opts.quality))
                    result.converted += 1
                except ReencodeFailed as err:
                    result.failed.append((rel, str(err)))
        if opts.after_file is not None:
            opts.after_file(n, total)
    return result


def convert(root: str | os.PathLike[str], options: ConvertOptions | None = None) -> ConvertResult:
    """Convert every image of `root` that TensorFlow cannot read or reads wrongly (see the
    module docstring): in place, originals quarantined; or, with `options.out`, into a copy."""
    opts = options or ConvertOptions()
    opts.check()
    base = require_directory(root)
    if opts.out is not None:
        out = opts.out.expanduser().resolve()
        with folder_locks("convert", out, enabled=not opts.dry_run and not _overlaps(out, base)):
            return _convert_to_copy(base, opts)
    quarantine = (opts.quarantine or default_quarantine(base)).expanduser().resolve()
    with folder_locks("convert", quarantine, base, enabled=not opts.dry_run and not _overlaps(quarantine, base)):
        return _convert_in_place(base, opts)


def _overlaps(folder: Path, base: Path) -> bool:
    """Whether `folder` and the dataset overlap (refused with its own message, before any lock)."""
    return folder == base or base in folder.parents or folder in base.parents
