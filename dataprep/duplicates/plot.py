"""The duplicates picture (`duplicates --plot`): one row per set of copies, each file drawn once.

A row is a connected set of verified pairs (what `split` keeps together), its files in natural
order, so two groups that share files are one row and no file is drawn twice. Each image is
captioned with its path (class folder included: a copy filed under two classes shows both) and the
evidence that links it to an earlier image of the row: the kind of copy, the thumbnails'
similarity, the matching local features of a geometric check, the embeddings' similarity of a
look-alike. Rows hold at most `columns` images (a "+N more" cell says how many are left out) and
the picture at most `rows` rows (the header says how many are not drawn: `--json` lists all).
16-bit and float images are scaled to 8 bits, not clipped to white (`dataprep.base.image_view`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dataprep.base.image_view import paste_view, save_sheet
from dataprep.inspection.scan import natural_key

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

    from dataprep.duplicates.search import DuplicatePair, DuplicatesReport

SIDE = 176  # thumbnail box, pixels
PAD = 10
CAPTION = 36  # two caption lines under each thumbnail
ROW_TITLE = 20
KIND_COLOUR = {"exact": "#1b5e20", "pixels": "#1b5e20", "near": "#0d47a1", "mirrored": "#4a148c", "semantic": "#b71c1c"}


def rows_of(report: DuplicatesReport) -> list[tuple[list[str], list[DuplicatePair], list[int]]]:
    """(files, evidence pairs, group numbers) per connected set of copies, in the report's order."""
    rows: dict[str, tuple[set[str], list[DuplicatePair], list[int]]] = {}
    for n, g in enumerate(report.groups, 1):
        files, pairs, numbers = rows.setdefault(g.unit or g.paths[0], (set(), [], []))
        files.update(g.paths)
        seen = {frozenset((p.a, p.b)) for p in pairs}
        pairs.extend(p for p in g.pairs if frozenset((p.a, p.b)) not in seen)
        numbers.append(n)
    return [(sorted(files, key=natural_key), pairs, numbers) for files, pairs, numbers in rows.values()]


def evidence(path: str, earlier: list[str], pairs: list[DuplicatePair]) -> DuplicatePair | None:
    """The pair linking `path` to the first of `earlier` it is verified with."""
    linked = {frozenset((p.a, p.b)): p for p in pairs}
    return next((p for e in earlier if (p := linked.get(frozenset((e, path)))) is not None), None)


def _note(pair: DuplicatePair | None, first: bool) -> str:
    if first:
        return "first of the row"
    if pair is None:
        return "linked through the others"
    if pair.kind in ("exact", "pixels"):
        return "exact copy" if pair.kind == "exact" else "same pixels"
    if pair.kind == "semantic":
        cosine = f" emb {pair.cosine:.2f}" if pair.cosine is not None else ""
        return f"look-alike: {pair.inliers} pts{cosine}"
    points = f" {pair.inliers} pts" if pair.inliers is not None else ""
    return f"{pair.kind} sim {pair.similarity:.2f}{points}"


def _fit(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    """`text`, cut from the left ("...") until it fits `width` pixels: the file name stays."""
    if font.getlength(text) <= width:
        return text
    while len(text) > 4 and font.getlength("..." + text) > width:
        text = text[1:]
    return "..." + text


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _cell(sheet_draw: ImageDraw.ImageDraw, x: int, y: int, lines: tuple[str, str], colour: str) -> None:
    font = _font(12)
    sheet_draw.text((x, y + SIDE + 3), _fit(lines[0], font, SIDE), fill="black", font=font)
    sheet_draw.text((x, y + SIDE + 19), _fit(lines[1], font, SIDE), fill=colour, font=font)


def plot_duplicates(report: DuplicatesReport, path: Path, rows: int = 30, columns: int = 6) -> Path:
    """Draw the report's sets of copies into the PNG `path` (see the module docstring)."""
    from PIL import Image, ImageDraw

    all_rows = rows_of(report)
    shown = all_rows[:rows]
    wide = min(columns, max((len(files) for files, _, _ in shown), default=1))
    width = max(PAD + wide * (SIDE + PAD), 560)
    row_height = ROW_TITLE + SIDE + CAPTION + PAD
    sheet = Image.new("RGB", (width, 34 + max(1, len(shown)) * row_height), "white")
    draw = ImageDraw.Draw(sheet)
    files = sum(len(f) for f, _, _ in all_rows)
    title = (f"{len(report.groups)} group(s), {files} files in {len(all_rows)} set(s) of copies: {report.root}"
             if all_rows else f"no duplicates in {report.root}")  # fmt: skip
    if len(all_rows) > rows:
        title += f" (first {rows} sets drawn; --json lists all)"
    draw.text((PAD, 8), title, fill="black", font=_font(14))
    for r, (names, pairs, numbers) in enumerate(shown):
        y = 34 + r * row_height
        kinds = {p.kind for p in pairs}
        label = f"group {', '.join(f'#{n}' for n in numbers)}: {len(names)} files ({', '.join(sorted(kinds))})"
        draw.text((PAD, y + 2), label, fill="black", font=_font(13))
        y += ROW_TITLE
        drawn = names if len(names) <= columns else names[: columns - 1]
        for c, name in enumerate(drawn):
            x = PAD + c * (SIDE + PAD)
            if not paste_view(sheet, draw, report.root / name, (x, y), SIDE):
                draw.text((x + 6, y + 6), "cannot decode", fill="red", font=_font(12))
            pair = evidence(name, names[:c], pairs) if c else None
            _cell(draw, x, y, (name, _note(pair, c == 0)), KIND_COLOUR.get(pair.kind if pair else "", "black"))
        if len(drawn) < len(names):
            x = PAD + len(drawn) * (SIDE + PAD)
            draw.rectangle((x, y, x + SIDE, y + SIDE), outline="#999999")
            draw.text((x + 16, y + SIDE // 2 - 8), f"+{len(names) - len(drawn)} more", fill="black", font=_font(16))
    return save_sheet(sheet, path)
