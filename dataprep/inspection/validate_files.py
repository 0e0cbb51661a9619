"""validate's per-file part: its options, the inspect loop over the result cache and the engines, and
what a result says about its file (junk by content, a problem of the walk).

`dataprep.inspection.validate_stream` runs a whole folder through it into a run file and adds the dataset
findings there; `inspect_paths` answers for single files (predict, evaluate)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from dataprep.base.defaults import DEFAULT_ENGINE, DEFAULT_TIMEOUT_S
from dataprep.base.errors import Interrupted
from dataprep.base.formats import extension_format
from dataprep.inspection.cache import CacheRow, ResultCache, fingerprint
from dataprep.inspection.checks import (
    CHECKS_VERSION,
    Check,
    CheckOptions,
    QualityThresholds,
    finding,
)
from dataprep.inspection.engines import result_stream
from dataprep.inspection.local_engine import InterruptHook, ProgressFn, interrupts_as_keyboard_interrupt
from dataprep.inspection.per_file import InspectFn, inspect_file
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import (
    FileRecord,
    Scan,
    ScanProblem,
    natural_key,
)


@dataclass
class ValidateOptions:
    """How to validate. `jobs=0` inspects in this process (no pool, no time limit).
    `engine`: "local" (a process pool here) or "ray" (a Ray cluster at `ray_address`)."""

    jobs: int | None = None
    engine: str = DEFAULT_ENGINE
    ray_address: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    cache_dir: Path | None = None
    use_cache: bool = True
    max_pixels: int = CheckOptions.max_pixels
    min_size: int = CheckOptions.min_size
    use_tf: bool = True
    image_properties: bool = True  # perceptual hashes + quality findings (off: neither)
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    progress: ProgressFn | None = None
    layout: str | None = None  # 'raw' | 'split' for a tree that reads both ways (dataprep.inspection.scan)

    @property
    def check_options(self) -> CheckOptions:
        return CheckOptions(
            max_pixels=self.max_pixels, min_size=self.min_size, use_tf=self.use_tf,
            image_properties=self.image_properties, quality=self.quality,
        )  # fmt: skip


def inspect_paths(paths: Sequence[Path], options: ValidateOptions | None = None) -> dict[Path, FileResult]:
    """Validate's per-file checks on individual files (not a dataset folder), from the result
    cache when a file is unchanged since it was last inspected with the same options. `predict`
    and `evaluate` use this so that they refuse what validate calls an error. Files that cannot
    be stat'ed are left out of the answer."""
    opts = options or ValidateOptions()
    records: list[FileRecord] = []
    for path in dict.fromkeys(Path(p).absolute() for p in paths):
        try:
            st = path.stat()
        except OSError:
            continue
        records.append(
            FileRecord(path=path, rel=str(path), label=None, split=None, size=st.st_size, mtime_ns=st.st_mtime_ns)
        )
    results, _, _ = inspect_scan(Scan(root=Path(os.sep), layout="flat", images=records), opts)
    by_rel = {r.rel: r for r in results}
    return {rec.path: by_rel[rec.rel] for rec in records}


CACHE_BATCH = 512  # results written to the cache per transaction, as they arrive


def inspect_scan(
    scan: Scan, opts: ValidateOptions, inspect: InspectFn = inspect_file
) -> tuple[list[FileResult], int, int]:
    """Results for every file of `scan` (images inspected or cached, junk described).
    `inspect` is the per-file function (tests and benchmarks pass a stand-in).

    Fresh results go to the cache as they arrive, so an interrupted run (Ctrl-C, SIGTERM:
    `Interrupted`, exit 130) keeps what it finished and the next run reuses it."""
    check_opts = opts.check_options
    cache = (
        ResultCache(opts.cache_dir, f"checks={CHECKS_VERSION};{fingerprint(check_opts)}") if opts.use_cache else None
    )
    fresh: dict[str, FileResult] = {}
    try:
        known = cache.lookup(scan.images) if cache else {}
        todo = [r for r in scan.images if r.rel not in known]

        def keep(index: int, result: FileResult, _: CacheRow) -> None:
            fresh[todo[index].rel] = result

        inspect_todo(todo, opts, cache, len(known), keep, inspect)
    finally:
        if cache:
            cache.close()
    by_rel = {**known, **fresh}
    scan.mark_junk(content_junk(scan.images, by_rel))
    results = [by_rel[r.rel] for r in scan.images] + [_junk_result(scan, r) for r in scan.junk]
    results += [problem_result(p) for p in scan.problems]
    results.sort(key=lambda r: natural_key(r.rel))
    return results, len(known), len(fresh)


def inspect_todo(
    todo: Sequence[FileRecord],
    opts: ValidateOptions,
    cache: ResultCache | None,
    cached: int,
    on_result: Callable[[int, FileResult, CacheRow], None],
    inspect: InspectFn = inspect_file,
) -> int:
    """Inspect `todo` on the chosen engine (one engine run), handing each result to `on_result`
    (with its index in `todo` and its `cache_row`, made once) and to the cache, in batches, as it
    arrives; the number inspected.

    Both validate paths (in memory here, streamed in `validate_stream`) run this loop. An
    interrupted run (Ctrl-C, SIGTERM: `Interrupted`, exit 130) keeps what it finished in the
    cache (`cached` results were there already), and the next run reuses it."""
    inspected = 0
    unsaved: list[tuple[FileRecord, CacheRow]] = []
    hook = InterruptHook()
    stream = result_stream(todo, opts.check_options, opts.engine, opts.ray_address, opts.jobs, opts.timeout_s, inspect)
    try:
        with interrupts_as_keyboard_interrupt(), closing(stream):
            for index, result in stream:
                inspected += 1
                rec = todo[index]
                row = cache_row(rec, result)
                on_result(index, result, row)
                if cache and not is_transient(result):
                    unsaved.append((rec, row))
                    if len(unsaved) >= CACHE_BATCH:
                        cache.store(unsaved)
                        unsaved = []
                if opts.progress is not None:
                    opts.progress(inspected, len(todo))
                hook.tick()
    except KeyboardInterrupt:
        kept = inspected + cached if cache else 0
        raise Interrupted(
            f"stopped after inspecting {inspected} of {len(todo)} files ({kept} results cached); "
            "re-run the same command to go on from there"
        ) from None
    finally:
        if cache:
            cache.store(unsaved)
    return inspected


def problem_result(problem: ScanProblem) -> FileResult:
    """A link not followed, an unreadable folder or an empty class folder, as a result of its own."""
    found = finding(problem.rel, problem.check, problem.detail)
    return FileResult(rel=problem.rel, size=0, mtime_ns=0, findings=[found])


def is_transient(result: FileResult) -> bool:
    """Timeouts and crashes may depend on machine load: inspect those files again next time."""
    return any(f.check == Check.INSPECTION_FAILED for f in result.findings)


def content_junk(records: list[FileRecord], by_rel: dict[str, FileResult]) -> dict[str, str]:
    """The files whose bytes are no image (text, HTML, an archive, nothing) and whose name does
    not claim an image format either: junk, with the reason (`content_junk_reason`)."""
    reasons: dict[str, str] = {}
    for rec in records:
        reason = content_junk_reason(rec, by_rel[rec.rel])
        if reason is not None:
            reasons[rec.rel] = reason
    return reasons


def content_junk_reason(rec: FileRecord, result: FileResult) -> str | None:
    """Why a file is junk by its content, or None. (A `.jpg` holding HTML stays an image with an
    `unknown_format` error: a download that failed, not a stray file.)"""
    if result.format is not None or extension_format(rec.name) is not None:
        return None
    checks = {f.check: f.detail for f in result.findings}
    if Check.INSPECTION_FAILED in checks:
        return None
    if Check.EMPTY_FILE in checks:
        return "an empty file"
    if Check.UNKNOWN_FORMAT in checks:
        return checks[Check.UNKNOWN_FORMAT].split(",")[0]
    return None


def _junk_result(scan: Scan, rec: FileRecord) -> FileResult:
    return junk_result(rec, scan.junk_reason(rec))


JUNK_DETAIL = ": not a training image"  # after the reason, in a junk_file finding


def junk_result(rec: FileRecord, reason: str) -> FileResult:
    junk = finding(rec.rel, Check.JUNK_FILE, f"{reason}{JUNK_DETAIL}")
    return FileResult(rel=rec.rel, size=rec.size, mtime_ns=rec.mtime_ns, findings=[junk])


ODD_SIZE_MIN_IMAGES = 10  # odd_size: a median of fewer images says little about what is typical
SIZE_SPOKEN_FOR = frozenset({Check.TOO_SMALL, Check.PIXEL_LIMIT})  # odd_size leaves these files to them


IMAGE, JUNK, PROBLEM = 0, 1, 2  # a result's group: the tie-break order of `validate()`'s results
UNREPORTED = ("phash", "dhash", "pixel_hash", "signature", "properties")  # in the cache, never in a report


def cache_row(rec: FileRecord, result: FileResult) -> CacheRow:
    """What the cache keeps of `result` (and a validate run file copies from it): its group (an
    image, or junk by its content: then the row is the junk result), worst severity, sha256, the
    side odd_size judges, and the reported text."""
    full = json.dumps(result.to_cache())
    reason = content_junk_reason(rec, result)
    if reason is not None:
        junk = junk_result(rec, reason)
        return CacheRow(full, JUNK, worst_rank(junk), None, None, report_text(junk))
    sha = result.sha256 if result.sha256 is not None and result.size > 0 else None
    return CacheRow(full, IMAGE, worst_rank(result), sha, odd_size_side(result), report_text(result))


def worst_rank(result: FileResult) -> int:
    """0 without findings, else 1 + the worst severity's rank (SQL orders and filters on it)."""
    w = result.worst
    return 0 if w is None else 1 + w.rank


def report_text(result: FileResult) -> str:
    """A result as a run file keeps it for the report: findings and sizes, without the hashes and
    the near-duplicate signature (most of a result's bytes; the cache has them)."""
    return json.dumps({k: v for k, v in result.to_cache().items() if k not in UNREPORTED})


def odd_size_side(r: FileResult) -> float | None:
    """sqrt(width * height) of an image odd_size judges, else None: decoded, and not already flagged
    too_small or pixel_limit (`SIZE_SPOKEN_FOR`)."""
    if r.properties and r.width and r.height and not any(f.check in SIZE_SPOKEN_FOR for f in r.findings):
        return float((r.width * r.height) ** 0.5)
    return None
