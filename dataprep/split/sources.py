"""What to split: RAW's images that can be split, each with its duplicate unit, and every file
left out with its reason. Reads validate's results (cached: no second decode)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dataprep.base.errors import DataprepError
from dataprep.base.findings import Severity
from dataprep.base.journal import sha256_file
from dataprep.inspection.checks.names import Check
from dataprep.inspection.scan import natural_key, no_images_message
from dataprep.split.plan import Excluded, SourceFile

if TYPE_CHECKING:
    from dataprep.inspection.report import Report
    from dataprep.inspection.validate import ValidateOptions


def _validate(raw: Path, options: ValidateOptions | None) -> Report:
    """Validate RAW (cached results for unchanged files): hashes and which files are broken."""
    from dataprep.inspection.validate import validate

    return validate(raw, options)


def collect_sources(
    raw: Path, *, include_invalid: bool = False, validate_options: ValidateOptions | None = None, semantic: bool = False
) -> tuple[list[SourceFile], list[Excluded]]:
    """The images of RAW that can be split, and every file left out with its reason. With
    `semantic`, look-alike copies (embedding neighbours verified geometrically) join the
    duplicate groups too.

    Junk (Thumbs.db, .DS_Store, non-image extensions) and files outside a class folder are
    always left out; files `validate` rates `error` are left out unless `include_invalid`.
    """
    report = _validate(raw, validate_options)
    scan = report.scan
    if scan.layout == "split":
        raise DataprepError(
            f"'{raw}' is already split (it holds {'/'.join(scan.splits) or 'train'} folders); "
            "pass the raw folder of class folders (RAW/CLASS/*.jpg)"
        )
    if not scan.images and not scan.junk:
        raise DataprepError(no_images_message(scan, raw))
    if not scan.classes:
        raise DataprepError(
            f"'{raw}' has no class folders (expected RAW/CLASS/*.jpg, e.g. RAW/cats/1.jpg); "
            "put each class's images in a folder named after the class"
        )
    sources: list[SourceFile] = []
    excluded: list[Excluded] = [Excluded(r.rel, scan.junk_reason(r)) for r in scan.junk]
    excluded += [Excluded(p.rel, p.detail) for p in scan.problems]
    for rec in scan.images:
        if rec.label is None:
            excluded.append(Excluded(rec.rel, "not inside a class folder"))
            continue
        result = report.result(rec.rel)
        # An image in a format TensorFlow cannot read is still an image of its class: split places
        # it (`dataprep convert` makes it readable, before or after the split).
        errors = [
            f.detail for f in result.findings if f.severity == Severity.ERROR and f.check != Check.UNSUPPORTED_FORMAT
        ] if result else []  # fmt: skip
        if errors and not include_invalid:
            excluded.append(Excluded(rec.rel, f"invalid: {errors[0]} (--include-invalid keeps it)"))
            continue
        sha = result.sha256 if result is not None and result.sha256 else _sha256_of_source(rec.path, rec.rel)
        sources.append(SourceFile(rel=rec.rel, label=rec.label, sha256=sha, size=rec.size))
    excluded.sort(key=lambda e: natural_key(e.path))
    return _with_duplicate_groups(sources, report, semantic, validate_options), excluded


def _sha256_of_source(path: Path, rel: str) -> str:
    try:
        return sha256_file(path)
    except OSError as err:
        raise DataprepError(
            f"cannot read '{rel}' in RAW ({err.strerror or err}); fix its permissions, or leave it out (drop --include-invalid)"
        ) from None


def _with_duplicate_groups(
    sources: list[SourceFile], report: Report, semantic: bool = False, options: ValidateOptions | None = None
) -> list[SourceFile]:
    """Mark exact and near duplicates (same pixels, close pHashes) as one group each, so the
    planner places each group as a unit and the split has no leaks by construction."""
    from dataclasses import replace

    from dataprep.duplicates.search import search_folder

    wanted = {s.rel for s in sources}
    results = [r for r in report.results if r.rel in wanted]
    group_of: dict[str, str] = {}
    for unit in search_folder(
        report.root, results, semantic=semantic, options=options
    ).units:  # every connected set of verified pairs: no pair is torn apart
        for path in unit:
            group_of[path] = f"group:{unit[0]}"
    return [replace(s, group=group_of[s.rel]) if s.rel in group_of else s for s in sources]
