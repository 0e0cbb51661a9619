"""Perceptual hashes and image properties, from the pixels validate already decoded.

Everything here is a pure function of one RGB uint8 array (numpy and Pillow only). The array
may be full size, or a JPEG decoded in draft mode at 1/2 to 1/8 scale: every measure works on
a thumbnail of fixed size (`ANALYSIS_SIDE` on the long side, a 64x64 gray grid for the pHashes
and the 32x32 thumbnail, 9x8 for dHash), so it does not depend on the scale the file was decoded at.

Cost matters: this runs on every file validate decodes. Few Pillow calls (each costs ~10 us of
overhead on a ~100 px image), the image's, mirrored and nine cropped pHashes in one matrix product
of the grid (`_hash_projection`), and gray-level statistics from one histogram.

Hashes are 64-bit, written as 16 hex digits. Near duplicates are found in two steps (see
`dataprep.duplicates.search`): candidates from pHashes within a few bits, then a verification on a
small gray thumbnail. The `NearSignature` carries what both steps need beyond the pHash: the
pHash of the mirrored image (flipped copies), the pHashes of nine 90% crops (cropped and
straightened copies: a 10% crop of a photo looks like one of its 90% crops) and the
32x32 thumbnail the verification aligns and correlates.
"""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

ANALYSIS_SIDE = 128  # long side of the thumbnail the properties are measured on
MIN_DECODE_SIDE = 112  # a draft-mode JPEG is decoded at least this large on its long side
MIN_JUDGED_SIDE = 16  # smaller images get no quality findings (too_small speaks for them)
FLAT_STD = 1.0  # gray levels: below this the 32x32 thumbnail is flat and a pHash means nothing
HASH_SIZE = 8  # 8x8 = 64 bits
PHASH_SIDE = 32
THUMB_SIDE = 32  # the verification thumbnail (gray, uint8): 1 KiB per image
CROP_SCALE = 0.9  # the probes' crops: 90% of each side, at 3x3 positions
CROP_POSITIONS = (0.0, 0.5, 1.0)  # where the crop sits along each axis: start, centre, end
COLOUR_SIDE = 8  # the colour thumbnail (RGB) the verification checks colours on


@dataclass
class ImageProperties:
    """What one decoded image looks like: hashes (hex, None for flat images) and measures."""

    phash: str | None
    dhash: str | None
    pixel_hash: str
    values: dict[str, float] = field(default_factory=dict)
    signature: str | None = None  # NearSignature.encode(); None for flat images


@dataclass(frozen=True)
class NearSignature:
    """What near-duplicate search needs beyond the pHash, from the same decode.

    `mirror_phash`: pHash of the image flipped left-right. `crop_phashes`: pHashes of the 90%
    crops at 3x3 positions. `thumbnail`: THUMB_SIDE x THUMB_SIDE gray levels, row-major.
    `colour`: COLOUR_SIDE x COLOUR_SIDE x 3 RGB levels (is a pair's colour change one a copy makes?).
    """

    mirror_phash: str
    crop_phashes: tuple[str, ...]
    thumbnail: bytes
    colour: bytes

    def encode(self) -> str:
        """One compact string: hashes as hex, then both thumbnails as base64 (1.7 KB in all)."""
        return (
            self.mirror_phash
            + "".join(self.crop_phashes)
            + base64.b64encode(self.thumbnail + self.colour).decode("ascii")
        )

    @classmethod
    def decode(cls, text: str) -> NearSignature:
        n = HASH_SIZE * HASH_SIZE // 4
        crops = len(CROP_POSITIONS) ** 2
        hashes = [text[k * n : (k + 1) * n] for k in range(crops + 1)]
        pixels = base64.b64decode(text[(crops + 1) * n :])
        cut = THUMB_SIDE * THUMB_SIDE
        return cls(hashes[0], tuple(hashes[1:]), pixels[:cut], pixels[cut:])

    def colour_array(self) -> np.ndarray:
        import numpy as np

        return np.frombuffer(self.colour, dtype=np.uint8).reshape(COLOUR_SIDE, COLOUR_SIDE, 3)

    def thumbnail_array(self) -> np.ndarray:
        import numpy as np

        return np.frombuffer(self.thumbnail, dtype=np.uint8).reshape(THUMB_SIDE, THUMB_SIDE)


def crop_box(width: float, height: float, scale: float, ox: float, oy: float) -> tuple[float, float, float, float]:
    """The box of a crop `scale` times the size of (width, height), placed at fraction (ox, oy)
    of the free margin (0: left/top, 1: right/bottom)."""
    cw, ch = width * scale, height * scale
    x0, y0 = (width - cw) * ox, (height - ch) * oy
    return (x0, y0, x0 + cw, y0 + ch)


GRID_SIDE = 2 * PHASH_SIDE  # the gray grid every hash and the thumbnail come from (one resize)


def _box_matrix(size: int, start: float, stop: float, out: int) -> np.ndarray:
    """The (out x size) matrix of a BOX resize of the interval [start, stop) of `size` samples
    to `out` samples: each output is the mean of the input it covers, weighted by overlap."""
    import numpy as np

    edges = start + (stop - start) * np.arange(out + 1) / out
    lo, hi = edges[:-1, None], edges[1:, None]
    x = np.arange(size)[None, :]
    overlap = np.clip(np.minimum(hi, x + 1) - np.maximum(lo, x), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


@lru_cache(maxsize=1)
def _hash_projection() -> np.ndarray:
    """(4 * HASH_SIZE) x GRID_SIDE: the 8 lowest DCT rows of the whole grid resized to 32, then of
    the 90% crops at CROP_POSITIONS. With it, every pHash of the signature is one product
    `P @ grid @ P.T`: block (0, 0) is the image's, block (1 + y, 1 + x) the crop at (x, y)."""
    import numpy as np

    low = _dct_matrix()[:HASH_SIZE]
    n = float(GRID_SIDE)
    rows = [low @ _box_matrix(GRID_SIDE, 0.0, n, PHASH_SIDE)]
    for o in CROP_POSITIONS:
        x0, _, x1, _ = crop_box(n, n, CROP_SCALE, o, o)
        rows.append(low @ _box_matrix(GRID_SIDE, x0, x1, PHASH_SIDE))
    return np.concatenate(rows)


@lru_cache(maxsize=1)
def _mirror_signs() -> np.ndarray:
    """Mirroring an image left-right negates its DCT's odd horizontal frequencies."""
    import numpy as np

    return np.where(np.arange(HASH_SIZE) % 2 == 1, -1.0, 1.0)[None, :]


def _hash_bits(blocks: np.ndarray) -> list[str]:
    """The pHash of each of a stack of 8x8 low-frequency DCT blocks: each bit above its block's median."""
    import numpy as np

    flat = blocks.reshape(len(blocks), -1)
    middle = flat.shape[1] // 2  # the median of 64 values: the mean of the 32nd and 33rd smallest
    median = np.sort(flat, axis=1)[:, middle - 1 : middle + 1].mean(axis=1, keepdims=True)
    digits = np.packbits(flat > median, axis=1).tobytes().hex()
    n = len(digits) // len(blocks)
    return [digits[k : k + n] for k in range(0, len(digits), n)]


def near_signature(grid: np.ndarray, thumb: np.ndarray, colour: np.ndarray) -> tuple[str, NearSignature]:
    """(pHash, signature) of one image from its GRID_SIDE gray grid (float), its THUMB_SIDE gray
    thumbnail and COLOUR_SIDE colour thumbnail (uint8): the image's, the mirrored and the nine
    cropped pHashes all come from one product of the grid with a fixed matrix."""
    import numpy as np

    proj = _hash_projection()
    k, m = HASH_SIZE, len(CROP_POSITIONS)
    coeffs = proj @ grid @ proj.T
    whole = coeffs[:k, :k]
    crops = coeffs[k:, k:].reshape(m, k, m, k).transpose(0, 2, 1, 3).reshape(m * m, k, k)  # (y, x) order
    image, mirror, *cropped = _hash_bits(np.concatenate([whole[None], (whole * _mirror_signs())[None], crops]))
    return image, NearSignature(mirror, tuple(cropped), thumb.tobytes(), colour.tobytes())


@lru_cache(maxsize=1)
def _dct_matrix() -> np.ndarray:
    """The orthonormal DCT-II matrix of size PHASH_SIDE: dct(x) = D @ x."""
    import numpy as np

    n = PHASH_SIDE
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    d = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * x + 1) * k / (2 * n))
    d[0] /= np.sqrt(2.0)
    return d


def _bits_to_hex(bits: np.ndarray) -> str:
    import numpy as np

    return np.packbits(bits.ravel()).tobytes().hex()


def dhash(gray9x8: np.ndarray) -> str:
    """Difference hash: is each pixel of a 9x8 gray image brighter than its left neighbour."""
    return _bits_to_hex(gray9x8[:, 1:] > gray9x8[:, :-1])


# Perceived brightness, squared, per RGB channel (0-1 scale): sqrt(0.241 R^2 + 0.691 G^2 + 0.068 B^2).
_BRIGHTNESS_WEIGHTS = (0.241 / 255**2, 0.691 / 255**2, 0.068 / 255**2)


def image_properties(rgb: np.ndarray) -> ImageProperties:
    """Hashes and measures of one RGB uint8 image (H x W x 3)."""
    import numpy as np
    from PIL import Image

    h, w = rgb.shape[:2]
    rgb = np.ascontiguousarray(rgb)
    digest = hashlib.blake2b(f"{h}x{w}:".encode(), digest_size=16)
    digest.update(rgb.data)  # the array's own buffer: no copy of its bytes
    im = Image.frombuffer("RGB", (w, h), rgb, "raw", "RGB", 0, 1)
    small = rgb
    scale = min(1.0, ANALYSIS_SIDE / max(h, w))
    if scale < 1.0:
        im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
        small = np.asarray(im)
    gray_im = im.convert("L")
    # One resize to the hash grid; the 32x32 pHash input and thumbnail are its 2x2 means.
    grid = np.asarray(gray_im.resize((GRID_SIDE, GRID_SIDE), Image.Resampling.BOX), dtype=np.float64)
    pairs = grid[0::2] + grid[1::2]  # sums of integers: exact in any order
    gray32 = pairs[:, 0::2] + pairs[:, 1::2]
    gray32 *= 0.25
    p_hash = d_hash = signature = None
    if float(gray32.std()) >= FLAT_STD:
        thumb = np.floor(gray32 + 0.5).astype(np.uint8)
        colour = np.asarray(im.resize((COLOUR_SIDE, COLOUR_SIDE), Image.Resampling.BOX), dtype=np.uint8)
        p_hash, near = near_signature(grid, thumb, colour)
        signature = near.encode()
        d_hash = dhash(np.asarray(gray_im.resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.BOX), dtype=np.int16))
    values = _measures(small, np.asarray(gray_im), np.array(gray_im.histogram(), dtype=np.float64))
    values["aspect_ratio"] = min(w, h) / max(w, h)
    return ImageProperties(p_hash, d_hash, digest.hexdigest(), {k: round(v, 4) for k, v in values.items()}, signature)


_BRIGHTNESS = None  # the weights as a float32 vector, made on first use (numpy is imported lazily)


def _measures(rgb: np.ndarray, gray: np.ndarray, gray_counts: np.ndarray) -> dict[str, float]:
    """Brightness, its 1st and 99th percentiles, contrast, entropy, sharpness and colour spread of
    an RGB thumbnail and its gray levels (uint8, and their histogram). Mean, spread and entropy of
    the gray levels come from the histogram; a percentile from one single-rank partition each."""
    import numpy as np

    pixels = rgb.reshape(-1, 3)
    squares = pixels.astype(np.float32)
    np.multiply(squares, squares, out=squares)
    brightness = squares @ _brightness_weights()
    np.sqrt(brightness, out=brightness)
    n = brightness.size
    low, high = (n - 1) // 100, (n - 1) - (n - 1) // 100  # the 1st and 99th percentile ranks
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    spread = np.maximum(np.maximum(r, g), b)
    spread -= np.minimum(np.minimum(r, g), b)
    levels = np.arange(256, dtype=np.float64)
    mean = float(gray_counts @ levels) / n
    std = float(np.sqrt(max(0.0, float(gray_counts @ (levels - mean) ** 2) / n)))
    return {
        "brightness": float(brightness.mean()),
        "brightness_p01": float(np.partition(brightness, low)[low]),
        "brightness_p99": float(np.partition(brightness, high)[high]),
        "contrast": std / 255.0,
        "entropy": _entropy(gray_counts),
        **_content(gray_counts),
        "sharpness": _sharpness(gray, std),
        "colour_spread": float(np.partition(spread, high)[high]),
    }


def _brightness_weights() -> np.ndarray:
    import numpy as np

    global _BRIGHTNESS
    if _BRIGHTNESS is None:
        _BRIGHTNESS = np.array(_BRIGHTNESS_WEIGHTS, dtype=np.float32)
    return _BRIGHTNESS


def _entropy(counts: np.ndarray) -> float:
    """Shannon entropy (bits) of a gray-level histogram: near 0 for a blank image, up to 8."""
    import numpy as np

    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


BACKGROUND_BAND = 4  # gray levels either side of the most common one that count as its background


def _content(counts: np.ndarray) -> dict[str, float]:
    """What is not background: the share of pixels outside the most common gray level's band
    (`BACKGROUND_BAND`), and the entropy of their gray levels. A flower on black velvet has
    little entropy over the whole frame (most of it is black) but a detailed subject: these
    tell it from a nearly blank image."""

    mode = int(counts.argmax())
    rest = counts.copy()
    rest[max(0, mode - BACKGROUND_BAND) : mode + BACKGROUND_BAND + 1] = 0
    total = float(rest.sum())
    return {
        "content_share": total / float(counts.sum()),
        "content_entropy": _entropy(rest) if total else 0.0,
    }


def _sharpness(gray: np.ndarray, spread: float) -> float:
    """Edge strength relative to contrast: the Laplacian's spread over the gray levels' spread
    (`spread`) on the thumbnail. Scale-free (the thumbnail has a fixed size) and contrast-free (a
    dark but sharp photo is not blurry); 0 for a flat image. The Laplacian's values are small
    integers, so their spread comes from two exact integer sums (no float64 copy of the image, no BLAS
    call: a threaded BLAS in every pool worker costs more than it saves)."""
    import numpy as np

    if min(gray.shape) < 3 or spread < FLAT_STD:
        return 0.0
    g = gray.astype(np.int32)
    lap = g[1:-1, 1:-1] * 4
    for side in (g[:-2, 1:-1], g[2:, 1:-1], g[1:-1, :-2], g[1:-1, 2:]):
        lap -= side
    n = lap.size
    total = int(lap.sum())
    np.multiply(lap, lap, out=lap)  # |lap| <= 1020: its square fits in int32, the sums in int64
    return math.sqrt((n * int(lap.sum(dtype=np.int64)) - total * total) / (n * n)) / spread


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
