"""dataprep.base.tf_decode: the training decode rejects exactly the files validation's decode rejects.

Validation calls `decode_full` (a file it fails on is an `error`); the pipeline calls
`decode_image`, which decodes JPEGs at reduced DCT scale. If the two disagreed, a file could pass
`validate` and then be skipped in training (or the reverse), so the sets must be identical, at
every scale the ratio choice can pick, on the fixture zoo and on damaged JPEGs made here.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from photos import jpeg, photo

tf = pytest.importorskip("tensorflow")

from conftest import ZOO

from dataprep.base.tf_decode import decode_full, decode_image


def damaged_jpegs() -> dict[str, bytes]:
    """Truncated, zero-filled, bit-flipped and end-marker-less copies of baseline and progressive
    JPEGs, small (320×240) and large (1000×800, decoded at ratio 4-8 at small target sizes)."""
    out: dict[str, bytes] = {}
    for width, height in ((320, 240), (1000, 800)):
        progressive = io.BytesIO()
        photo(5, (width, height)).save(progressive, "JPEG", quality=90, progressive=True)
        for kind, good in (("baseline", jpeg(photo(4, (width, height)))), ("progressive", progressive.getvalue())):
            name = f"{kind}{width}"
            out[f"{name}_ok"] = good
            for fraction in (0.1, 0.5, 0.9, 0.99):
                out[f"{name}_truncated{fraction}"] = good[: int(len(good) * fraction)]
            out[f"{name}_no_eoi"] = good[:-2]
            out[f"{name}_early_eoi"] = good[: len(good) // 2] + b"\xff\xd9"
            zeroed = bytearray(good)
            zeroed[len(good) // 2 : len(good) // 2 + 200] = bytes(200)
            out[f"{name}_zeroed"] = bytes(zeroed)
            rng = np.random.default_rng(width)
            for k in range(3):
                flipped = bytearray(good)
                for i in rng.integers(len(good) // 3, len(good) - 2, 20):
                    flipped[i] = int(rng.integers(0, 256))
                out[f"{name}_corrupt{k}"] = bytes(flipped)
    return out


def rejected(decode: object, corpus: dict[str, bytes]) -> set[str]:
    bad = set()
    for name, contents in corpus.items():
        try:
            decode(tf.constant(contents)).numpy()  # type: ignore[operator]
        except (
            tf.errors.InvalidArgumentError,
            tf.errors.OutOfRangeError,
            tf.errors.UnknownError,
            tf.errors.ResourceExhaustedError,
        ):
            bad.add(name)
    return bad


@pytest.fixture(scope="module")
def corpus() -> dict[str, bytes]:
    zoo = {f"zoo/{p.name}": p.read_bytes() for p in sorted(ZOO.rglob("*")) if p.is_file()}
    return {**zoo, **damaged_jpegs()}


@pytest.fixture(scope="module")
def full_rejects(corpus: dict[str, bytes]) -> set[str]:
    return rejected(decode_full, corpus)


def test_corpus_has_both_verdicts(corpus: dict[str, bytes], full_rejects: set[str]) -> None:
    # The comparison below means something only if the corpus holds files of both kinds.
    assert {"zoo/truncated_half.jpg", "baseline320_truncated0.5", "progressive1000_no_eoi"} <= full_rejects
    assert {"zoo/valid_baseline.jpg", "zoo/valid_progressive.jpg", "baseline1000_ok"}.isdisjoint(full_rejects)


@pytest.mark.parametrize("image_size", [16, 64, 180])  # ratios 8, 2-8 and 1-4 on the corpus' sizes
def test_decode_image_rejects_what_validation_rejects(
    corpus: dict[str, bytes], full_rejects: set[str], image_size: int
) -> None:
    assert rejected(lambda c: decode_image(c, image_size), corpus) == full_rejects


def test_resized_pixels_are_rounded_and_never_wrap(tmp_path: Path) -> None:
    # Extremes stay exact (255 must not wrap to 0 in the uint8 cast) and every pixel is the
    # float bilinear resize rounded to the nearest level.
    from PIL import Image

    gradient = np.tile(np.linspace(0, 255, 97, dtype=np.float32), (61, 1))
    pixels = np.stack([gradient, 255 - gradient, np.full_like(gradient, 255)], axis=-1).astype("uint8")
    pixels[:5] = 0
    path = tmp_path / "gradient.png"
    Image.fromarray(pixels).save(path)
    contents = tf.io.read_file(str(path))
    got = decode_image(contents, 24).numpy()
    expected = np.floor(tf.image.resize(decode_full(contents), [24, 24]).numpy() + 0.5)
    assert got.dtype == np.uint8 and got.shape == (24, 24, 3)
    np.testing.assert_array_equal(got, expected.astype(np.uint8))
    assert got[-10:, :, 2].min() == 255 and got[0].max() == 0
