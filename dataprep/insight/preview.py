"""`dataprep augment-preview`: a labelled grid of real images, each augmented several times.

The grid is drawn with the layers `dataprep.insight.augment.build_augmentation` builds, the very ones
`trainer` trains with, so what users see is what training applies. One seed decides both which
images are shown and the random transforms: the same seed writes a byte-identical PNG.

TensorFlow/Keras (through `build_augmentation`), numpy and matplotlib are imported inside the
functions that need them, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from dataprep.base.defaults import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_PREVIEW_IMAGES,
    DEFAULT_PREVIEW_PER_IMAGE,
    DEFAULT_PREVIEW_SEED,
    DEFAULT_PREVIEW_SIZE,
    apply_pixel_cap,
)
from dataprep.base.errors import DataprepError
from dataprep.base.output_files import require_new_file
from dataprep.insight.augment import AugmentSpec, build_augmentation, parse_augment_spec
from dataprep.inspection.scan import FileRecord, natural_key, scan_dataset
from dataprep.split.manifest import link_targets

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

log = logging.getLogger(__name__)


# What Pillow raises for a file it cannot decode: unknown/broken data (OSError and its
# UnidentifiedImageError), truncated streams (EOFError), bad headers in some plugins
# (SyntaxError, ValueError), and images too large to be safe to decode.
DECODE_ERRORS = (OSError, EOFError, SyntaxError, ValueError, Image.DecompressionBombError)

SkipCallback = Callable[[str, str], None]  # (path relative to the root, why it was skipped)


def preview_candidates(images: Sequence[FileRecord], rng: random.Random) -> Iterator[FileRecord]:
    """Yield every image once, spread across classes: one per class in turn, in random order.

    Classes are visited in a shuffled order and each class's files are shuffled, both with `rng`,
    over natural-sorted input, so a seed picks the same files on every machine. The caller takes
    as many as it needs (and the next ones when a file fails to decode).
    """
    by_class: dict[str, list[FileRecord]] = {}
    for record in sorted(images, key=lambda r: natural_key(r.rel)):
        by_class.setdefault(record.label or "", []).append(record)
    classes = sorted(by_class, key=natural_key)
    rng.shuffle(classes)
    queues = []
    for name in classes:
        files = by_class[name]
        rng.shuffle(files)
        queues.append(files)
    for turn in range(max(len(q) for q in queues) if queues else 0):
        for files in queues:
            if turn < len(files):
                yield files[turn]


def load_preview_image(path: Path, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode `path` as an RGB uint8 array whose longest side is at most `size` pixels.

    Raises one of DECODE_ERRORS when the file cannot be decoded or its header claims more than
    `max_pixels` (the pixel cap validate applies). Aspect ratio is kept; the geometric
    augmentations are relative to the image size, so they look the same at any scale.
    """
    import numpy as np

    apply_pixel_cap(max_pixels)
    with Image.open(path) as img:
        if img.width * img.height > max_pixels:
            raise ValueError(
                f"{img.width}x{img.height} is over the {max_pixels} pixel cap; raise --max-pixels to show it"
            )
        img.load()
        rgb = img.convert("RGB")
    rgb.thumbnail((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def _augmented_rows(
    rows: list[tuple[FileRecord, np.ndarray]], spec: AugmentSpec, per_image: int, seed: int
) -> list[list[np.ndarray]]:
    """Augment each image `per_image` times with the training pipeline, seeded from `seed`."""
    import numpy as np

    pipeline = build_augmentation(spec, seed=seed)
    result: list[list[np.ndarray]] = []
    for _, pixels in rows:
        batch = np.repeat(pixels[np.newaxis], per_image, axis=0)
        augmented = np.asarray(pipeline(batch, training=True))
        shown = np.clip(np.rint(augmented), 0, 255).astype(np.uint8)
        result.append([pixels, *shown])
    return result


def _write_grid_png(
    out: Path, rows: list[tuple[FileRecord, np.ndarray]], cells: list[list[np.ndarray]], title: str
) -> None:
    """Draw the grid (original first, class name over it) and write it atomically to `out`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_rows, n_cols = len(cells), len(cells[0])
    fig = Figure(figsize=(2.0 * n_cols, 2.0 * n_rows + 0.8), dpi=100)
    FigureCanvasAgg(fig)  # Agg, not pyplot: no GUI backend, no global figure state
    fig.suptitle(title, fontsize=10)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, ((record, _), row_cells) in enumerate(zip(rows, cells)):
        for c, pixels in enumerate(row_cells):
            ax = axes[r][c]
            ax.imshow(pixels, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_title(f"{record.label or '(no class)'}\n{record.name}", fontsize=8, fontweight="bold")
                for spine in ax.spines.values():
                    spine.set_linewidth(2.0)
            elif r == 0:
                ax.set_title(f"augmented {c}", fontsize=8)
    fig.tight_layout()

    from dataprep.base.journal import atomic_file

    with atomic_file(out) as fh:  # open(), not mkstemp: the file gets the user's usual permissions
        # No "Software" (matplotlib version) chunk: the bytes depend only on the pixels.
        fig.savefig(fh, format="png", metadata={"Software": None})


def render_augment_preview(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    images: int = DEFAULT_PREVIEW_IMAGES,
    per_image: int = DEFAULT_PREVIEW_PER_IMAGE,
    seed: int = DEFAULT_PREVIEW_SEED,
    augment: str | AugmentSpec | None = None,
    *,
    size: int = DEFAULT_PREVIEW_SIZE,
    force: bool = False,
    on_skip: SkipCallback | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Path:
    """Write a PNG grid showing `images` real images from `root`, each augmented `per_image` times.

    Rows are images (spread across classes), the first column is the original with its class
    name as title, the other columns are what the training augmentation `augment` makes of it.
    `seed` decides the images and the transforms, so a seed always gives the same PNG. Files that
    fail to decode are skipped (reported through `on_skip`, else logged) and the next candidate
    is used. Refuses to replace an existing `out` unless `force`; the file appears atomically.
    Returns the path written.
    """
    spec = parse_augment_spec(augment)  # a bad spec fails before any image or TensorFlow work
    if images < 1 or per_image < 1 or size < 16:
        raise DataprepError(
            f"got --images {images}, --per-image {per_image}, --size {size} "
            "(expected at least 1 image, 1 augmentation per image and a size of 16 pixels); raise the value"
        )
    out_path = Path(out).expanduser()
    require_new_file(out_path, "--out", force, ".png")
    scan = scan_dataset(root, trusted=link_targets(root))
    if not scan.images:
        raise DataprepError(
            f"no images found under '{root}' (expected class folders of image files such as CLASS/photo.jpg); check the path"
        )

    rng = random.Random(seed)
    rows: list[tuple[FileRecord, np.ndarray]] = []
    tried = 0
    for record in preview_candidates(scan.images, rng):
        if len(rows) == images:
            break
        tried += 1
        try:
            rows.append((record, load_preview_image(record.path, size, max_pixels)))
        except DECODE_ERRORS as err:
            reason = f"{type(err).__name__}: {err}".strip()
            if on_skip is not None:
                on_skip(record.rel, reason)
            else:
                log.warning("skipped %s: cannot decode (%s)", record.rel, reason)
    if not rows:
        raise DataprepError(
            f"none of the {tried} image files under '{root}' could be decoded (expected JPEG/PNG/... photos); "
            "run 'dataprep validate' on it to see why"
        )
    rows.sort(key=lambda row: (natural_key(row[0].label or ""), natural_key(row[0].rel)))

    cells = _augmented_rows(rows, spec, per_image, seed)
    title = (
        f"augment: {spec.to_string()}   seed: {seed}   (original first, then {per_image} augmented)\n"
        "as training sees them: EXIF orientation not applied (dataprep convert bakes it in)"
    )
    require_new_file(out_path, "--out", force, ".png")  # still new? (another process may have written it meanwhile)
    _write_grid_png(out_path, rows, cells, title)
    return out_path
