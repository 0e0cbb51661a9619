"""What to split: RAW's images that can be split, each with its duplicate unit, and every file
left out with its reason. Reads validate's streamed run (cached results: no second decode) one
file at a time; the duplicate search reads its hash columns from the same run file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from dataprep.base.errors import DataprepError
from dataprep.base.findings import Severity
from dataprep.base.journal import sha256_file
from dataprep.inspection.checks.names import Check
from dataprep.inspection.scan import junk_reason, natural_key, no_images_message
from dataprep.split.plan import Excluded, SourceFile

if TYPE_CHECKING:
    from dataprep.inspection.validate import ValidateOptions
    from dataprep.inspection.validate_stream import RunFile, StreamedReport


def _validate(raw: Path, options: ValidateOptions | None) -> StreamedReport:
    """Validate RAW into a run file (cached results for unchanged files): hashes and which files
    are broken, with the columns duplicate search reads. The caller closes its store."""
    from dataprep.inspection.validate import ValidateOptions
    from dataprep.inspection.validate_stream import validate_streamed

    return validate_streamed(raw, options or ValidateOptions(), near_columns=True)


def collect_sources(
    raw: Path, *, include_invalid: bool = False, validate_options: ValidateOptions | None = None, semantic: bool = False
) -> tuple[list[SourceFile], list[Excluded]]:
    """The images of RAW that can be split, and every file left out with its reason. With
    `semantic`, look-alike copies (embedding neighbours verified geometrically) join the
    duplicate groups too.

    Junk (Thumbs.db, .DS_Store, non-image extensions) and files outside a class folder are
    always left out; files `validate` rates `error` are left out unless `include_invalid`.
    """
    run = _validate(raw, validate_options)
    try:
        _require_class_folders(run, raw)
        sources: list[SourceFile] = []
        junk: list[Excluded] = []
        images: list[Excluded] = []
        left_out: list[int] = []  # the images that are no source: the duplicate search skips them
        for file in run.files_with_results():
            why = _why_left_out(file, include_invalid)
            if why is None:
                sources.append(_source(file))
            elif file.image:
                images.append(Excluded(file.record.rel, why))
                left_out.append(file.rowid)
            else:
                junk.append(Excluded(file.record.rel, why))
        excluded = junk + [Excluded(p.rel, p.detail) for p in run.problems()] + images
        excluded.sort(key=lambda e: natural_key(e.path))
        return _with_duplicate_groups(sources, run, left_out, semantic, validate_options), excluded
    finally:
        run.store.close()


def _require_class_folders(run: StreamedReport, raw: Path) -> None:
    """One clear error for a RAW that is already split, holds no images, or has no class folders."""
    if run.layout == "split":
        raise DataprepError(
            f"'{raw}' is already split (it holds {'/'.join(run.splits()) or 'train'} folders); "
            "pass the raw folder of class folders (RAW/CLASS/*.jpg)"
        )
    if not run.images and not run.junk:
        raise DataprepError(no_images_message(run.scan_for_message(), raw))
    if not run.classes():
        raise DataprepError(
            f"'{raw}' has no class folders (expected RAW/CLASS/*.jpg, e.g. RAW/cats/1.jpg); "
            "put each class's images in a folder named after the class"
        )


def _why_left_out(file: RunFile, include_invalid: bool) -> str | None:
    """Why a file is not split (junk, outside a class folder, invalid), or None."""
    if not file.image:
        rec = file.record
        return junk_reason(rec.name) or (None if file.junk_by_name else file.content_junk_reason()) or "not an image"
    if file.record.label is None:
        return "not inside a class folder"
    # An image in a format TensorFlow cannot read is still an image of its class: split places
    # it (`dataprep convert` makes it readable, before or after the split).
    errors = [
        f.detail for f in file.result().findings if f.severity == Severity.ERROR and f.check != Check.UNSUPPORTED_FORMAT
    ]
    if errors and not include_invalid:
        return f"invalid: {errors[0]} (--include-invalid keeps it)"
    return None


def _source(file: RunFile) -> SourceFile:
    rec, result = file.record, file.result()
    sha = result.sha256 if result.sha256 else _sha256_of_source(rec.path, rec.rel)
    assert rec.label is not None  # `_why_left_out` keeps images outside a class folder out
    return SourceFile(rel=rec.rel, label=rec.label, sha256=sha, size=rec.size)


def _sha256_of_source(path: Path, rel: str) -> str:
    try:
        return sha256_file(path)
    except OSError as err:
        raise DataprepError(
            f"cannot read '{rel}' in RAW ({err.strerror or err}); fix its permissions, or leave it out (drop --include-invalid)"
        ) from None


def _with_duplicate_groups(
    sources: list[SourceFile], run: StreamedReport, left_out: list[int], semantic: bool,
    options: ValidateOptions | None,
) -> list[SourceFile]:  # fmt: skip
    """Mark exact and near duplicates (same pixels, close pHashes) as one group each, so the
    planner places each group as a unit and the split has no leaks by construction."""
    from dataprep.duplicates.hashed import HashedImages
    from dataprep.duplicates.search import search_folder

    images = HashedImages.from_run(run, skip=left_out)  # the sources with content, as columns
    group_of: dict[str, str] = {}
    for unit in search_folder(run.root, images, semantic=semantic, options=options).units:
        for path in unit:  # every connected set of verified pairs: no pair is torn apart
            group_of[path] = f"group:{unit[0]}"
    return [replace(s, group=group_of[s.rel]) if s.rel in group_of else s for s in sources]
