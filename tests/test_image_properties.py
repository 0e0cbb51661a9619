"""The hashes and measures of `dataprep.inspection.checks.image_properties`, computed the fast way (one gray
grid, one matrix product for every pHash, gray statistics from a histogram), against what they
mean: the pHash of the mirrored or cropped image itself, and numpy's own statistics."""

from __future__ import annotations

import numpy as np
import pytest
from photos import photo
from PIL import Image

from dataprep.inspection.checks.image_properties import (
    CROP_POSITIONS,
    CROP_SCALE,
    NearSignature,
    crop_box,
    hamming,
    image_properties,
)


def _rgb(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"))


@pytest.mark.parametrize("seed", range(6))
def test_mirror_phash_is_the_phash_of_the_mirrored_image(seed: int) -> None:
    im = photo(seed, (125, 94))
    props = image_properties(_rgb(im))
    mirrored = image_properties(_rgb(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    assert props.signature is not None and mirrored.phash is not None
    sig = NearSignature.decode(props.signature)
    assert hamming(sig.mirror_phash, mirrored.phash) <= 4
    assert hamming(sig.mirror_phash, props.phash or "") >= 8  # a different hash, not the image's own


@pytest.mark.parametrize("seed", range(4))
def test_crop_phashes_are_the_phashes_of_the_crops_in_row_order(seed: int) -> None:
    im = photo(100 + seed, (128, 96))
    sig = NearSignature.decode(image_properties(_rgb(im)).signature or "")
    k = 0
    for oy in CROP_POSITIONS:
        for ox in CROP_POSITIONS:
            box = tuple(round(v) for v in crop_box(im.width, im.height, CROP_SCALE, ox, oy))
            crop = image_properties(_rgb(im.crop(box)))  # type: ignore[arg-type]
            assert crop.phash is not None
            distances = [hamming(crop.phash, h) for h in sig.crop_phashes]
            assert distances[k] <= 6, (oy, ox, distances)
            assert distances[k] == min(distances), (oy, ox, distances)
            k += 1


def test_gray_statistics_match_numpy() -> None:
    rgb = _rgb(photo(7, (120, 90)))
    values = image_properties(rgb).values
    gray = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float64)
    assert values["contrast"] == pytest.approx(gray.std() / 255.0, abs=1e-4)
    spread = rgb.max(axis=2).astype(int) - rgb.min(axis=2)
    n = spread.size
    high = (n - 1) - (n - 1) // 100
    assert values["colour_spread"] == float(np.sort(spread.ravel())[high])
    r, g, b = (rgb[..., c].astype(np.float64) / 255 for c in range(3))
    brightness = np.sort(np.sqrt(0.241 * r * r + 0.691 * g * g + 0.068 * b * b).ravel())
    assert values["brightness_p01"] == pytest.approx(brightness[(n - 1) // 100], abs=1e-4)
    assert values["brightness_p99"] == pytest.approx(brightness[high], abs=1e-4)
    counts = np.bincount(gray.astype(int).ravel())
    p = counts[counts > 0] / n
    assert values["entropy"] == pytest.approx(-(p * np.log2(p)).sum(), abs=1e-4)


def test_flat_image_has_no_hashes_and_no_sharpness() -> None:
    props = image_properties(np.full((60, 80, 3), 90, dtype=np.uint8))
    assert props.phash is None and props.signature is None
    assert props.values["sharpness"] == 0.0 and props.values["entropy"] == 0.0
