"""`validate`: check every file under a folder, reusing cached results for unchanged files."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from dataprep.cache import ResultCache
from dataprep.checks import (
    CHECKS_VERSION,
    DATASET_CHECKS,
    CheckOptions,
    QualityThresholds,
)
from dataprep.engine import (
    InspectFn,
    InterruptHook,
    ProgressFn,
    inspect_file,
    interrupts_as_keyboard_interrupt,
    result_stream,
)
from dataprep.errors import Interrupted
from dataprep.findings import Finding
from dataprep.report import FileResult, Report
from dataprep.scan import (
    FileRecord,
    Scan,
    ScanProblem,
    junk_reason,
    natural_key,
    scan_dataset,
)


@dataclass
class ValidateOptions:
    """How to validate. `jobs=0` inspects in this process (no pool, no time limit).
    `engine`: "local" (a process pool here) or "ray" (a Ray cluster at `ray_address`)."""

    jobs: int | None = None
    engine: str = "local"
    ray_address: str | None = None
    timeout_s: float = 60.0
    cache_dir: Path | None = None
    use_cache: bool = True
    max_pixels: int = CheckOptions.max_pixels
    min_size: int = CheckOptions.min_size
    use_tf: bool = True
    image_properties: bool = True  # perceptual hashes + quality findings (off: neither)
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    progress: ProgressFn | None = None

    @property
    def check_options(self) -> CheckOptions:
        return CheckOptions(
            max_pixels=self.max_pixels, min_size=self.min_size, use_tf=self.use_tf,
            image_properties=self.image_properties, quality=self.quality,
        )  # fmt: skip


def validate(root: str | os.PathLike[str], options: ValidateOptions | None = None) -> Report:
    """Check every file under `root` and return the report. Writes nothing under `root`."""
    opts = options or ValidateOptions()
    started = time.perf_counter()
    scan = scan_dataset(root)
    results, cached, inspected = inspect_scan(scan, opts)
    add_dataset_findings(scan, results, odd_size=opts.quality.odd_size if opts.image_properties else None)
    return Report(
        root=scan.root, scan=scan, results=results, cached=cached, inspected=inspected,
        seconds=time.perf_counter() - started,
    )  # fmt: skip


CACHE_BATCH = 512  # results written to the cache per transaction, as they arrive


def inspect_scan(scan: Scan, opts: ValidateOptions, inspect: InspectFn = inspect_file) -> tuple[list[FileResult], int, int]:
    """Results for every file of `scan` (images inspected or cached, junk described).
    `inspect` is the per-file function (tests and benchmarks pass a stand-in).

    Fresh results go to the cache as they arrive, so an interrupted run (Ctrl-C, SIGTERM:
    `Interrupted`, exit 130) keeps what it finished and the next run reuses it."""
    check_opts = opts.check_options
    cache = ResultCache(opts.cache_dir, f"checks={CHECKS_VERSION};{check_opts.fingerprint()}") if opts.use_cache else None
    fresh: dict[str, FileResult] = {}
    try:
        known = cache.lookup(scan.images) if cache else {}
        todo = [r for r in scan.images if r.rel not in known]
        unsaved: list[tuple[FileRecord, FileResult]] = []
        hook = InterruptHook()
        stream = result_stream(todo, check_opts, opts.engine, opts.ray_address, opts.jobs, opts.timeout_s, inspect)
        try:
            with interrupts_as_keyboard_interrupt(), closing(stream):
                for index, result in stream:
                    rec = todo[index]
                    fresh[rec.rel] = result
                    if cache and not _is_transient(result):
                        unsaved.append((rec, result))
                        if len(unsaved) >= CACHE_BATCH:
                            cache.store(unsaved)
                            unsaved = []
                    if opts.progress is not None:
                        opts.progress(len(fresh), len(todo))
                    hook.tick()
        except KeyboardInterrupt:
            kept = len(fresh) + len(known) if cache else 0
            raise Interrupted(
                f"interrupted after inspecting {len(fresh)} of {len(todo)} files ({kept} results cached); "
                "re-run the same command to go on from there"
            ) from None
        finally:
            if cache:
                cache.store(unsaved)
    finally:
        if cache:
            cache.close()
    by_rel = {**known, **fresh}
    results = [by_rel[r.rel] for r in scan.images] + [_junk_result(r) for r in scan.junk]
    results += [_problem_result(p) for p in scan.problems]
    results.sort(key=lambda r: natural_key(r.rel))
    return results, len(known), len(fresh)


def _problem_result(problem: ScanProblem) -> FileResult:
    """A link not followed, an unreadable folder or an empty class folder, as a result of its own."""
    severity = DATASET_CHECKS[problem.check][0]
    return FileResult(rel=problem.rel, size=0, mtime_ns=0, findings=[Finding(problem.rel, problem.check, severity, problem.detail)])


def _is_transient(result: FileResult) -> bool:
    """Timeouts and crashes may depend on machine load: inspect those files again next time."""
    return any(f.check == "inspection_failed" for f in result.findings)


def _junk_result(rec: FileRecord) -> FileResult:
    severity, _ = DATASET_CHECKS["junk_file"]
    reason = junk_reason(rec.name) or "junk"
    finding = Finding(rec.rel, "junk_file", severity, f"{reason}: not a training image")
    return FileResult(rel=rec.rel, size=rec.size, mtime_ns=rec.mtime_ns, findings=[finding])


def add_dataset_findings(scan: Scan, results: list[FileResult], odd_size: float | None = None) -> None:
    """Findings that need every file: exact duplicates (same bytes), and with `odd_size`,
    images whose size is that many times above or below the dataset's median."""
    if odd_size is not None:
        _add_odd_size(results, odd_size)
    severity, _ = DATASET_CHECKS["duplicate"]
    groups: dict[str, list[FileResult]] = defaultdict(list)
    for r in results:
        if r.sha256 is not None and r.size > 0:
            groups[r.sha256].append(r)
    for members in groups.values():
        # `results` is in natural order: the first member is the one kept, the others are copies.
        first = members[0]
        for r in members[1:]:
            r.findings.append(Finding(r.rel, "duplicate", severity, f"same bytes as {first.rel}"))


ODD_SIZE_MIN_IMAGES = 10  # a median of fewer images says little about what is typical
_SIZE_SPOKEN_FOR = frozenset({"too_small", "pixel_limit"})


def _add_odd_size(results: list[FileResult], factor: float) -> None:
    """odd_size (CleanVision's name): sqrt(width*height) `factor` times above or below the median
    of the decoded images. Files already flagged too_small or pixel_limit are left to those."""
    import statistics

    severity, _ = DATASET_CHECKS["odd_size"]
    sized = [
        r for r in results
        if r.properties and r.width and r.height and not any(f.check in _SIZE_SPOKEN_FOR for f in r.findings)
    ]  # fmt: skip
    if len(sized) < ODD_SIZE_MIN_IMAGES:
        return
    median = statistics.median((r.width * r.height) ** 0.5 for r in sized if r.width and r.height)
    for r in sized:
        assert r.width and r.height
        side = (r.width * r.height) ** 0.5
        if side > factor * median or side * factor < median:
            word = "larger" if side > median else "smaller"
            r.findings.append(Finding(r.rel, "odd_size", severity, (
                f"{r.width}x{r.height}: about {max(side / median, median / side):.0f}x {word} than the dataset's "
                f"median image ({median:.0f} px a side; threshold {factor:g}x)"
            )))  # fmt: skip
