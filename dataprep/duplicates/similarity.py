"""The verification step of near-duplicate search: do two thumbnails show the same photo?

A 64-bit pHash says two pictures have the same coarse layout; a bright subject centred on a plain
background gives that layout to many different photos. The verification looks at what a copy
keeps and a different photo does not: the fine detail. It aligns the 32x32 gray thumbnails
(`dataprep.inspection.checks.image_properties.NearSignature`) over a small set of crops, mirror images and
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

from dataprep.inspection.checks.image_properties import COLOUR_SIDE, THUMB_SIDE, crop_box

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

COARSE_SIDE = 12  # the alignment is chosen on patches this size (robust to small shifts)
DETAIL_SIDE = 20  # the verdict is the detail band's correlation on patches this size
SEARCH_SCALES = (1.0, 0.95, 0.9, 0.85)  # crop sizes tried for the first image (the second is whole)
SEARCH_POSITIONS = (0.0, 0.5, 1.0)
SEARCH_ANGLES = (-5.0, 5.0)  # degrees; tried on centred crops small enough to leave out the corners
ROTATED_SCALES = (0.9, 0.85)
LOCAL_FLOOR = 0.05  # share of the band's spread below which a region counts as flat (measured: 0.05-0.3 alike)
CHROMA_SIDE = 4  # colours are compared on 4x4 cells of the aligned colour thumbnail
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
    view: tuple[float, float, float, float] = (0.0, 0.0, float(THUMB_SIDE), float(THUMB_SIDE))  # crop of the first
    angle: float = 0.0  # rotation of the first, degrees
    swapped: bool = False  # the alignment maps the second image onto the first


def _zscore(a: np.ndarray) -> np.ndarray:
    import numpy as np

    a = a - a.mean()
    spread = float(a.std())
    return (a / spread).ravel() if spread > 1e-6 else np.zeros(a.size)


def _local_mean(a: np.ndarray) -> np.ndarray:
    """3x3 mean of each pixel (edges repeated), over the last two axes (a stack works too)."""
    import numpy as np

    pad = [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)]
    p = np.pad(a, pad, mode="edge")
    h, w = a.shape[-2:]
    total = np.zeros(a.shape, dtype=np.float64)
    for dy in range(3):
        for dx in range(3):
            total += p[..., dy : dy + h, dx : dx + w]
    return total / 9.0


def _detail_stack(a: np.ndarray) -> np.ndarray:
    """`_detail` of each image of a stack (n x h x w), as rows of an n x (h*w) array."""
    import numpy as np

    band = a - _local_mean(a)
    n = a.shape[0]
    floor = LOCAL_FLOOR * band.reshape(n, -1).std(axis=1)[:, None, None] + 1e-6
    flat = (band / np.sqrt(_local_mean(band * band) + floor * floor)).reshape(n, -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    spread = flat.std(axis=1, keepdims=True)
    return np.where(spread > 1e-6, flat / np.maximum(spread, 1e-6), 0.0)


def _detail(a: np.ndarray) -> np.ndarray:
    """`a` minus its 3x3 local mean (the band a copy keeps and a look-alike does not), divided by
    its local strength: faint texture (leaves, fur, grass) counts as much as a subject's bright
    outline, which photos of one kind of scene share."""
    return _detail_stack(a[None])[0]


def _patch(im: Image.Image, box: tuple[float, float, float, float], side: int) -> np.ndarray:
    import numpy as np
    from PIL import Image

    return np.asarray(im.resize((side, side), Image.Resampling.BILINEAR, box=box), dtype=np.float64)


@lru_cache(maxsize=1)
def _boxes() -> tuple[tuple[float, float, float, float], ...]:
    n = float(THUMB_SIDE)
    out = {crop_box(n, n, s, ox, oy) for s in SEARCH_SCALES for ox in SEARCH_POSITIONS for oy in SEARCH_POSITIONS}
    return tuple(sorted(out))


View = tuple["Image.Image", tuple[float, float, float, float], bool, float]  # image, crop box, mirrored, angle


def _views(thumb: np.ndarray) -> list[View]:
    """(image, crop box, mirrored, angle) for every alignment tried."""
    from PIL import Image

    n = float(THUMB_SIDE)
    out: list[View] = []
    for mirrored in (False, True):
        im = Image.fromarray(thumb[:, ::-1].copy() if mirrored else thumb).convert("F")
        out += [(im, box, mirrored, 0.0) for box in _boxes()]
        for angle in SEARCH_ANGLES:
            turned = im.rotate(angle, resample=Image.Resampling.BILINEAR)
            out += [(turned, crop_box(n, n, s, 0.5, 0.5), mirrored, angle) for s in ROTATED_SCALES]
    return out


@dataclass(frozen=True)
class Prepared:
    """One thumbnail, ready to compare: its whole view, and every alignment's coarse patch."""

    whole_coarse: np.ndarray
    whole_detail: np.ndarray
    views: list[View]
    coarse: np.ndarray  # views x COARSE_SIDE**2, z-scored rows


def prepare(thumb: np.ndarray) -> Prepared:
    """The patches a comparison needs, computed once per image (not once per pair)."""
    import numpy as np
    from PIL import Image

    n = float(THUMB_SIDE)
    im = Image.fromarray(thumb).convert("F")
    views = _views(thumb)
    coarse = np.stack([_zscore(_patch(v, box, COARSE_SIDE)) for v, box, _, _ in views])
    whole = (0.0, 0.0, n, n)
    return Prepared(_zscore(_patch(im, whole, COARSE_SIDE)), _detail(_patch(im, whole, DETAIL_SIDE)), views, coarse)


def _one_way(a: Prepared, b: Prepared) -> Match:
    """The best alignment of (a crop of) `a` onto the whole of `b`."""
    import numpy as np

    n = float(THUMB_SIDE)
    scores = a.coarse @ b.whole_coarse / b.whole_coarse.size
    best = int(scores.argmax())
    im, box, mirrored, angle = a.views[best]
    moved = [(box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy) for dy in REFINE_STEPS for dx in REFINE_STEPS]
    patches = np.stack([_patch(im, m, DETAIL_SIDE) for m in moved if min(m) >= 0 and max(m) <= n])
    similarity = float((_detail_stack(patches) @ b.whole_detail).max()) / b.whole_detail.size
    return Match(similarity, float(scores[best]), mirrored, box, angle)


def compare(a: Prepared, b: Prepared) -> Match:
    """How similar two prepared thumbnails are, in the best alignment either way round (a crop
    of `a` onto `b`, or a crop of `b` onto `a`: either may be the cropped copy)."""
    forward, backward = _one_way(a, b), _one_way(b, a)
    if backward.similarity > forward.similarity:
        return Match(
            backward.similarity, backward.coarse, backward.mirrored, backward.view, backward.angle, swapped=True
        )
    return forward


def compare_thumbnails(a: np.ndarray, b: np.ndarray) -> Match:
    """`compare` for two THUMB_SIDE x THUMB_SIDE gray uint8 thumbnails."""
    return compare(prepare(a), prepare(b))


def _colour_cells(rgb: np.ndarray, match: Match | None) -> tuple[np.ndarray, np.ndarray]:
    """(chroma, opponent colour) of CHROMA_SIDE x CHROMA_SIDE cells of a COLOUR_SIDE RGB
    thumbnail, seen through `match`'s alignment (None: the whole image)."""
    import numpy as np
    from PIL import Image

    cells = []
    for c in range(3):
        channel = Image.fromarray(rgb[..., c]).convert("F")
        box = (0.0, 0.0, float(COLOUR_SIDE), float(COLOUR_SIDE))
        if match is not None:
            if match.mirrored:
                channel = channel.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            if match.angle:
                channel = channel.rotate(match.angle, resample=Image.Resampling.BILINEAR)
            box = tuple(v * COLOUR_SIDE / THUMB_SIDE for v in match.view)  # type: ignore[assignment]
        cells.append(
            np.asarray(channel.resize((CHROMA_SIDE, CHROMA_SIDE), Image.Resampling.BILINEAR, box=box), dtype=np.float64)
        )
    r, g, b = cells
    chroma = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    return chroma, (r - g) / 2.0 + 1j * ((r + g) / 2.0 - b)


def colours_agree(a: np.ndarray, b: np.ndarray, match: Match) -> bool:
    """Whether the colours of two COLOUR_SIDE RGB thumbnails, aligned as `match` says, could
    belong to one photo: either is gray, or each cell is about as colourful in both and every
    colourful cell's hue turned by about one angle (a hue shift turns all of them alike,
    brightness changes none; a different photo of flat shapes turns them at random)."""
    import numpy as np

    first, second = (b, a) if match.swapped else (a, b)
    chroma_a, za = _colour_cells(first, match)
    chroma_b, zb = _colour_cells(second, None)
    if min(chroma_a.mean(), chroma_b.mean()) < GRAY_CHROMA:
        return True
    if float(np.abs(chroma_a - chroma_b).mean()) > CHROMA_TOLERANCE:
        return False
    turn = zb * np.conj(za)  # angle: the hue turn of the cell; length: weighs colourful cells more
    judged = (np.abs(za) >= COLOURFUL) & (np.abs(zb) >= COLOURFUL)
    if not judged.any():
        return True
    spread = np.sort(np.degrees(np.abs(np.angle(turn[judged] * np.conj(turn.sum())))))
    # One cell may straddle an edge the alignment misses by a pixel: judge the next worst.
    return float(spread[-2] if spread.size > 2 else spread[-1]) <= HUE_SPREAD
