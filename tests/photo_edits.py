"""The edits a copy of a photo goes through, shared by the near-duplicate tests and
benchmarks/duplicates_bench.py so both plant the same kinds of copy."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image


def shift(im: Image.Image, delta: int) -> Image.Image:
    """Brightness moved by `delta` levels (clipped)."""
    return Image.fromarray(np.clip(np.asarray(im).astype(np.int16) + delta, 0, 255).astype(np.uint8))


def hue(im: Image.Image, degrees: int = 40) -> Image.Image:
    """Hue turned by `degrees`."""
    h, s, v = im.convert("HSV").split()
    return Image.merge("HSV", (h.point(lambda x: (x + degrees * 256 // 360) % 256), s, v)).convert("RGB")


def rotate(im: Image.Image, degrees: float) -> Image.Image:
    """Rotated and cropped to the largest same-shaped rectangle inside (a phone's straighten tool)."""
    turned = im.rotate(degrees, resample=Image.Resampling.BICUBIC)
    t = math.radians(abs(degrees))
    scale = 1 / (math.cos(t) + math.sin(t) * max(im.width / im.height, im.height / im.width))
    cw, ch = im.width * scale, im.height * scale
    box = (im.width - cw) / 2, (im.height - ch) / 2, (im.width + cw) / 2, (im.height + ch) / 2
    return turned.crop(tuple(round(v) for v in box))


def crop_area(im: Image.Image, area: float) -> Image.Image:
    """An off-centre crop keeping `area` of the pixels (0.7: a 70 % crop), the shape kept."""
    s = math.sqrt(area)
    cw, ch = round(im.width * s), round(im.height * s)
    x, y = (im.width - cw) // 3, (im.height - ch) // 3
    return im.crop((x, y, x + cw, y + ch))


# Edits a perceptual hash does not survive (issue 22): name -> edit. The geometric verifier's tests
# and benchmarks/duplicates_bench.py plant the same ones.
HASH_RESISTANT = {
    "crop70": lambda im: crop_area(im, 0.7),
    "rotate12": lambda im: rotate(im, 12),
    "grey+crop80": lambda im: crop_area(im.convert("L").convert("RGB"), 0.8),
    "hue40+crop80": lambda im: crop_area(hue(im, 40), 0.8),
}
