"""A small, upright, 8-bit view of an image file, for what looks at pixels after validate: the
pictures of duplicates and outliers (a contact sheet of views, saved as one PNG) and the
geometric verifier. Pure Pillow and numpy; no TensorFlow."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from dataprep.base.errors import DataprepError

if TYPE_CHECKING:
    from PIL import Image, ImageDraw

WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # 16-bit, 32-bit integer and float samples


def to_8bit(im: Image.Image) -> Image.Image:
    """`im` with 8-bit samples: 16-bit and wider scaled to 0-255 as decoders do (divided by 257
    when a sample exceeds 255), never clipped; Pillow's own conversion clips a 16-bit image to
    white. Other modes are returned as they are."""
    import numpy as np
    from PIL import Image

    if im.mode not in WIDE_MODES:
        return im
    arr = np.asarray(im, dtype=np.float64)
    if im.mode == "F" and arr.size and float(arr.min()) >= 0.0 and float(arr.max()) <= 1.0:
        arr = arr * 255.0  # float images in [0, 1]
    scale = 257.0 if arr.max(initial=0) > 255 else 1.0
    return Image.fromarray(np.clip(np.nan_to_num(arr / scale), 0, 255).astype(np.uint8))


def open_view(path: Path, side: int, mode: str = "RGB") -> Image.Image:
    """The first frame of the image at `path`, upright (EXIF orientation applied), 8-bit, in
    `mode` ("RGB" or "L"), shrunk to fit `side` x `side` (never enlarged). JPEGs are decoded at a
    reduced scale (draft mode), so a large photo costs little. Raises OSError, ValueError or
    Pillow's DecompressionBombError for a file Pillow cannot decode."""
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a damaged file is validate's to report, not this view's
        with Image.open(path) as im:
            im.draft(mode, (side, side))
            im.load()
            upright = ImageOps.exif_transpose(im) or im
            view = to_8bit(upright).convert(mode)
    if max(view.size) > side:
        view = ImageOps.contain(view, (side, side), Image.Resampling.BILINEAR)
    return view


def paste_view(sheet: Image.Image, draw: ImageDraw.ImageDraw, path: Path, corner: tuple[int, int], side: int) -> bool:
    """`open_view(path, side)` pasted centred in the `side` square whose top-left is `corner`;
    a file Pillow cannot decode gets the square framed in red instead (False)."""
    from PIL import Image

    x, y = corner
    try:
        view = open_view(path, side, "RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        draw.rectangle((x, y, x + side, y + side), outline="red")
        return False
    sheet.paste(view, (x + (side - view.width) // 2, y + (side - view.height) // 2))
    return True


def save_sheet(sheet: Image.Image, path: Path, option: str = "--plot") -> Path:
    """Write `sheet` as a PNG at `path` (its folder made); one line naming `option` when it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(path, format="PNG")
    except (OSError, ValueError) as err:
        raise DataprepError(f"cannot write the plot '{path}' ({err}); pass a writable .png path to {option}") from None
    return path
