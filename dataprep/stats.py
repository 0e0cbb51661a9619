"""`stats`: a clear picture of a dataset: counts, shares, bytes, formats, colour modes, sizes.

Works on a raw layout (``DIR/CLASS/*``) and on a split layout (``DIR/{train,val,test}/CLASS/*``).
Only image headers are read (Pillow's lazy `Image.open` parses the header and stops: no pixel
decode), in a thread pool, so 25k files take seconds. `dataset_stats` returns plain JSON-ready
data; `stats_renderables` and `plot_stats` turn it into a Rich table and a PNG. Only the CLI prints.
"""

from __future__ import annotations

import io
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from dataprep.errors import DataprepError
from dataprep.journal import write_atomic
from dataprep.scan import (
    SPLIT_NAMES,
    FileRecord,
    junk_reason,
    natural_key,
    no_images_message,
    scan_dataset,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

STATS_VERSION = 1
IMBALANCE_WARN = 3.0  # largest/smallest class above this gets a warning
PERCENTILES = (("min", 0), ("p5", 5), ("p50", 50), ("p95", 95), ("max", 100))


@dataclass(frozen=True)
class ImageHeader:
    """What an image's header says, or why it could not be read."""

    size: int
    format: str | None = None
    mode: str | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None


def read_header(path: Path, size: int) -> ImageHeader:
    """Format, mode and dimensions from the header only (no pixel decode)."""
    try:
        with Image.open(path) as im:
            return ImageHeader(size=size, format=im.format, mode=im.mode, width=im.width, height=im.height)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        return ImageHeader(size=size, error=f"{type(err).__name__}: {err}".splitlines()[0][:200])


def read_headers(records: Sequence[FileRecord], jobs: int | None = None) -> list[ImageHeader]:
    """Headers of `records`, in order. Threads: the work is file I/O and tiny parses."""
    workers = jobs or min(32, (os.cpu_count() or 1) * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if workers <= 1 or len(records) < 64:
            return [read_header(r.path, r.size) for r in records]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda r: read_header(r.path, r.size), records, chunksize=64))


def _percentiles(values: list[int]) -> dict[str, int | None]:
    if not values:
        return {name: None for name, _ in PERCENTILES}
    arr = np.asarray(values)
    return {name: round(float(np.percentile(arr, q))) for name, q in PERCENTILES}


def summarise(headers: Iterable[ImageHeader], total: int) -> dict[str, Any]:
    """One class's (or split's) numbers: count, share of `total`, bytes, formats, modes, sizes."""
    items = list(headers)
    ok = [h for h in items if h.error is None]
    return {
        "count": len(items),
        "share": round(len(items) / total, 4) if total else 0.0,
        "bytes": sum(h.size for h in items),
        "formats": dict(sorted(Counter(h.format or "?" for h in ok).items())),
        "modes": dict(sorted(Counter(h.mode or "?" for h in ok).items())),
        "width": _percentiles([h.width for h in ok if h.width is not None]),
        "height": _percentiles([h.height for h in ok if h.height is not None]),
        "unreadable": len(items) - len(ok),
    }


def imbalance(counts: dict[str, int]) -> dict[str, Any]:
    """Largest/smallest class. `ratio` is None when a class is empty (then `high` is true)."""
    if not counts:
        return {"ratio": None, "largest": None, "smallest": None, "high": False, "threshold": IMBALANCE_WARN}
    largest = max(counts, key=lambda c: (counts[c], c))
    smallest = min(counts, key=lambda c: (counts[c], c))
    ratio = None if counts[smallest] == 0 else round(counts[largest] / counts[smallest], 3)
    high = ratio is None or ratio > IMBALANCE_WARN
    return {"ratio": ratio, "largest": largest, "smallest": smallest, "high": high, "threshold": IMBALANCE_WARN}


def dataset_stats(root: str | os.PathLike[str], jobs: int | None = None) -> dict[str, Any]:
    """Numbers about the dataset at `root`, as JSON-ready data.

    Raw layout: ``{"version", "root", "layout": "raw", "count", "bytes", "classes": {CLASS: {...}},
    "imbalance", "junk", "unreadable"}``. Split layout: the same with ``"splits": {SPLIT: {"count",
    "bytes", "share", "classes": {CLASS: {...}}, "imbalance"}}`` in place of ``"classes"``; the
    top-level imbalance is over all splits together. Junk lists files that are not images.
    """
    scan = scan_dataset(root)
    if not scan.images and not scan.junk:
        raise DataprepError(no_images_message(scan, root))
    if scan.layout == "flat" or not scan.classes:
        raise DataprepError(
            f"'{root}' has no class folders (expected DIR/CLASS/*.jpg or DIR/{{train,val,test}}/CLASS/*.jpg); "
            "point stats at the dataset folder"
        )
    labelled = [r for r in scan.images if r.label is not None]
    junk = [{"path": r.rel, "reason": junk_reason(r.name) or "junk"} for r in scan.junk]
    junk += [{"path": r.rel, "reason": "image outside a class folder"} for r in scan.images if r.label is None]
    junk.sort(key=lambda j: natural_key(j["path"]))
    headers = dict(zip((r.rel for r in labelled), read_headers(labelled, jobs)))
    classes = scan.classes
    total = len(labelled)
    out: dict[str, Any] = {
        "version": STATS_VERSION,
        "root": str(scan.root),
        "layout": scan.layout,
        "count": total,
        "bytes": sum(r.size for r in labelled),
    }

    def by_class(records: list[FileRecord], denominator: int) -> dict[str, Any]:
        return {c: summarise((headers[r.rel] for r in records if r.label == c), denominator) for c in classes}

    if scan.layout == "split":
        splits: dict[str, Any] = {}
        for split in SPLIT_NAMES:
            records = [r for r in labelled if r.split == split]
            if not records:
                continue
            per_class = by_class(records, len(records))
            splits[split] = {
                "count": len(records),
                "share": round(len(records) / total, 4) if total else 0.0,
                "bytes": sum(r.size for r in records),
                "classes": per_class,
                "imbalance": imbalance({c: v["count"] for c, v in per_class.items()}),
            }
        out["splits"] = splits
        totals = dict.fromkeys(classes, 0)
        for r in labelled:
            totals[r.label] += 1  # type: ignore[index]
        out["imbalance"] = imbalance(totals)
    else:
        out["classes"] = by_class(labelled, total)
        out["imbalance"] = imbalance({c: v["count"] for c, v in out["classes"].items()})
    out["junk"] = junk
    out["unreadable"] = [
        {"path": rel, "error": h.error} for rel, h in sorted(headers.items(), key=lambda kv: natural_key(kv[0])) if h.error
    ]
    return out


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
    from rich import box
    from rich.table import Table
    from rich.text import Text

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
                out.append(Text(f"warning: {split} split imbalance {ratio} ({si['largest']!r} vs {si['smallest']!r})", style="yellow"))
    if stats["junk"]:
        out.append(Text(f"{len(stats['junk'])} junk file(s), not counted:", style="yellow"))
        for j in stats["junk"][:max_junk]:
            out.append(Text(f"  {j['path']}: {j['reason']}"))
        if len(stats["junk"]) > max_junk:
            out.append(Text(f"  ... and {len(stats['junk']) - max_junk} more (see --json)"))
    if stats["unreadable"]:
        out.append(Text(f"{len(stats['unreadable'])} image(s) with an unreadable header (run `dataprep validate`):", style="red"))
        for u in stats["unreadable"][:max_junk]:
            out.append(Text(f"  {u['path']}: {u['error']}"))
    return out


def plot_stats(stats: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a bar chart of images per class (stacked by split) to `path` (PNG), atomically."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    target = Path(path)
    if target.suffix.lower() != ".png":
        raise DataprepError(f"--plot {str(path)!r} is not a .png file name; pass e.g. --plot counts.png")
    if "splits" in stats:
        classes = list(next(iter(stats["splits"].values()))["classes"]) if stats["splits"] else []
        series = {s: [b["classes"][c]["count"] for c in classes] for s, b in stats["splits"].items()}
    else:
        classes = list(stats["classes"])
        series = {"images": [stats["classes"][c]["count"] for c in classes]}
    fig = Figure(figsize=(max(4.0, 0.6 * len(classes) + 2), 4), layout="constrained")
    ax = fig.add_subplot()
    bottom = np.zeros(len(classes))
    for name, counts in series.items():
        ax.bar(classes, counts, bottom=bottom, label=name)
        bottom += np.asarray(counts, dtype=float)
    ax.set_ylabel("images")
    ax.set_title(f"images per class ({stats['layout']} layout)")
    if len(series) > 1:
        ax.legend()
    if len(classes) > 8:
        ax.tick_params(axis="x", labelrotation=60)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    write_atomic(target, buf.getvalue())
    return target
