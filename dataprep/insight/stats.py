"""`stats`: a clear picture of a dataset: counts, shares, bytes, formats, colour modes, sizes.

Works on a raw layout (``DIR/CLASS/*``) and on a split layout (``DIR/{train,val,test}/CLASS/*``).
Only image headers are read (Pillow's lazy `Image.open` parses the header and stops: no pixel
decode), in a thread pool, so 25k files take seconds. `dataset_stats` returns plain JSON-ready
data; `plot_stats` draws it as a PNG and ``dataprep.render.stats_renderables`` as a Rich table.
Only the CLI prints.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from dataprep.base.errors import DataprepError
from dataprep.base.formats import (
    TF_FORMATS,
    describe_content,
    extension_format,
    format_key,
    format_name,
    not_an_image,
    sniff_format,
)
from dataprep.base.journal import write_atomic
from dataprep.inspection.scan import (
    FileRecord,
    natural_key,
    no_images_message,
    scan_dataset,
)
from dataprep.split.manifest import link_targets

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STATS_VERSION = 1
IMBALANCE_WARN = 3.0  # largest/smallest class above this gets a warning
PERCENTILES = (("min", 0), ("p5", 5), ("p50", 50), ("p95", 95), ("max", 100))


@dataclass(frozen=True)
class ImageHeader:
    """What an image's header says, or why it could not be read. `not_image` says what the
    content is when it is no image at all (junk by content)."""

    size: int
    format: str | None = None
    mode: str | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None
    not_image: str | None = None


def read_header(path: Path, size: int) -> ImageHeader:
    """Format, mode and dimensions from the header only (no pixel decode). The first bytes,
    read through the same open file, say what the content is when Pillow cannot read it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
            fh.seek(0)
            try:
                with Image.open(fh) as im:
                    return ImageHeader(size=size, format=im.format, mode=im.mode, width=im.width, height=im.height)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
                sniffed = sniff_format(head[:32])
                if not head:
                    return ImageHeader(size=size, not_image="an empty file")
                if sniffed is None and (extension_format(path.name) is None or not_an_image(head)):
                    # No image by content whatever its name says (an HTML page saved as .jpg).
                    return ImageHeader(size=size, not_image=f"content is {describe_content(head)}, not an image")
                name = format_name(sniffed, head) if sniffed else None
                return ImageHeader(size=size, format=name, error=header_error(err))
    except OSError as err:
        return ImageHeader(size=size, error=header_error(err))


def header_error(err: BaseException) -> str:
    """A short reason for a header Pillow could not read, without Python's object reprs
    (``<_io.BufferedReader name=...>``) or exception class names."""
    if isinstance(err, UnidentifiedImageError):
        return "Pillow cannot identify the image format"
    if isinstance(err, Image.DecompressionBombError):
        return "over Pillow's pixel limit (decompression bomb)"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower()
    text = re.sub(r"\s*<[^<>]*>", "", str(err)).splitlines()
    first = text[0].strip().rstrip(".") if text and text[0].strip() else type(err).__name__
    return first[:120]


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


def dataset_stats(root: str | os.PathLike[str], jobs: int | None = None, layout: str | None = None) -> dict[str, Any]:
    """Numbers about the dataset at `root`, as JSON-ready data.

    Raw layout: ``{"version", "root", "layout": "raw", "count", "bytes", "classes": {CLASS: {...}},
    "imbalance", "junk", "unreadable"}``. Split layout: the same with ``"splits": {SPLIT: {"count",
    "bytes", "share", "classes": {CLASS: {...}}, "imbalance"}}`` in place of ``"classes"``; the
    top-level imbalance is over all splits together; splits keep their names on disk. Junk lists
    files that are not images (by name or by content). `tf_unreadable` counts images, per format,
    that TensorFlow cannot decode (`dataprep convert` fixes them).
    """
    scan = scan_dataset(root, layout, link_targets(root))
    if not scan.images and not scan.junk:
        raise DataprepError(no_images_message(scan, root))
    if scan.layout == "flat" or not scan.classes:
        raise DataprepError(
            f"'{root}' has no class folders (expected DIR/CLASS/*.jpg or DIR/{{train,val,test}}/CLASS/*.jpg); "
            "point stats at the dataset folder"
        )
    labelled = [r for r in scan.images if r.label is not None]
    headers = dict(zip((r.rel for r in labelled), read_headers(labelled, jobs)))
    scan.mark_junk({rel: h.not_image for rel, h in headers.items() if h.not_image})
    labelled = [r for r in scan.images if r.label is not None]
    junk = [{"path": r.rel, "reason": scan.junk_reason(r)} for r in scan.junk]
    junk += [{"path": r.rel, "reason": "image outside a class folder"} for r in scan.images if r.label is None]
    junk.sort(key=lambda j: natural_key(j["path"]))
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
        for split in scan.splits:
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
    out["tf_unreadable"] = tf_unreadable(headers[r.rel] for r in labelled)
    out["unreadable"] = [
        {"path": rel, "error": h.error}
        for rel, h in sorted(headers.items(), key=lambda kv: natural_key(kv[0]))
        if h.error
    ]
    return out


def tf_unreadable(headers: Iterable[ImageHeader]) -> dict[str, int]:
    """How many images of each format TensorFlow's decoder cannot read (PPM, TIFF, TGA, ...)."""
    counts: Counter[str] = Counter()
    for h in headers:
        if h.format is None or h.error is not None:
            continue
        if format_key(h.format) not in TF_FORMATS:
            counts[h.format] += 1
    return dict(sorted(counts.items()))


def plot_stats(stats: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a bar chart of images per class (stacked by split) to `path` (PNG), atomically."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise DataprepError(f"--plot {str(path)!r} is not a .png file name; pass e.g. --plot counts.png")
    buf = io.BytesIO()
    stats_figure(stats).savefig(buf, format="png", dpi=100)
    write_atomic(target, buf.getvalue())
    return target


def stats_figure(stats: dict[str, Any]) -> Figure:
    """The bar chart of `plot_stats`: images per class, stacked by split, the legend beside it."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    if "splits" in stats:
        classes = list(next(iter(stats["splits"].values()))["classes"]) if stats["splits"] else []
        series = {s: [b["classes"][c]["count"] for c in classes] for s, b in stats["splits"].items()}
    else:
        classes = list(stats["classes"])
        series = {"images": [stats["classes"][c]["count"] for c in classes]}
    legend_width = 1.2 if len(series) > 1 else 0.0  # the legend sits right of the bars, never on them
    fig = Figure(figsize=(max(4.0, 0.6 * len(classes) + 2) + legend_width, 4), layout="constrained")
    ax = fig.add_subplot()
    bottom = np.zeros(len(classes))
    for name, counts in series.items():
        ax.bar(classes, counts, bottom=bottom, label=name)
        bottom += np.asarray(counts, dtype=float)
    ax.set_ylabel("images")
    ax.set_title(f"images per class ({stats['layout']} layout)")
    if len(series) > 1:
        fig.legend(loc="outside right upper", reverse=True, title="split")  # top to bottom as stacked
    if len(classes) > 8:
        ax.tick_params(axis="x", labelrotation=60)
    return fig
