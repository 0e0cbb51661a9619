"""Rich renderings of reports for the terminal. Called by the CLI only."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from dataprep.inspection.checks import CHECKS, DATASET_CHECKS
from dataprep.inspection.report import Report

if TYPE_CHECKING:
    from dataprep.actions.clean import CleanResult
    from dataprep.actions.convert import ConvertResult
    from dataprep.actions.relabel import RelabelResult
    from dataprep.actions.restore import RestoreResult
    from dataprep.duplicates.search import DuplicatesReport, LeakageReport
    from dataprep.inspection.validate_stream import StreamedReport
    from dataprep.split import SplitResult

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_SUMMARIES = {c.name: c.summary for c in CHECKS} | {name: text for name, (_, text) in DATASET_CHECKS.items()}

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True)


class ProgressBar:
    """One Rich progress bar: called as `bar(done, total)` (a `ProgressFn`), and `phase(name)`
    relabels it and starts it over, so a command with several passes (embed: checking files,
    then computing vectors) shows one bar that says which pass it is in."""

    def __init__(self, bar: Any, description: str) -> None:
        self._bar = bar
        self._task = bar.add_task(description, total=None)
        self._drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        self._bar.update(self._task, completed=done, total=total)
        now = time.monotonic()
        if now - self._drawn >= 0.1 or done == total:
            self._drawn = now
            self._bar.refresh()

    def phase(self, description: str) -> None:
        self._bar.reset(self._task, description=description, total=None)
        self._bar.refresh()


@contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[ProgressBar | None]:
    """A progress bar on stderr when it is a terminal; None (no output) otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # Redrawn from `update` (at most 10 times a second), not by Rich's refresh thread: a process
    # with no thread of its own can fork its worker pool (dataprep.inspection.local_engine.fork_is_safe), which
    # starts 0.1-0.3 s sooner than a forkserver.
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=stderr, transient=True, auto_refresh=False,
    ) as bar:  # fmt: skip
        shown = ProgressBar(bar, description)
        bar.refresh()
        yield shown


def print_validate_summary(report: Report | StreamedReport, worst: int = 15) -> None:
    """Counts per check and severity, then the worst files."""
    summary = report.summary(worst)
    counts = summary.counts
    cache_note = f", {summary.cached} from cache" if summary.cached else ""
    stdout.print(
        f"[bold]{summary.files}[/] files in {summary.root} ({summary.images} images, "
        f"{summary.junk} junk) checked in {summary.seconds:.1f} s{cache_note}"
    )
    if not summary.has_findings:
        stdout.print("[green]no findings: every image decodes in Pillow and TensorFlow[/]")
        return
    table = Table(title="Findings by check", title_justify="left")
    table.add_column("check")
    table.add_column("severity")
    table.add_column("files", justify="right")
    table.add_column("meaning")
    for check, info in summary.checks.items():
        sev = info["severity"]
        table.add_row(check, f"[{SEVERITY_STYLE[sev]}]{sev}[/]", str(info["files"]), _SUMMARIES.get(check, ""))
    stdout.print(table)
    if summary.bad_files:
        files = Table(title=f"Worst files ({len(summary.worst_files)} of {summary.bad_files})", title_justify="left")
        files.add_column("file", overflow="fold")
        files.add_column("check")
        files.add_column("detail", overflow="fold")
        for r in summary.worst_files:
            top = max(r.findings, key=lambda f: f.severity.rank)
            files.add_row(r.rel, f"[{SEVERITY_STYLE[top.severity.value]}]{top.check}[/]", top.detail)
        stdout.print(files)
    stdout.print(
        f"files by worst finding: [bold red]{counts['error']} error[/], [yellow]{counts['warning']} warning[/], "
        f"[cyan]{counts['info']} info[/]"
    )


def print_clean_result(result: CleanResult, delete: bool) -> None:
    """What clean did (or, with --dry-run, would do)."""
    verb = "delete" if delete else f"move to {result.quarantine}"
    if result.recovered:
        stdout.print(f"finished {result.recovered} file(s) an interrupted run had started")
    if result.to_convert:
        stdout.print(
            f"[yellow]{len(result.to_convert)} image(s) that TensorFlow cannot read (or reads wrongly) were left in place[/]: "
            f"they are photos to train on; run `dataprep convert {result.root}`",
            highlight=False,
        )
    if not result.selected:
        stdout.print(f"[green]nothing to remove[/] in {result.root}: no junk and no file at the chosen level")
        return
    table = Table(title=("Would " if result.dry_run else "") + verb, title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("why")
    for r in result.selected:
        top = max(r.findings, key=lambda f: f.severity.rank)
        table.add_row(r.rel, f"[{SEVERITY_STYLE[top.severity.value]}]{top.check}[/]: {top.detail}")
    stdout.print(table)
    n = len(result.selected)
    if result.dry_run:
        stdout.print(f"dry run: {n} file(s) would be removed; nothing was touched")
    elif delete:
        stdout.print(f"deleted {result.deleted} file(s); record in {result.manifest}")
    else:
        stdout.print(
            f"moved {result.moved} file(s) to {result.quarantine}; manifest {result.manifest}\n"
            f"undo with: dataprep restore {result.quarantine}"
        )


def print_restore_result(result: RestoreResult) -> None:
    verb = "would restore" if result.dry_run else "restored"
    stdout.print(f"{verb} {len(result.restored)} file(s) to {result.root}")
    for rel in result.refused:
        stderr.print(f"[yellow]refused[/] {rel}: a file already exists at its original place; move it away and re-run")
    if result.not_restorable:
        stdout.print(f"{len(result.not_restorable)} file(s) were deleted with --delete and cannot be restored")


def print_relabel_result(result: RelabelResult) -> None:
    """What `dataprep relabel` moved (or would move), and how to undo it."""
    if result.recovered:
        print(f"finished {result.recovered} move(s) an interrupted run had started")
    verb = "would move" if result.dry_run else "moved"
    for src, dst, why in result.moves:
        print(f"{verb} {src} -> {dst}  (rank {why.rank}, score {why.score:.3f})")
    if result.already:
        print(f"{result.already} file(s) were relabelled by an earlier run")
    if result.dry_run:
        print(f"dry run: {len(result.moves)} file(s) would move; nothing was touched")
    elif result.moves:
        print(
            f"moved {result.moved} file(s); manifest {result.record / 'manifest.json'}\nundo with: dataprep restore {result.record}"
        )
    else:
        print("nothing to relabel")


def print_duplicates(report: DuplicatesReport, limit: int = 50) -> None:
    """Each duplicate group: its kind, and each member with its evidence against the first member."""
    if not report.groups:
        stdout.print(f"[green]no duplicates[/] among {report.files} images in {report.root} "
                     f"(threshold {report.threshold} bits, similarity {report.similarity})")  # fmt: skip
        return
    table = Table(
        title=f"duplicate groups in {report.root} (pHash candidates within {report.threshold} bits, "
        f"verified at similarity >= {report.similarity})",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("kind")
    table.add_column("file", overflow="fold")
    table.add_column("pHash bits", justify="right")
    table.add_column("similarity", justify="right")
    for n, g in enumerate(report.groups[:limit], 1):
        evidence = {frozenset((p.a, p.b)): p for p in g.pairs}
        for k, m in enumerate(g.members):
            pair = evidence.get(frozenset((g.members[0].path, m.path))) if k else None
            kind = g.kind if k == 0 else (pair.kind if pair else "")
            sim = f"{pair.similarity:.2f}" if pair else ""
            table.add_row(str(n) if k == 0 else "", kind, m.path, str(m.distance) if k else "", sim)
        table.add_section()
    stdout.print(table)
    files = len({p for g in report.groups for p in g.paths})
    more = f" (first {limit} shown; --json lists all)" if len(report.groups) > limit else ""
    stdout.print(f"{len(report.groups)} group(s) holding {files} of the {report.files} images{more}")


def plot_duplicates(report: DuplicatesReport, path: Path) -> Path:
    """Draw the sets of copies into a PNG, one row each (`dataprep.duplicates.plot`)."""
    from dataprep.duplicates.plot import plot_duplicates as draw

    return draw(report, path)


def print_leaks(report: LeakageReport, limit: int = 50) -> None:
    """Each group that crosses splits, with the splits it sits in."""
    if not report.leaks:
        stdout.print(
            f"[green]no leaks[/]: no exact or near duplicate crosses splits in {report.root} ({report.files} images)"
        )
        return
    table = Table(
        title=f"leaks across splits in {report.root} (pHash candidates within {report.threshold} bits, "
        f"similarity >= {report.similarity})",
        title_justify="left",
    )
    table.add_column("kind")
    table.add_column("splits")
    table.add_column("files", overflow="fold")
    table.add_column("distance", justify="right")
    for leak in report.leaks[:limit]:
        table.add_row(leak.kind, ", ".join(leak.splits), "\n".join(leak.paths), str(leak.distance))
    stdout.print(table)
    stdout.print(f"[bold red]{len(report.leaks)} leak(s)[/]: the same photo (or a near copy) is in more than one split")


def print_convert_result(result: ConvertResult) -> None:
    """What convert did (or, with --dry-run, would do)."""
    if result.recovered:
        stdout.print(f"finished {result.recovered} file(s) an interrupted run had started")
    for rel, why in result.skipped:
        if why:
            stderr.print(f"skipped {rel}: {why}", style="yellow", highlight=False, markup=False)
    for rel, why in result.refused:
        stderr.print(f"refused {rel}: {why}", style="red", highlight=False, markup=False, soft_wrap=True)
    for _rel, why in result.failed:
        stderr.print(f"error: {why}", style="red", highlight=False, markup=False, soft_wrap=True)
    if not result.planned:
        stdout.print(f"[green]nothing to convert[/] in {result.root}: TensorFlow reads every image as it is")
    else:
        table = Table(title=("Would convert" if result.dry_run else "Converted"), title_justify="left")
        table.add_column("file", overflow="fold")
        table.add_column("becomes", overflow="fold")
        table.add_column("why")
        for c in result.planned:
            table.add_row(c.rel, c.target, "; ".join(c.why))
        stdout.print(table)
    if result.dry_run:
        stdout.print(f"dry run: {len(result.planned)} file(s) would be converted; nothing was touched")
    elif result.out is not None:
        stdout.print(
            f"wrote {result.converted} converted and {result.copied} copied file(s) to {result.out}; {result.root} is unchanged"
        )
    elif result.planned:
        stdout.print(
            f"converted {result.converted} file(s); originals in {result.quarantine}\n"
            f"undo with: dataprep restore {result.quarantine}"
        )


# --- stats ---------------------------------------------------------------------------------


def _class_rows(stats: dict[str, Any]) -> list[tuple[str | None, str, dict[str, Any]]]:
    """(split or None, class, numbers) rows in display order."""
    if "splits" in stats:
        return [(s, c, v) for s, block in stats["splits"].items() for c, v in block["classes"].items()]
    return [(None, c, v) for c, v in stats["classes"].items()]


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _short_bytes(n: int) -> str:
    """Bytes in at most 6 characters for the table: 512B, 15.1K, 33.8M, 1.2G."""
    return _human_bytes(n).replace(" KB", "K").replace(" MB", "M").replace(" GB", "G").replace(" B", "B")


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _range_text(p: dict[str, int | None]) -> str:
    if p["p50"] is None:
        return "-"
    return f"{p['p5']}/{p['p50']}/{p['p95']}"


def stats_renderables(stats: dict[str, Any], max_junk: int = 20) -> list[RenderableType]:
    """The Rich table (per class, and per split) plus imbalance and junk lines, for the CLI to print."""
    split_layout = "splits" in stats
    table = Table(
        title=f"{stats['root']} ({stats['layout']} layout, {stats['count']} images, {_human_bytes(stats['bytes'])})",
        caption="width, height: 5th/50th/95th percentile in pixels", box=box.SIMPLE_HEAD,
    )  # fmt: skip
    if split_layout:
        table.add_column("split", no_wrap=True)
    for name, justify in (("class", "left"), ("count", "right"), ("share", "right"), ("bytes", "right"),
                          ("formats", "left"), ("modes", "left"), ("width", "right"), ("height", "right")):  # fmt: skip
        wraps = name in ("formats", "modes")
        table.add_column(name, justify=justify, no_wrap=not wraps, min_width=8 if wraps else None)  # type: ignore[arg-type]
    previous: str | None = None
    for split, label, v in _class_rows(stats):
        cells = [
            label, str(v["count"]), f"{v['share']:.1%}", _short_bytes(v["bytes"]), _counts_text(v["formats"]),
            _counts_text(v["modes"]), _range_text(v["width"]), _range_text(v["height"]),
        ]  # fmt: skip
        if split_layout:
            cells.insert(0, split if split is not None and split != previous else "")
            if previous is not None and split != previous:
                table.add_section()
            previous = split
        table.add_row(*cells)
    out: list[RenderableType] = [table]
    imb = stats["imbalance"]
    if imb["largest"] is not None:
        if imb["ratio"] is None:
            line = f"imbalance: class {imb['smallest']!r} is empty (largest {imb['largest']!r})"
        else:
            line = f"imbalance: {imb['ratio']:.2f} (largest {imb['largest']!r} / smallest {imb['smallest']!r})"
        if imb["high"]:
            line += f" — warning: above {imb['threshold']:g}; consider class weights, more data or resampling"
        out.append(Text(line, style="yellow" if imb["high"] else ""))
    if split_layout:
        for split, block in stats["splits"].items():
            si = block["imbalance"]
            if si["high"] and si["largest"] is not None:
                ratio = "an empty class" if si["ratio"] is None else f"{si['ratio']:.2f}"
                line = f"warning: {split} split imbalance {ratio} ({si['largest']!r} vs {si['smallest']!r})"
                out.append(Text(line, style="yellow"))
    if stats.get("tf_unreadable"):
        n = sum(stats["tf_unreadable"].values())
        out.append(
            Text(
                f"{n} image(s) in formats TensorFlow cannot decode ({_counts_text(stats['tf_unreadable'])}): "
                f"training would skip them; run `dataprep convert {stats['root']}`",
                style="yellow",
            )
        )
    if stats["junk"]:
        out.append(Text(f"{len(stats['junk'])} junk file(s), not counted:", style="yellow"))
        for j in stats["junk"][:max_junk]:
            out.append(Text(f"  {j['path']}: {j['reason']}"))
        if len(stats["junk"]) > max_junk:
            out.append(Text(f"  ... and {len(stats['junk']) - max_junk} more (see --json)"))
    if stats["unreadable"]:
        line = f"{len(stats['unreadable'])} image(s) with an unreadable header (run `dataprep validate`):"
        out.append(Text(line, style="red"))
        for u in stats["unreadable"][:max_junk]:
            out.append(Text(f"  {u['path']}: {u['error']}"))
    return out


def split_renderables(result: SplitResult, max_excluded: int = 20) -> list[Any]:
    """The plan as a Rich table (class x split counts) plus what was left out and what was done."""
    from rich.table import Table
    from rich.text import Text

    counts = result.plan.counts()
    title = f"{'plan (dry run, nothing written)' if result.dry_run else 'split'}: {result.raw} -> {result.out} " \
            f"(--mode {result.mode}, --seed {result.plan.seed}, {result.plan.spec.describe()})"  # fmt: skip
    table = Table(title=title)
    table.add_column("class")
    for split in counts:
        table.add_column(split, justify="right")
    table.add_column("total", justify="right")
    for label in result.plan.classes:
        row = [counts[s][label] for s in counts]
        table.add_row(label, *map(str, row), str(sum(row)))
    totals = [sum(counts[s].values()) for s in counts]
    table.add_section()
    table.add_row("all", *map(str, totals), str(sum(totals)))
    out: list[Any] = [table]
    if result.plan.duplicate_groups:
        extra = sum(len(g) for g in result.plan.duplicate_groups)
        out.append(
            Text(
                f"{len(result.plan.duplicate_groups)} group(s) of identical or near-identical files ({extra} files), each kept in one split"
            )
        )
    left_out = result.excluded + result.plan.unused
    if left_out:
        out.append(Text(f"{len(left_out)} file(s) left out:", style="yellow"))
        for e in left_out[:max_excluded]:
            out.append(Text(f"  {e.path}: {e.reason}"))
        if len(left_out) > max_excluded:
            out.append(Text(f"  ... and {len(left_out) - max_excluded} more (see OUT/split.json or --json)"))
    if result.dry_run:
        if result.removed:
            out.append(Text(f"--force would remove {result.removed} file(s) of the previous split"))
    else:
        done = f"{result.written} file(s) written ({result.mode})"
        if result.already_done:
            done += f", {result.already_done} already in place"
        if result.removed:
            done += f", {result.removed} file(s) of the previous split removed"
        out.append(Text(f"{done}; manifest: {result.manifest}"))
    if result.mode == "folds" and result.plan.spec.folds:
        k = result.plan.spec.folds
        out.append(
            Text(
                f"--mode folds: only the test split was copied; the {k} folds stay in {result.raw} (recorded in "
                f"split.json). Train fold I (0..{k - 1}) against the others with: trainer fit {result.out} --fold I"
            )
        )
    return out
