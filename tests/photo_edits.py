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
