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


def flower(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A flower-like picture: coloured petals round a yellow heart on green, unlike `photo`'s shapes."""
    rng = np.random.default_rng(seed)
    w, h = size
    im = Image.new("RGB", size, (int(rng.integers(30, 70)), int(rng.integers(110, 160)), int(rng.integers(30, 70))))
    draw = ImageDraw.Draw(im)
    cx, cy, r = w / 2 + rng.uniform(-20, 20), h / 2 + rng.uniform(-15, 15), min(w, h) * rng.uniform(0.3, 0.4)
    petal = tuple(int(c) for c in rng.integers(150, 256, 3))
    petals = int(rng.integers(6, 10))
    for i in range(petals):
        a = 2 * np.pi * i / petals
        px, py = cx + 0.6 * r * np.cos(a), cy + 0.6 * r * np.sin(a)
        draw.ellipse((px - r / 2.5, py - r / 2.5, px + r / 2.5, py + r / 2.5), fill=petal, outline=(90, 40, 60))
    draw.ellipse((cx - r / 4, cy - r / 4, cx + r / 4, cy + r / 4), fill=(240, 200, 30))
    arr = np.asarray(im.filter(ImageFilter.GaussianBlur(1.5))).astype(np.float64) + rng.normal(0, 4, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def textured(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A photo with texture at many scales (160 small shapes over `photo`'s gradients and shapes):
    hundreds of local features, as a real photo has, for the geometric verifier's tests. Distinct
    seeds place every shape elsewhere."""
    im = photo(seed, size)
    rng = np.random.default_rng(seed + 10_000)
    w, h = size
    draw = ImageDraw.Draw(im)
    for _ in range(160):
        r, x, y = rng.uniform(3, 18), rng.uniform(0, w), rng.uniform(0, h)
        stretch = rng.uniform(0.5, 1.5)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(
            (x - r, y - r * stretch, x + r, y + r * stretch), fill=colour
        )
    return im.filter(ImageFilter.GaussianBlur(0.7))


def same_scene(layout: int, variant: int, jitter: float = 2.0, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """Another photo of one scene: the same large shapes (each moved by about `jitter` pixels,
    its colour a little changed) under different fine detail (400 small dots, where a different
    shot differs). 32-pixel thumbnails of two variants look alike (detail correlation 0.5-0.7 for
    layouts 0 and 3), their local features do not line up: the thumbnail check alone would call
    them copies, as it did two different dandelions of flower_photos."""
    w, h = size
    rng, var = np.random.default_rng(layout), np.random.default_rng(variant + 1000)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    channels = [
        rng.uniform(40, 200) + rng.uniform(-120, 120) * x / w + rng.uniform(-120, 120) * y / h for _ in range(3)
    ]
    im = Image.fromarray(np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(9):
        x0, y0 = rng.uniform(-0.1, 0.9) * w, rng.uniform(-0.1, 0.9) * h
        x1, y1 = x0 + rng.uniform(0.1, 0.4) * w, y0 + rng.uniform(0.1, 0.4) * h
        colour, ellipse, move = rng.integers(0, 256, 3), rng.random() < 0.5, var.normal(0, jitter, 4)
        fill = tuple(int(c) for c in np.clip(colour + var.normal(0, 10, 3), 0, 255))
        (draw.ellipse if ellipse else draw.rectangle)(
            (x0 + move[0], y0 + move[1], x1 + move[2], y1 + move[3]), fill=fill
        )
    base = np.asarray(im).astype(int)
    for _ in range(400):
        r, cx, cy = var.uniform(1.5, 4), var.uniform(0, w - 1), var.uniform(0, h - 1)
        fill = tuple(int(c) for c in np.clip(base[int(cy), int(cx)] + var.choice([-45, 45]), 0, 255))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    arr = np.asarray(im.filter(ImageFilter.GaussianBlur(0.7)), dtype=np.float64) + var.normal(0, 4, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


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
