"""Photo-like test images made with Pillow: smooth gradients, a few shapes, sensor noise.

Distinct seeds give distinct pictures (their pHashes sit far apart); the helpers below plant
the copies people make by accident: resized, re-compressed, cropped, brightened, darkened, blurred.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter


def photo(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    channels = []
    for _ in range(3):
        a, bx, by = rng.uniform(40, 200), rng.uniform(-120, 120), rng.uniform(-120, 120)
        channels.append(a + bx * x / w + by * y / h)
    im = Image.fromarray(np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(7):
        x0, y0 = int(rng.uniform(-0.1, 0.9) * w), int(rng.uniform(-0.1, 0.9) * h)
        x1, y1 = x0 + int(rng.uniform(0.1, 0.5) * w), y0 + int(rng.uniform(0.1, 0.5) * h)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    arr = np.asarray(im).astype(np.float64) + rng.normal(0, 5, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def save(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def resized(im: Image.Image, factor: float = 0.5) -> Image.Image:
    return im.resize((round(im.width * factor), round(im.height * factor)), Image.Resampling.LANCZOS)


def cropped(im: Image.Image, fraction: float = 0.05) -> Image.Image:
    dx, dy = round(im.width * fraction / 2), round(im.height * fraction / 2)
    return im.crop((dx, dy, im.width - dx, im.height - dy))


def shifted(im: Image.Image, delta: int) -> Image.Image:
    return Image.fromarray(np.clip(np.asarray(im).astype(np.int16) + delta, 0, 255).astype(np.uint8))


def darkened(im: Image.Image, factor: float = 0.15) -> Image.Image:
    return ImageEnhance.Brightness(im).enhance(factor)


def blurred(im: Image.Image, fraction: float = 0.02) -> Image.Image:
    return im.filter(ImageFilter.GaussianBlur(max(im.size) * fraction))


# The planted copies: name -> bytes of a copy of `im`.
def planted_copies(im: Image.Image, original: bytes) -> dict[str, bytes]:
    return {
        "bytecopy": original,
        "half": jpeg(resized(im, 0.5)),
        "q60": jpeg(im, 60),
        "crop": jpeg(cropped(im, 0.05)),
        "brighter": jpeg(shifted(im, 30)),
        "darker": jpeg(shifted(im, -30)),
    }


def flower_on_black(seed: int, size: tuple[int, int] = (320, 240), radius: float = 0.3) -> Image.Image:
    """A flower photographed on black velvet: petals (a polar rose, shaded from the centre out,
    veined, noisy) around a yellow heart, filling `radius` of the short side, on a background a
    few levels above black with sensor noise and a faint vignette."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.6)
    r = np.hypot(x - cx, y - cy) / (radius * min(w, h))
    theta = np.arctan2(y - cy, x - cx) + rng.uniform(0, np.pi)
    petals = int(rng.integers(5, 9))
    edge = 0.55 + 0.45 * np.abs(np.cos(petals * theta / 2))
    inside = r < edge
    hue = rng.uniform(0, 1, 3) * np.array([255, 120, 200]) + np.array([0, 20, 40])
    shade = 0.45 + 0.55 * np.clip(r / edge, 0, 1)  # petals lighter toward their tips
    veins = 1 + 0.12 * np.sin(petals * 7 * theta) * np.clip(r, 0, 1)
    pixels = hue[None, None, :] * (shade * veins)[..., None]
    heart = r < 0.18
    pixels[heart] = np.array([230, 190, 40]) * (0.7 + 0.3 * rng.random((int(heart.sum()), 1)))
    vignette = 6 * (1 - np.hypot(x / w - 0.5, y / h - 0.5))
    background = np.repeat((vignette + rng.normal(0, 1.5, (h, w)))[..., None], 3, axis=2)
    arr = np.where(inside[..., None], pixels + rng.normal(0, 6, (h, w, 3)), background)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
