"""Image-quality findings (CleanVision's names): dark and blurred copies are flagged, ordinary
photos (generated ones and the committed demo set) are not; thresholds are configurable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import DEMO
from photos import blurred, darkened, jpeg, photo, save
from PIL import Image

from dataprep.inspection.checks import CHECK_NAMES, CheckOptions, QualityThresholds
from dataprep.inspection.validate import ValidateOptions, validate

QUALITY = {"dark", "light", "blurry", "low_information", "odd_aspect_ratio", "odd_size", "grayscale"}


def quality_findings(root: Path, **options: object) -> dict[str, set[str]]:
    report = validate(root, ValidateOptions(jobs=0, use_tf=False, use_cache=False, **options))  # type: ignore[arg-type]
    return {r.rel: {f.check for f in r.findings if f.check in QUALITY} for r in report.results}


def test_every_quality_check_is_registered() -> None:
    assert set(CHECK_NAMES) >= QUALITY


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    for seed in range(12):
        im = photo(seed, (320 + 16 * seed, 240))
        save(root / f"a/normal_{seed:02d}.jpg", jpeg(im))
    im = photo(3)
    save(root / "a/x_dark.jpg", jpeg(darkened(im)))
    save(root / "a/x_blurred.jpg", jpeg(blurred(im)))
    save(root / "a/x_light.jpg", jpeg(Image.fromarray((255 - (255 - np.asarray(im)) * 0.08).astype(np.uint8))))
    save(root / "a/x_gray_rgb.jpg", jpeg(im.convert("L").convert("RGB")))
    save(root / "a/x_panorama.jpg", jpeg(photo(5, (960, 200))))
    flat = np.full((240, 320, 3), 120, np.uint8)
    flat[100:140, 150:170] = 130
    save(root / "a/x_blank.png", b"")
    Image.fromarray(flat).save(root / "a/x_blank.png")
    save(root / "a/x_huge.jpg", jpeg(photo(6, (4000, 3000)), 50))
    save(root / "a/x_gray_mode.jpg", jpeg(im.convert("L")))  # color_mode says it: no grayscale finding
    return root


def test_each_problem_gets_its_finding_and_normal_photos_none(dataset: Path) -> None:
    found = quality_findings(dataset)
    for rel, checks in found.items():
        if "normal_" in rel:
            assert checks == set(), rel
    assert found["a/x_dark.jpg"] == {"dark"}
    assert found["a/x_blurred.jpg"] == {"blurry"}
    assert found["a/x_light.jpg"] == {"light"}
    assert found["a/x_gray_rgb.jpg"] == {"grayscale"}
    assert found["a/x_panorama.jpg"] == {"odd_aspect_ratio"}
    assert "low_information" in found["a/x_blank.png"]
    assert found["a/x_huge.jpg"] == {"odd_size"}
    assert found["a/x_gray_mode.jpg"] == set()


def test_thresholds_are_configurable_and_part_of_the_cache_key(dataset: Path) -> None:
    strict = QualityThresholds(dark=0.99, blurry=0.0, odd_size=1000.0)
    found = quality_findings(dataset, quality=strict)
    assert "dark" in found["a/normal_00.jpg"]
    assert "blurry" not in found["a/x_blurred.jpg"] and "odd_size" not in found["a/x_huge.jpg"]
    assert CheckOptions(quality=strict).fingerprint() != CheckOptions().fingerprint()


def test_properties_off_means_no_quality_findings(dataset: Path) -> None:
    found = quality_findings(dataset, image_properties=False)
    assert all(checks == set() for checks in found.values())


def test_demo_photos_get_no_quality_findings() -> None:
    found = quality_findings(DEMO)
    assert {rel: c for rel, c in found.items() if c} == {}
