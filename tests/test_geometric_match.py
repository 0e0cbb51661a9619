"""The geometric verifier: copies a perceptual hash does not survive (70 % crop, 12 degree
rotation, grey + crop, colour shift + crop) match under one similarity transform; different
photos, even of one kind of scene, do not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from photo_edits import HASH_RESISTANT
from photos import jpeg, save, textured
from PIL import Image, ImageOps

pytest.importorskip("cv2")

from test_near_duplicates import look_alike

from dataprep.base.image_view import open_view
from dataprep.duplicates.geometric_match import (
    GeometricVerifier,
    extract,
    features_of,
    match_features,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("geo")
    for seed in (1, 2):
        im = textured(seed)
        save(root / f"p{seed}.jpg", jpeg(im))
        for name, edit in HASH_RESISTANT.items():
            save(root / f"p{seed}_{name}.jpg", jpeg(edit(im)))
        save(root / f"p{seed}_mirror.jpg", jpeg(ImageOps.mirror(im)))
    for seed in range(3, 7):
        save(root / f"other{seed}.jpg", jpeg(textured(seed)))
    for seed in range(4):
        save(root / f"flower{seed}.jpg", jpeg(look_alike(seed, (480, 360))))
    return root


@pytest.mark.parametrize("edit", sorted(HASH_RESISTANT))
def test_hash_resistant_edits_match(folder: Path, edit: str) -> None:
    verifier = GeometricVerifier(folder)
    for seed in (1, 2):
        both = [
            verifier.verify(f"p{seed}_{edit}.jpg", f"p{seed}.jpg"),
            verifier.verify(f"p{seed}.jpg", f"p{seed}_{edit}.jpg"),
        ]
        assert all(m.same_photo for m in both), (edit, both)


def test_the_transform_is_the_edit(folder: Path) -> None:
    verifier = GeometricVerifier(folder)
    turned = verifier.verify("p1_rotate12.jpg", "p1.jpg")
    assert abs(abs(turned.angle) - 12) < 1.5, turned
    cropped = verifier.verify("p1_crop70.jpg", "p1.jpg")
    assert abs(cropped.scale - 1) < 0.05, cropped  # both under FEATURE_SIDE: decoded at their own size


def test_different_photos_do_not_match(folder: Path) -> None:
    verifier = GeometricVerifier(folder)
    others = ["p1.jpg", "p2.jpg", *(f"other{s}.jpg" for s in range(3, 7))]
    flowers = [f"flower{s}.jpg" for s in range(4)]
    for group in (others, flowers):  # unrelated photos, and different photos of one kind of scene
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                m = verifier.verify(a, b)
                assert m.decided and not m.same_photo, (a, b, m)


def test_a_mirrored_copy_matches_only_when_mirrored(folder: Path) -> None:
    verifier = GeometricVerifier(folder)
    assert not verifier.verify("p1_mirror.jpg", "p1.jpg").same_photo
    assert verifier.verify("p1_mirror.jpg", "p1.jpg", mirrored=True).same_photo


def test_each_file_is_described_once_and_memory_is_bounded(folder: Path) -> None:
    verifier = GeometricVerifier(folder, capacity=3)
    for edit in HASH_RESISTANT:
        verifier.verify(f"p1_{edit}.jpg", "p1.jpg")
    assert verifier.described == 1 + len(HASH_RESISTANT)  # p1 stayed in the cache
    assert len(verifier._features) <= 3


def test_flat_and_undecodable_images_are_undecided(tmp_path: Path, folder: Path) -> None:
    save(tmp_path / "flat.png", b"")
    Image.new("RGB", (300, 200), (120, 80, 40)).save(tmp_path / "flat.png")
    save(tmp_path / "broken.jpg", b"\xff\xd8 not a jpeg")
    save(tmp_path / "p1.jpg", (folder / "p1.jpg").read_bytes())
    verifier = GeometricVerifier(tmp_path)
    assert not verifier.verify("flat.png", "p1.jpg").decided
    assert not verifier.verify("broken.jpg", "p1.jpg").decided
    assert verifier.verify("p1.jpg", "p1.jpg").same_photo


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path: Path) -> None:
    gray = np.asarray(textured(1).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(gray).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    view = np.asarray(open_view(tmp_path / "deep.png", 512, "L"))
    assert 60 < view.mean() < 200 and view.std() > 20  # clipped, it would be all white
    assert match_features(features_of(tmp_path / "deep.png"), extract(np.asarray(textured(1).convert("L")))).same_photo
