"""Generators for the dataset shapes people download (issue 10): small, learnable, written with Pillow.

- `ppm_classes`: the German Traffic Sign benchmark's tree, ``00000/00000_00000.ppm``.
- `mixed_formats`: TIFF, TGA, WebP, AVIF (when Pillow has it), JPEG 2000 and PNG named ``.jpg``.
- `heic_classes`: HEIC photos (needs pillow-heif).
- `exif_rotated`: JPEGs stored sideways with EXIF Orientation 3, 6 and 8 (what phones write).
- `split_tree`: every split layout: ``train/ val/ test/``, ``train/ validation/``, ``training/ testing/``, ...

Class 0 is reddish and class 1 bluish with noise, so one epoch on a few images learns something.
Each picture has a bright top-left corner, so a rotation is visible in the pixels.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, features

COLOURS = ((210, 60, 50), (50, 70, 210))
CLASSES = ("cat", "dog")


def picture(label: int, index: int, size: tuple[int, int] = (40, 28)) -> Image.Image:
    """A small noisy picture of class `label` (width x height `size`) with a white top-left corner."""
    rng = np.random.default_rng(1000 * label + index)
    w, h = size
    arr = np.clip(np.array(COLOURS[label]) + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    arr[: h // 3, : w // 3] = 255
    # a dark block at a random place and size: distinct pictures get distinct perceptual hashes
    bw, bh = int(rng.integers(w // 4, w // 2)), int(rng.integers(h // 4, h // 2))
    x, y = int(rng.integers(w // 3, w - bw)), int(rng.integers(0, h - bh))
    arr[y : y + bh, x : x + bw] = rng.integers(0, 80, 3)
    return Image.fromarray(arr)


def _write(im: Image.Image, path: Path, fmt: str, **params: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, fmt, **params)
    return path


def ppm_classes(root: Path, classes: int = 2, per_class: int = 4) -> list[Path]:
    """GTSRB-style: ``root/00000/00000_00000.ppm`` (P6), one folder per class, numbered."""
    return [
        _write(picture(c % 2, 100 * c + i), root / f"{c:05d}" / f"{i // 2:05d}_{i % 2:05d}.ppm", "PPM")
        for c in range(classes)
        for i in range(per_class)
    ]


def avif_supported() -> bool:
    return bool(features.check("avif"))


def mixed_formats(root: Path) -> dict[str, str]:
    """Per class one file of each format TensorFlow cannot read (and a PNG named .jpg).
    Returns {relative path: the format's key in dataprep.base.formats}."""
    made: dict[str, str] = {}
    kinds = [("tif", "TIFF", "tiff"), ("tga", "TGA", "tga"), ("jp2", "JPEG2000", "jpeg2000"), ("webp", "WEBP", "webp")]
    if avif_supported():
        kinds.append(("avif", "AVIF", "avif"))
    for label, name in enumerate(CLASSES):
        for i, (ext, fmt, key) in enumerate(kinds):
            rel = f"{name}/{name}_{ext}.{ext}"
            _write(picture(label, i), root / rel, fmt)
            made[rel] = key
        rel = f"{name}/{name}_png_named.jpg"
        _write(picture(label, 20), root / rel, "PNG")
        made[rel] = "png"
    return made


def heic_classes(root: Path, per_class: int = 2) -> list[Path]:
    """HEIC photos, one folder per class (pillow-heif must be installed)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return [
        _write(picture(label, i, (64, 48)), root / name / f"IMG_{i:04d}.heic", "HEIF", quality=90)
        for label, name in enumerate(CLASSES)
        for i in range(per_class)
    ]


# The stored pixels for each orientation: the upright picture turned so that a viewer applying
# the tag shows it upright again (Pillow's ImageOps.exif_transpose is the reference).
_STORED = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def exif_rotated(root: Path, orientations: Iterable[int] = (3, 6, 8)) -> dict[str, int]:
    """JPEGs whose pixels are stored sideways or upside down with the EXIF tag that puts them
    upright, as phones write them; plus one upright JPEG per class. Returns {rel: orientation}."""
    made: dict[str, int] = {}
    for label, name in enumerate(CLASSES):
        for value in orientations:
            upright = picture(label, value, (48, 32))
            exif = Image.Exif()
            exif[0x0112] = value
            rel = f"{name}/{name}_orientation_{value}.jpg"
            _write(upright.transpose(_STORED[value]), root / rel, "JPEG", quality=95, exif=exif.tobytes())
            made[rel] = value
        _write(picture(label, 0, (48, 32)), root / name / f"{name}_upright.jpg", "JPEG", quality=95)
    return made


# Every split layout the issue lists: the folder names of each dataset shape, train first.
SPLIT_LAYOUTS: dict[str, tuple[str, ...]] = {
    "train_val_test": ("train", "val", "test"),
    "train_validation": ("train", "validation"),  # cats_and_dogs_filtered
    "train_valid_test": ("train", "valid", "test"),
    "train_test": ("train", "test"),  # food-10: no validation folder
    "training_testing": ("training", "testing"),
    "train_dev_test": ("train", "dev", "test"),
}


def split_tree(root: Path, folders: tuple[str, ...], per_class: int = 4) -> dict[str, int]:
    """``root/FOLDER/CLASS/*.jpg`` for each folder; returns {folder: images in it}."""
    counts: dict[str, int] = {}
    for s, folder in enumerate(folders):
        n = per_class if s == 0 else max(2, per_class // 2)
        for label, name in enumerate(CLASSES):
            for i in range(n):
                _write(
                    picture(label, 100 * s + i, (24, 24)), root / folder / name / f"{name}_{i}.jpg", "JPEG", quality=90
                )
        counts[folder] = 2 * n
    return counts
