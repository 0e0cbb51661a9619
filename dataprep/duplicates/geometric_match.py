"""Is one image a copy of another under a crop, a rotation, a scale or a colour change? Local
features matched under one similarity transform decide.

Each image is decoded once at a bounded size (longest side `FEATURE_SIDE`), as gray levels, and
described by up to `MAX_FEATURES` SIFT keypoints. Two images are compared by matching their
descriptors (Lowe's ratio test: a match counts only when it is clearly better than the second
best) and fitting one similarity transform (shift, rotation, uniform scale) to the matches with
RANSAC; the verdict is the number of matches that transform explains (`inliers`). A crop, a
rotation, a resize, a grey or hue-shifted copy keeps the keypoints where they were, relative to
each other, so hundreds line up; two different photos of one kind of scene (two dandelions, two
black cats) share a few look-alike keypoints that no single transform explains.

Why OpenCV's SIFT and RANSAC (`opencv-python-headless`, an optional extra): it is the field's
well-kept, patent-free implementation of exactly this test, fast in C++, with the ratio test and
`estimateAffinePartial2D` (the 4-parameter similarity model, robust to outliers) built in.

Measured (benchmarks/duplicates_bench.py, BENCHMARKS.md): planted edits of real photos (crop to
70 %, rotation by 12 degrees, grey + crop, colour shift + crop, dark, resize) keep 98-500
inliers; the most similar different photos by embedding keep 3-12. A mirrored copy matches only
when one side is mirrored first (`mirrored=True`): SIFT descriptors are not mirror-invariant.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dataprep.base.errors import DataprepError
from dataprep.base.image_view import open_view

if TYPE_CHECKING:
    import numpy as np

FEATURE_SIDE = 512  # pixels: the longest side images are described at (copies are compared at one scale)
MAX_FEATURES = 600  # strongest SIFT keypoints kept per image (memory: ~80 KB per image)
RATIO = 0.75  # Lowe's ratio test: best match distance below this share of the second best
REPROJECTION_PX = 4.0  # RANSAC: a match fits the transform when it lands within this many pixels
MIN_INLIERS = 25  # a copy: measured >= 98 on planted edits of pets-800, different photos <= 12
MIN_KEYPOINTS = 40  # fewer keypoints on either side: too little texture to decide either way
RANSAC_ITERATIONS = 2000
MAX_SCALE = 4.0  # both images are described at FEATURE_SIDE: a copy keeping 1/16 of the area is 4x
CACHE_IMAGES = 1024  # features kept in memory by a verifier (least recently used dropped first)
INSTALL = "pip install 'opencv-python-headless>=4.8'"


def cv2_available() -> bool:
    """Whether OpenCV (the optional `semantic` extra) can be imported."""
    return importlib.util.find_spec("cv2") is not None


def require_cv2(what: str) -> None:
    """Raise a one-line DataprepError naming the install command when OpenCV is missing."""
    if not cv2_available():
        raise DataprepError(
            f"{what} needs OpenCV, which is not installed; install it with: {INSTALL} "
            "(or pip install 'dataprep[semantic]')"
        )


@dataclass(frozen=True)
class Features:
    """An image's keypoints (n x 2, in the FEATURE_SIDE frame) and SIFT descriptors (n x 128)."""

    points: np.ndarray
    descriptors: np.ndarray

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class GeometricMatch:
    """How well one similarity transform maps the first image's keypoints onto the second's."""

    inliers: int  # ratio-test matches the transform explains: the verdict
    matches: int  # ratio-test matches
    scale: float = 1.0  # of the transform (second image's frame per first's)
    angle: float = 0.0  # degrees
    decided: bool = True  # False: an image has too few keypoints for the test to say anything

    @property
    def same_photo(self) -> bool:
        return self.decided and self.inliers >= MIN_INLIERS


def extract(gray: np.ndarray, max_features: int = MAX_FEATURES) -> Features:
    """SIFT keypoints and descriptors of a gray uint8 image."""
    import cv2
    import numpy as np

    sift = cv2.SIFT.create(nfeatures=max_features)
    keypoints, descriptors = sift.detectAndCompute(np.ascontiguousarray(gray), None)
    if descriptors is None or not keypoints:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32))
    points = np.array([k.pt for k in keypoints], dtype=np.float32)
    return Features(points, descriptors.astype(np.float32, copy=False))


def features_of(path: Path, mirrored: bool = False, side: int = FEATURE_SIDE) -> Features:
    """The features of the image at `path` (decoded once at `side`), of its mirror image when
    `mirrored`. Raises OSError/ValueError for a file Pillow cannot decode."""
    import numpy as np

    gray = np.asarray(open_view(path, side, "L"))
    return extract(gray[:, ::-1] if mirrored else gray)


def match_features(a: Features, b: Features) -> GeometricMatch:
    """Ratio-test matches from `a` to `b`, and how many one RANSAC similarity transform explains.
    Deterministic: OpenCV's random generator is seeded before each fit."""
    import cv2
    import numpy as np

    if len(a) < MIN_KEYPOINTS or len(b) < MIN_KEYPOINTS:
        return GeometricMatch(0, 0, decided=False)
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(a.descriptors, b.descriptors, k=2)
    ratio_ok = sorted((p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance),
                      key=lambda m: (m.distance, m.queryIdx))  # fmt: skip
    # One match per keypoint of `b` (its best): many keypoints of `a` matched onto one of `b`
    # (a logo, a fence's repeated mesh) would otherwise agree with a transform that shrinks
    # everything onto that point.
    taken: set[int] = set()
    good = []
    for m in ratio_ok:
        if m.trainIdx not in taken:
            taken.add(m.trainIdx)
            good.append(m)
    if len(good) < 3:
        return GeometricMatch(0, len(good))
    src = a.points[[m.queryIdx for m in good]]
    dst = b.points[[m.trainIdx for m in good]]
    cv2.setRNGSeed(0)
    transform, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION_PX, maxIters=RANSAC_ITERATIONS,
        confidence=0.995,
    )  # fmt: skip
    if transform is None or mask is None:
        return GeometricMatch(0, len(good))
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    angle = float(np.degrees(np.arctan2(transform[1, 0], transform[0, 0])))
    if not 1 / MAX_SCALE <= scale <= MAX_SCALE:  # not a copy at any zoom a copy is made at: a degenerate fit
        return GeometricMatch(0, len(good), scale, angle)
    return GeometricMatch(int(mask.sum()), len(good), scale, angle)


class GeometricVerifier:
    """Compares files of one folder, describing each file once per run (an LRU of
    `capacity` images bounds the memory): `verify(a, b)` for two paths relative to `root`."""

    def __init__(self, root: Path, capacity: int = CACHE_IMAGES) -> None:
        require_cv2("geometric verification")
        self.root = root
        self.capacity = capacity
        self._features: OrderedDict[tuple[str, bool], Features | None] = OrderedDict()
        self.described = 0  # images decoded and described (cache misses)

    def features(self, rel: str, mirrored: bool = False) -> Features | None:
        """The features of `rel` (None when it cannot be decoded: no verdict from it)."""
        from PIL import Image

        key = (rel, mirrored)
        if key in self._features:
            self._features.move_to_end(key)
            return self._features[key]
        try:
            found: Features | None = features_of(self.root / rel, mirrored)
        except (OSError, ValueError, Image.DecompressionBombError):
            found = None
        self.described += 1
        self._features[key] = found
        if len(self._features) > self.capacity:
            self._features.popitem(last=False)
        return found

    def verify(self, a: str, b: str, mirrored: bool = False) -> GeometricMatch:
        """`a` (mirrored first when `mirrored`) matched onto `b`. Undecided when either file
        cannot be decoded or has too few keypoints."""
        fa, fb = self.features(a, mirrored), self.features(b)
        if fa is None or fb is None:
            return GeometricMatch(0, 0, decided=False)
        return match_features(fa, fb)
