"""The verification step of near-duplicate search: do two thumbnails show the same photo?

A 64-bit pHash says two pictures have the same coarse layout; a bright subject centred on a plain
background gives that layout to many different photos. The verification looks at what a copy
keeps and a different photo does not: the fine detail. It aligns the 32x32 gray thumbnails
(`dataprep.checks.image_properties.NearSignature`) over a small set of crops, mirror images and
rotations, picks the alignment whose coarse 12x12 versions correlate best, refines it by half
pixels, and returns the normalised correlation of the detail band (each 16x16 patch minus its
3x3 local mean) at that alignment: 1.0 for the same pixels, about 0 for unrelated photos.

Correlations are of gray levels with the mean removed and divided by the spread, so brightness
and contrast changes, grayscale conversion and hue shifts (which keep the luminance's pattern)
leave them high. Pure numpy and Pillow: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from dataprep.checks.image_properties import THUMB_SIDE, crop_box

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

COARSE_SIDE = 12  # the alignment is chosen on patches this size (robust to small shifts)
DETAIL_SIDE = 20  # the verdict is the detail band's correlation on patches this size
SEARCH_SCALES = (1.0, 0.95, 0.9, 0.85)  # crop sizes tried for the first image (the second is whole)
SEARCH_POSITIONS = (0.0, 0.5, 1.0)
SEARCH_ANGLES = (-5.0, 5.0)  # degrees; tried on centred crops small enough to leave out the corners
ROTATED_SCALES = (0.9, 0.85)
REFINE_STEPS = (-1.0, -0.5, 0.0, 0.5, 1.0)  # thumbnail pixels, each axis
GRAY_CHROMA = 6.0  # mean chroma below this: a grayscale image, whose colours say nothing
CHROMA_TOLERANCE = 20.0  # mean chroma difference (0-255) per cell that copies stay within (measured: <= 14)
HUE_SPREAD = 60.0  # degrees: copies turn every colourful cell's hue by about one angle (a hue shift) or
# none; measured on planted copies: <= 53 but for 2% of 10% crops. Different photos of flat shapes: 17-122
COLOURFUL = 8.0  # opponent-colour length above which a cell's hue is judged


@dataclass(frozen=True)
class Match:
    """The best alignment of one image onto another, and how similar they are there."""

    similarity: float  # detail-band correlation in [-1, 1]: the verdict
    coarse: float  # coarse correlation of the chosen alignment
    mirrored: bool  # the alignment flips the first image left-right


def _zscore(a: np.ndarray) -> np.ndarray:
    import numpy as np

    a = a - a.mean()
    spread = float(a.std())
    return (a / spread).ravel() if spread > 1e-6 else np.zeros(a.size)


def _detail(a: np.ndarray) -> np.ndarray:
    """`a` minus its 3x3 local mean (edges repeated): the band a copy keeps and a look-alike does not."""
    import numpy as np

    p = np.pad(a, 1, mode="edge")
    h, w = a.shape
    local = sum(p[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9.0
    return _zscore(a - local)


def _patch(im: Image.Image, box: tuple[float, float, float, float], side: int) -> np.ndarray:
    import numpy as np
    from PIL import Image

    return np.asarray(im.resize((side, side), Image.Resampling.BILINEAR, box=box), dtype=np.float64)


@lru_cache(maxsize=1)
def _boxes() -> tuple[tuple[float, float, float, float], ...]:
    n = float(THUMB_SIDE)
    out = {crop_box(n, n, s, ox, oy) for s in SEARCH_SCALES for ox in SEARCH_POSITIONS for oy in SEARCH_POSITIONS}
    return tuple(sorted(out))


def _views(thumb: np.ndarray) -> list[tuple[Image.Image, tuple[float, float, float, float], bool]]:
    """(image, crop box, mirrored) for every alignment tried."""
    from PIL import Image

    n = float(THUMB_SIDE)
    out = []
    for mirrored in (False, True):
        im = Image.fromarray(thumb[:, ::-1].copy() if mirrored else thumb).convert("F")
        out += [(im, box, mirrored) for box in _boxes()]
        for angle in SEARCH_ANGLES:
            turned = im.rotate(angle, resample=Image.Resampling.BILINEAR)
            out += [(turned, crop_box(n, n, s, 0.5, 0.5), mirrored) for s in ROTATED_SCALES]
    return out


@dataclass(frozen=True)
class Prepared:
    """One thumbnail, ready to compare: its whole view, and every alignment's coarse patch."""

    whole_coarse: np.ndarray
    whole_detail: np.ndarray
    views: list[tuple[Image.Image, tuple[float, float, float, float], bool]]
    coarse: np.ndarray  # views x COARSE_SIDE**2, z-scored rows


def prepare(thumb: np.ndarray) -> Prepared:
    """The patches a comparison needs, computed once per image (not once per pair)."""
    import numpy as np
    from PIL import Image

    n = float(THUMB_SIDE)
    im = Image.fromarray(thumb).convert("F")
    views = _views(thumb)
    coarse = np.stack([_zscore(_patch(v, box, COARSE_SIDE)) for v, box, _ in views])
    whole = (0.0, 0.0, n, n)
    return Prepared(_zscore(_patch(im, whole, COARSE_SIDE)), _detail(_patch(im, whole, DETAIL_SIDE)), views, coarse)


def _one_way(a: Prepared, b: Prepared) -> Match:
    """The best alignment of (a crop of) `a` onto the whole of `b`."""
    n = float(THUMB_SIDE)
    scores = a.coarse @ b.whole_coarse / b.whole_coarse.size
    best = int(scores.argmax())
    im, box, mirrored = a.views[best]
    similarity = -1.0
    for dy in REFINE_STEPS:
        for dx in REFINE_STEPS:
            moved = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
            if min(moved) < 0 or max(moved) > n:
                continue
            similarity = max(similarity, float(_detail(_patch(im, moved, DETAIL_SIDE)) @ b.whole_detail) / b.whole_detail.size)
    return Match(similarity, float(scores[best]), mirrored)


def compare(a: Prepared, b: Prepared) -> Match:
    """How similar two prepared thumbnails are, in the best alignment either way round (a crop
    of `a` onto `b`, or a crop of `b` onto `a`: either may be the cropped copy)."""
    return max(_one_way(a, b), _one_way(b, a), key=lambda m: m.similarity)


def compare_thumbnails(a: np.ndarray, b: np.ndarray) -> Match:
    """`compare` for two THUMB_SIDE x THUMB_SIDE gray uint8 thumbnails."""
    return compare(prepare(a), prepare(b))


def colours_agree(a: np.ndarray, b: np.ndarray, hue_a: np.ndarray, hue_b: np.ndarray, mirrored: bool) -> bool:
    """Whether two images' colour maps could belong to one photo: either is gray, or each cell is
    as colourful in both and every cell's hue turned by about the same angle (a hue shift turns
    all of them alike, brightness changes none; a different photo of flat shapes turns them at
    random)."""
    import numpy as np

    fa, fb = a.astype(np.float64), b.astype(np.float64)
    if min(fa.mean(), fb.mean()) < GRAY_CHROMA:
        return True
    va, vb = hue_a.astype(np.float64), hue_b.astype(np.float64)
    if mirrored:
        fa, va = fa[:, ::-1], va[:, ::-1]
    if float(np.abs(fa - fb).mean()) > CHROMA_TOLERANCE:
        return False
    za = va[..., 0] + 1j * va[..., 1]
    zb = vb[..., 0] + 1j * vb[..., 1]
    turn = zb * np.conj(za)  # angle: the hue turn of the cell; length: weighs colourful cells more
    judged = (np.abs(za) >= COLOURFUL) & (np.abs(zb) >= COLOURFUL)
    if not judged.any():
        return True
    spread = np.degrees(np.abs(np.angle(turn[judged] * np.conj(turn.sum()))))
    return float(spread.max()) <= HUE_SPREAD
