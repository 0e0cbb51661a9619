"""Rich renderings of reports for the terminal. Called by the CLI only."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table

from dataprep.checks import CHECKS, DATASET_CHECKS
from dataprep.engine import ProgressFn
from dataprep.findings import Severity
from dataprep.report import Report

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_SUMMARIES = {c.name: c.summary for c in CHECKS} | {name: text for name, (_, text) in DATASET_CHECKS.items()}

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True)


@contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[ProgressFn | None]:
    """A progress bar on stderr when it is a terminal; None (no output) otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=stderr, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def print_validate_summary(report: Report, worst: int = 15) -> None:
    """Counts per check and severity, then the worst files."""
    counts = report.counts_by_severity()
    cache_note = f", {report.cached} from cache" if report.cached else ""
    stdout.print(
        f"[bold]{len(report.results)}[/] files in {report.root} ({len(report.scan.images)} images, "
        f"{len(report.scan.junk)} junk) checked in {report.seconds:.1f} s{cache_note}"
    )
    if not report.findings:
        stdout.print("[green]no findings: every image decodes in Pillow and TensorFlow[/]")
        return
    table = Table(title="Findings by check", title_justify="left")
    table.add_column("check")
    table.add_column("severity")
    table.add_column("files", justify="right")
    table.add_column("meaning")
    for check, info in report.counts_by_check().items():
        sev = info["severity"]
        table.add_row(check, f"[{SEVERITY_STYLE[sev]}]{sev}[/]", str(info["files"]), _SUMMARIES.get(check, ""))
    stdout.print(table)
    bad = sorted(
        report.files_at_or_above(Severity.WARNING), key=lambda r: (-(r.worst.rank if r.worst else 0), r.rel)
    )
    if bad:
        files = Table(title=f"Worst files ({min(worst, len(bad))} of {len(bad)})", title_justify="left")
        files.add_column("file", overflow="fold")
        files.add_column("check")
        files.add_column("detail", overflow="fold")
        for r in bad[:worst]:
            top = max(r.findings, key=lambda f: f.severity.rank)
            files.add_row(r.rel, f"[{SEVERITY_STYLE[top.severity.value]}]{top.check}[/]", top.detail)
        stdout.print(files)
    stdout.print(
        f"files by worst finding: [bold red]{counts['error']} error[/], [yellow]{counts['warning']} warning[/], "
        f"[cyan]{counts['info']} info[/]"
    )
