"""Write a report folder: thumbnails, paged lists, index.html and report.json.

The folder is replaced as a whole or not at all, as far as a file system allows: thumbnails and
pages are written into a fresh `.report-files.tmp-*` folder that is renamed into place, then
index.html and report.json are written atomically. A folder that holds anything but a previous
report is left alone unless `--force`; even then only `index.html`, `report.json` and
`report-files/` are replaced there.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep.base.errors import DataprepError
from dataprep.base.journal import write_atomic
from dataprep.html_report.inputs import ReportInputs
from dataprep.html_report.model import Section
from dataprep.html_report.page import ASSETS, GalleryCaps, index_html, list_page_html, page_name
from dataprep.html_report.sections import build_sections
from dataprep.html_report.thumbs import NO_PREVIEW, NO_PREVIEW_SVG, write_thumbnails

REPORT_VERSION = 1
GENERATOR = "dataprep report"
INDEX, RECORD = "index.html", "report.json"
OWN = (INDEX, RECORD, ASSETS)  # everything a report writes at its top level
_STAGING, _OLD = ".report-files.tmp-", ".report-files.old-"


@dataclass
class ReportOptions:
    """Where and how much: `layout` caps the galleries; `force` writes into a folder that holds
    other things (replacing only the report's own names there)."""

    layout: GalleryCaps = field(default_factory=GalleryCaps)
    force: bool = False
    max_pixels: int | None = None
    progress: Callable[[int, int], None] | None = None  # thumbnails written / to write


@dataclass
class ReportWritten:
    """What was written: the `--json` document, also saved as REPORT_DIR/report.json."""

    out: Path
    root: Path
    sections: list[dict[str, Any]]
    thumbnails: int
    pages: int
    bytes: int
    seconds: float

    @property
    def index(self) -> Path:
        return self.out / INDEX

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION, "generator": GENERATOR, "root": str(self.root), "out": str(self.out),
            "index": str(self.index), "record": str(self.out / RECORD),
            "folders": {"thumbnails": str(self.out / ASSETS / "thumbs"), "pages": str(self.out / ASSETS / "pages")},
            "files": {"thumbnails": self.thumbnails, "pages": self.pages},
            "bytes": self.bytes, "sections": self.sections, "seconds": round(self.seconds, 3),
        }  # fmt: skip


def is_previous_report(out: Path) -> bool:
    try:
        doc = json.loads((out / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("generator") == GENERATOR


def check_out_dir(out: Path, root: Path, force: bool) -> None:
    """Refuse a REPORT_DIR inside the dataset, a file, or a non-empty folder that is no report."""
    if out.exists() and not out.is_dir():
        raise DataprepError(f"--out '{out}' is a file (expected a folder for index.html); pass a folder path")
    resolved = out.resolve()
    if resolved == root or root in resolved.parents:
        raise DataprepError(
            f"--out '{out}' is inside the dataset '{root}': its thumbnails would be read as images; "
            "pass a folder outside it (e.g. beside it)"
        )
    if not out.is_dir() or force or is_previous_report(out):
        return
    others = [p.name for p in out.iterdir() if not p.name.startswith((_STAGING, _OLD))]
    if others:
        raise DataprepError(
            f"--out '{out}' is not empty and holds no previous report ({others[0]!r} …); pass a new folder, "
            f"or --force to write there anyway (replaces only {', '.join(OWN)})"
        )


def _remove_leftovers(out: Path) -> None:
    """Staging and old folders a killed run left behind."""
    for p in out.iterdir():
        if p.is_dir() and p.name.startswith((_STAGING, _OLD)):
            shutil.rmtree(p, ignore_errors=True)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _wanted(sections: list[Section], layout: GalleryCaps) -> list[str]:
    """The files whose thumbnails the index shows."""
    rels: list[str] = []
    for s in sections:
        shown = layout.shown(s)
        rels += [c.path for c in s.cards[:shown]]
        rels += [c.path for g in s.groups[:shown] for c in g.cards]
    return rels


def write_report(inputs: ReportInputs, out: Path, options: ReportOptions | None = None) -> ReportWritten:
    """Write the report of `inputs` into `out` (see the module docstring) and say what was written."""
    opts = options or ReportOptions()
    started = time.perf_counter()
    out = Path(out).expanduser().absolute()
    check_out_dir(out, inputs.root.resolve(), opts.force)
    out.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out)
    sections = build_sections(inputs)
    layout = opts.layout
    staging = out / f"{_STAGING}{uuid.uuid4().hex}"
    (staging / "pages").mkdir(parents=True)
    (staging / NO_PREVIEW).write_text(NO_PREVIEW_SVG, encoding="utf-8")
    results = {r.rel: r for r in inputs.report.results}
    extra = {"max_pixels": opts.max_pixels} if opts.max_pixels else {}
    thumbs = write_thumbnails(inputs.root, _wanted(sections, layout), results, staging / "thumbs",
                              progress=opts.progress, **extra)  # fmt: skip
    title = f"dataprep report: {inputs.root.name or inputs.root}"
    pages = 0
    for s in sections:
        for n in range(1, layout.pages(s) + 1):
            text = list_page_html(title, s, layout, n)
            (staging / "pages" / page_name(s, n)).write_text(text, encoding="utf-8", errors="backslashreplace")
            pages += 1
    index = index_html(title, str(inputs.root), sections, layout, thumbs)
    old = out / f"{_OLD}{uuid.uuid4().hex}"
    if (out / ASSETS).exists():
        os.replace(out / ASSETS, old)
    os.replace(staging, out / ASSETS)
    write_atomic(out / INDEX, index.encode("utf-8", "backslashreplace"))
    shutil.rmtree(old, ignore_errors=True)
    written = ReportWritten(
        out=out, root=inputs.root, sections=[s.describe(layout.shown(s), layout.pages(s)) for s in sections],
        thumbnails=len(thumbs), pages=pages, bytes=0, seconds=0.0,
    )  # fmt: skip
    written.bytes = _size(out / ASSETS) + (out / INDEX).stat().st_size
    written.seconds = time.perf_counter() - started
    write_atomic(
        out / RECORD,
        (json.dumps(written.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace"),
    )
    return written
