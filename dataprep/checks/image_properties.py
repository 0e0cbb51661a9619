"""Perceptual hashes and image properties, from the pixels validate already decoded.

Everything here is a pure function of one RGB uint8 array (numpy and Pillow only). The array
may be full size, or a JPEG decoded in draft mode at 1/2 to 1/8 scale: every measure works on
a thumbnail of fixed size (`ANALYSIS_SIDE` on the long side, 32x32 for pHash, 9x8 for dHash),
so it does not depend on the scale the file was decoded at.

Hashes are 64-bit, written as 16 hex digits. Near duplicates are found in two steps (see
`dataprep.duplicates`): candidates from pHashes within a few bits, then a verification on a
small gray thumbnail. The `NearSignature` carries what both steps need beyond the pHash: the
pHash of the mirrored image (flipped copies), the pHashes of nine 90% crops (cropped and
straightened copies: a 10% crop of a photo looks like one of its 90% crops) and the
32x32 thumbnail the verification aligns and correlates.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

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


def near_signature(rgb: Image.Image, gray: Image.Image) -> NearSignature:
    """The mirrored and cropped pHashes and the gray and colour thumbnails of one analysis thumbnail."""
    import numpy as np
    from PIL import Image

    w, h = gray.size
    side = (PHASH_SIDE, PHASH_SIDE)
    views = [gray.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize(side, Image.Resampling.BOX)]
    views += [
        gray.resize(side, Image.Resampling.BOX, box=crop_box(w, h, CROP_SCALE, ox, oy))
        for oy in CROP_POSITIONS
        for ox in CROP_POSITIONS
    ]
    # The mirror and the nine crops hashed in one batched DCT: the per-view Python and NumPy call
    # overhead, not the arithmetic, was most of the cost of a signature.
    mirror, *crop_hashes = phashes(np.stack([np.asarray(v, dtype=np.float64) for v in views]))
    crops = tuple(crop_hashes)
    thumb = np.asarray(gray.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX), dtype=np.uint8)
    colour = np.asarray(rgb.resize((COLOUR_SIDE, COLOUR_SIDE), Image.Resampling.BOX), dtype=np.uint8)
    return NearSignature(mirror, crops, thumb.tobytes(), colour.tobytes())


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


def phash(gray32: np.ndarray) -> str:
    """DCT hash: the 8x8 lowest frequencies of a 32x32 gray image, each bit above the median.
    Robust to resizing, re-compression and brightness changes (they move the DC term only)."""
    import numpy as np

    d = _dct_matrix()
    coeffs = (d @ gray32 @ d.T)[:HASH_SIZE, :HASH_SIZE]
    return _bits_to_hex(coeffs > np.median(coeffs))


def phashes(gray32s: np.ndarray) -> list[str]:
    """`phash` of each of a stack of 32x32 gray images (N, 32, 32), in one batched product."""
    import numpy as np

    low = _dct_matrix()[:HASH_SIZE]
    coeffs = (low @ gray32s @ low.T).reshape(len(gray32s), -1)
    bits = coeffs > np.median(coeffs, axis=1, keepdims=True)
    return [row.tobytes().hex() for row in np.packbits(bits, axis=1)]


def dhash(gray9x8: np.ndarray) -> str:
    """Difference hash: is each pixel of a 9x8 gray image brighter than its left neighbour."""
    return _bits_to_hex(gray9x8[:, 1:] > gray9x8[:, :-1])


def image_properties(rgb: np.ndarray) -> ImageProperties:
    """Hashes and measures of one RGB uint8 image (H x W x 3)."""
    import numpy as np
    from PIL import Image

    h, w = rgb.shape[:2]
    pixel_hash = hashlib.blake2b(f"{h}x{w}:".encode() + np.ascontiguousarray(rgb).tobytes(), digest_size=16).hexdigest()
    im = Image.fromarray(rgb)
    scale = min(1.0, ANALYSIS_SIDE / max(h, w))
    if scale < 1.0:
        im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    gray_im = im.convert("L")
    gray32 = np.asarray(gray_im.resize((PHASH_SIDE, PHASH_SIDE), Image.Resampling.BOX), dtype=np.float64)
    flat = float(gray32.std()) < FLAT_STD
    p_hash = d_hash = signature = None
    if not flat:
        p_hash = phash(gray32)
        d_hash = dhash(np.asarray(gray_im.resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.BOX), dtype=np.int16))
        signature = near_signature(im.convert("RGB"), gray_im).encode()

    small = np.asarray(im)
    r, g, b = (small[..., c].astype(np.float32) for c in range(3))
    gray = np.asarray(gray_im, dtype=np.float32)
    brightness = (np.sqrt(0.241 * r * r + 0.691 * g * g + 0.068 * b * b) * (1 / 255.0)).ravel()
    n = brightness.size
    low, high = (n - 1) // 100, (n - 1) - (n - 1) // 100  # the 1st and 99th percentile ranks
    ranked = np.partition(brightness, [low, high])
    spread = (np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)).ravel()
    values = {
        "brightness": float(brightness.mean()),
        "brightness_p01": float(ranked[low]),
        "brightness_p99": float(ranked[high]),
        "contrast": float(gray.std() / 255.0),
        "entropy": _entropy(np.asarray(gray_im)),
        "sharpness": _sharpness(gray),
        "colour_spread": float(np.partition(spread, high)[high]),
        "aspect_ratio": min(w, h) / max(w, h),
    }
    return ImageProperties(p_hash, d_hash, pixel_hash, {k: round(v, 4) for k, v in values.items()}, signature)


def _entropy(gray: np.ndarray) -> float:
    """Shannon entropy (bits) of the gray-level histogram (uint8): near 0 for a blank image, up to 8."""
    import numpy as np

    counts = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _sharpness(gray: np.ndarray) -> float:
    """Edge strength relative to contrast: the Laplacian's spread over the gray levels' spread
    on the thumbnail. Scale-free (the thumbnail has a fixed size) and contrast-free (a dark but
    sharp photo is not blurry); 0 for a flat image."""
    if min(gray.shape) < 3:
        return 0.0
    lap = 4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    spread = float(gray.std())
    return float(lap.std()) / spread if spread >= FLAT_STD else 0.0


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
