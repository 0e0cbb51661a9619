"""The summary's charts as inline SVG: class balance and image sizes.

Drawn by hand because they are two bar charts of a few dozen bars: inline SVG needs no file,
no script and no font beyond the page's, scales with the window, and costs a few KB at any
dataset size (matplotlib's SVG output of the same chart is ~40 KB and embeds its own glyphs).
Every text drawn is escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from html import escape

from dataprep.html_report.model import Chart
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import SPLIT_ROLES, FileRecord, natural_key, split_role

MAX_CLASSES = 40  # bars drawn; the rest are summed into one "other" bar
SPLIT_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#9c755f")
SIZE_BINS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)  # px, lower bounds of the side bins


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11, fill: str = "#333") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">'
            f"{escape(text)}</text>")  # fmt: skip


def _split_order(name: str) -> int:
    role = split_role(name) if name else None
    return list(SPLIT_ROLES).index(role) if role else len(SPLIT_ROLES)


def class_balance_chart(images: Iterable[FileRecord]) -> Chart:
    """Images per class, one horizontal bar each, stacked by split when there are splits."""
    counts: Counter[tuple[str, str]] = Counter((r.label or "(no class)", r.split or "") for r in images)
    classes = sorted({c for c, _ in counts}, key=natural_key)
    splits = sorted({s for _, s in counts}, key=_split_order)
    if len(classes) > MAX_CLASSES:
        keep = set(sorted(classes, key=lambda c: -sum(counts[(c, s)] for s in splits))[: MAX_CLASSES - 1])
        other: Counter[tuple[str, str]] = Counter()
        for (c, s), n in counts.items():
            other[(c if c in keep else "(other classes)", s)] += n
        counts, classes = other, [c for c in classes if c in keep] + ["(other classes)"]
    total = {c: sum(counts[(c, s)] for s in splits) for c in classes}
    top = max(total.values(), default=1) or 1
    label_w, bar_w, row = 110, 300, 20
    height = row * len(classes) + (30 if any(splits) else 10)
    parts = []
    for i, c in enumerate(classes):
        y = 5 + i * row
        parts.append(_text(label_w - 6, y + 13, c[:18], "end"))
        x = float(label_w)
        for k, s in enumerate(splits):
            w = bar_w * counts[(c, s)] / top
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 5}" '
                             f'fill="{SPLIT_COLOURS[k % len(SPLIT_COLOURS)]}"/>')  # fmt: skip
            x += w
        parts.append(_text(x + 4, y + 13, str(total[c])))
    if any(splits):
        for k, s in enumerate(splits):
            x = label_w + k * 90
            parts.append(f'<rect x="{x}" y="{height - 16}" width="10" height="10" '
                         f'fill="{SPLIT_COLOURS[k % len(SPLIT_COLOURS)]}"/>')  # fmt: skip
            parts.append(_text(x + 14, height - 7, s))
    return Chart("images per class", _svg(label_w + bar_w + 60, height, parts, "images per class"))


def _bin(side: int) -> int:
    return max((i for i, lo in enumerate(SIZE_BINS) if side >= lo), default=0)


def image_size_chart(results: Sequence[FileResult]) -> Chart:
    """How many images have their width and their height in each size bin (powers of two)."""
    widths = Counter(_bin(r.width) for r in results if r.width)
    heights = Counter(_bin(r.height) for r in results if r.height)
    top = max([*widths.values(), *heights.values(), 1])
    plot_h, col, left, top_pad = 150, 46, 34, 18
    parts = []
    for i, lo in enumerate(SIZE_BINS):
        x = left + i * col
        for k, (counter, colour) in enumerate(((widths, "#4e79a7"), (heights, "#f28e2b"))):
            h = plot_h * counter[i] / top
            parts.append(f'<rect x="{x + 4 + k * 19}" y="{top_pad + plot_h - h:.1f}" width="17" height="{h:.1f}" '
                         f'fill="{colour}"><title>{escape(str(counter[i]))}</title></rect>')  # fmt: skip
            if counter[i]:
                parts.append(_text(x + 12 + k * 19, top_pad - 4 + plot_h - h, str(counter[i]), "middle", 9))
        label = f"<{SIZE_BINS[1]}" if i == 0 else (f"≥{lo}" if i == len(SIZE_BINS) - 1 else str(lo))
        parts.append(_text(x + 23, top_pad + plot_h + 16, label, "middle"))
    parts.append(f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + col * len(SIZE_BINS)}" y2="{top_pad + plot_h}" '
                 'stroke="#999"/>')  # fmt: skip
    legend_y = top_pad + plot_h + 36
    parts += [f'<rect x="40" y="{legend_y - 9}" width="10" height="10" fill="#4e79a7"/>',
              _text(54, legend_y, "width (px)"),
              f'<rect x="140" y="{legend_y - 9}" width="10" height="10" fill="#f28e2b"/>',
              _text(154, legend_y, "height (px)")]  # fmt: skip
    return Chart("image sizes", _svg(left + col * len(SIZE_BINS) + 10, legend_y + 8, parts, "image sizes"))


def _svg(width: int, height: int, parts: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">{"".join(parts)}</svg>')  # fmt: skip
