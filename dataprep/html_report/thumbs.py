"""Small WebP thumbnails of the files a report shows, written beside its page.

Only files validate found to be images of a known format are decoded, and only under the pixel
cap (`apply_pixel_cap`): empty, unknown, junk, bomb-sized and uninspectable files get the shared
"no preview" picture and are never opened. A truncated image is drawn as far as it decodes, so
the grey lower half of an interrupted download shows. The thumbnail shows the pixels as stored,
without applying EXIF orientation: what the training decoder sees.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from dataprep.base.defaults import DEFAULT_MAX_PIXELS, apply_pixel_cap
from dataprep.inspection.checks.names import Check
from dataprep.inspection.report import FileResult

THUMB_SIDE = 160  # px, longest side
WEBP_QUALITY = 70
NO_PREVIEW = "no-preview.svg"
NEVER_DECODED = frozenset({Check.EMPTY_FILE, Check.UNKNOWN_FORMAT, Check.PIXEL_LIMIT, Check.INSPECTION_FAILED,
                           Check.JUNK_FILE, Check.NOT_FOLLOWED, Check.EMPTY_CLASS})  # fmt: skip
THREADS = 4  # Pillow releases the GIL while it decodes and encodes

NO_PREVIEW_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120" viewBox="0 0 160 120">'
    '<rect width="160" height="120" fill="#eee" stroke="#bbb"/>'
    '<path d="M20 20 L140 100 M140 20 L20 100" stroke="#ccc" stroke-width="2"/>'
    '<text x="80" y="64" font-family="sans-serif" font-size="13" text-anchor="middle" fill="#666">no preview</text>'
    "</svg>"
)


def thumb_name(rel: str) -> str:
    """A file name for `rel`'s thumbnail that says nothing about the path (no escaping needed)."""
    return hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()[:24] + ".webp"


def decodable(result: FileResult | None) -> bool:
    """Whether a thumbnail may be decoded: an image validate identified, not refused by a check."""
    return (
        result is not None and result.format is not None and not any(f.check in NEVER_DECODED for f in result.findings)
    )


def inside(rel: str) -> bool:
    """A relative path that stays under the root (a ranked list from elsewhere could name any path)."""
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts


@contextlib.contextmanager
def _truncated_allowed() -> Iterator[None]:
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before


def _thumbnail(source: Path, dest: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(source) as im:
            im.draft("RGB", (THUMB_SIDE * 2, THUMB_SIDE * 2))  # JPEG: decode at 1/2..1/8 scale
            im.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
            rgb = im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")
            rgb.save(dest, "WEBP", quality=WEBP_QUALITY, method=4)
        return True
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError):
        dest.unlink(missing_ok=True)
        return False


def write_thumbnails(
    root: Path,
    rels: Sequence[str],
    results: dict[str, FileResult],
    folder: Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, str]:
    """Write a thumbnail into `folder` for each of `rels` that can have one; rel -> file name."""
    apply_pixel_cap(max_pixels)
    os.makedirs(folder, exist_ok=True)
    todo = sorted({r for r in rels if inside(r) and decodable(results.get(r))})
    written: dict[str, str] = {}
    with _truncated_allowed(), ThreadPoolExecutor(THREADS) as pool:
        jobs = [(rel, pool.submit(_thumbnail, root / rel, folder / thumb_name(rel))) for rel in todo]
        for done, (rel, job) in enumerate(jobs, 1):
            if job.result():
                written[rel] = thumb_name(rel)
            if progress is not None:
                progress(done, len(todo))
    return written
