"""Duplicate search in bounded memory: candidate pairs come part by part, each exactly once and at
its smallest distance; thumbnails are decoded only for the images a candidate pair names and a
bounded cache gives the same groups as an unbounded one; a streamed run's hash columns equal those
of the in-memory results."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from photos import jpeg, photo, save
from PIL import Image, ImageOps

import dataprep.duplicates.candidates as cand
import dataprep.duplicates.verify as verify
from dataprep.duplicates.candidates import candidate_pairs
from dataprep.duplicates.hashed import HASHES, HashedImages
from dataprep.duplicates.search import duplicates_report, search_duplicates
from dataprep.inspection.validate import ValidateOptions, validate
from dataprep.inspection.validate_stream import validate_streamed


def planted_hashes(n: int, seed: int) -> np.ndarray:
    """n rows of 11 hashes (pHash, mirrored, 9 cropped), a third of the pHashes a few bits from
    another row's pHash or from one of its other hashes (a mirrored or cropped copy)."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 2**64 - 1, size=(n, HASHES), dtype=np.uint64, endpoint=True)
    for k in range(0, n, 3):
        source = rows[rng.integers(0, n), rng.integers(0, HASHES)]
        flips = rng.choice(64, size=int(rng.integers(0, 14)), replace=False)
        rows[k, 0] = source ^ np.uint64(sum(1 << int(b) for b in flips))
    rows[n - 1, 0] = rows[n - 2, 0]  # two equal pHashes
    return rows


def brute_candidates(rows: np.ndarray, units: np.ndarray, threshold: int) -> dict[tuple[int, int], int]:
    """Every pair of units whose hashes reach the other's pHash, at the fewest bits either way."""
    out: dict[tuple[int, int], int] = {}
    for a in units.tolist():
        for b in units.tolist():
            if a < b:
                bits = min(
                    int(np.bitwise_count(rows[a] ^ rows[b, 0]).min()), int(np.bitwise_count(rows[b] ^ rows[a, 0]).min())
                )
                if bits <= threshold:
                    out[(a, b)] = bits
    return out


@pytest.mark.parametrize("part", [5, 64, 4096])
@pytest.mark.parametrize("threshold", [0, 8, 12])
def test_candidate_pairs_equal_brute_force(monkeypatch: pytest.MonkeyPatch, part: int, threshold: int) -> None:
    monkeypatch.setattr(cand, "PART_IMAGES", part)  # small parts: pairs found from either side, owned once
    rows = planted_hashes(300, seed=threshold)
    units = np.flatnonzero(np.arange(300) % 7 != 3)  # some images are no unit's first: not searched
    found: dict[tuple[int, int], int] = {}
    blocks = list(candidate_pairs(rows, units, threshold))
    for block in blocks:
        assert np.all(block.a < block.b)
        assert np.array_equal(np.lexsort((block.b, block.a)), np.arange(len(block.a)))  # sorted by (a, b)
        for a, b, bits in zip(block.a.tolist(), block.b.tolist(), block.bits.tolist(), strict=True):
            assert (a, b) not in found, "a pair came twice"
            found[(a, b)] = bits
    want = brute_candidates(rows, units, threshold)
    assert found == want
    assert len(want) >= (3 if threshold == 0 else 20)  # planted copies are in reach: the test can fail
    assert len(blocks) == -(-len(units) // part)


def test_fewer_than_two_images_have_no_pairs() -> None:
    rows = planted_hashes(3, seed=1)
    assert list(candidate_pairs(rows, np.array([1]), 12)) == []


def _folder(root: Path) -> Path:
    """Photos with a near copy, a mirrored copy, a byte copy, a re-encoded copy (same pixels), and
    distinct photos; one empty file."""
    for k in range(6):
        save(root / "raw" / "a" / f"p{k}.jpg", jpeg(photo(k, (160, 120))))
    base = photo(0, (160, 120))
    (root / "raw" / "b").mkdir(parents=True)
    (root / "raw" / "b" / "near.jpg").write_bytes(jpeg(base.resize((120, 90)), 70))
    (root / "raw" / "b" / "mirror.jpg").write_bytes(jpeg(ImageOps.mirror(base)))
    shutil.copy(root / "raw" / "a" / "p3.jpg", root / "raw" / "b" / "bytes.jpg")
    Image.open(root / "raw" / "a" / "p4.jpg").save(root / "raw" / "b" / "pixels.png")
    (root / "raw" / "b" / "empty.jpg").write_bytes(b"")
    return root / "raw"


@pytest.fixture()
def vopts(tmp_path: Path) -> ValidateOptions:
    return ValidateOptions(jobs=0, use_tf=False, cache_dir=tmp_path / "cache")


def test_run_columns_equal_the_results_columns(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = _folder(tmp_path)
    expected = HashedImages.from_results(validate(raw, vopts).results)
    run = validate_streamed(raw, vopts, near_columns=True)
    try:
        got = HashedImages.from_run(run)
        assert list(got.paths) == list(expected.paths) and len(got) == 10  # the empty file has no content
        for name in ("hashes", "has_phash", "has_signature", "same_bytes", "same_pixels"):
            assert np.array_equal(getattr(got, name), getattr(expected, name)), name
        assert [got.signature_text(k) for k in range(len(got))] == [expected.signature_text(k) for k in range(len(got))]
        assert got.same_bytes[list(got.paths).index("b/bytes.jpg")] == list(got.paths).index("a/p3.jpg")
        assert got.same_pixels[list(got.paths).index("b/pixels.png")] == list(got.paths).index("a/p4.jpg")
    finally:
        run.store.close()


def test_signatures_are_decoded_only_for_candidate_pairs(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = _folder(tmp_path)
    images = HashedImages.from_results(validate(raw, vopts).results)
    asked: list[str] = []
    read = images.signature_text
    images.signature_text = lambda k: asked.append(images.paths[k]) or read(k)  # type: ignore[func-returns-value]
    found = search_duplicates(images, threshold=0)
    named = {p for g in found.groups for pair in g.pairs if pair.kind in ("near", "mirrored") for p in (pair.a, pair.b)}
    assert named and set(asked) == named  # equal pHashes at 0 bits: the near and mirrored copies only
    assert len(asked) < len(images) // 2


def test_a_bounded_thumbnail_cache_gives_the_same_groups(
    tmp_path: Path, vopts: ValidateOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _folder(tmp_path)
    results = validate(raw, vopts).results
    unbounded = search_duplicates(results, threshold=24, similarity=0.0)
    monkeypatch.setattr(verify, "PREPARED_KEPT", 2)
    prepared: list[int] = []
    real = verify.PreparedThumbnails.__getitem__

    def counted(self: verify.PreparedThumbnails, k: int) -> object:
        found = real(self, k)
        prepared.append(len(self.kept))
        return found

    monkeypatch.setattr(verify.PreparedThumbnails, "__getitem__", counted)
    bounded = search_duplicates(results, threshold=24, similarity=0.0)
    assert bounded == unbounded and bounded.candidates > 10
    assert max(prepared) == 2  # held at most two prepared thumbnails at once


def test_duplicates_report_reads_the_run_file(tmp_path: Path, vopts: ValidateOptions) -> None:
    """The CLI's path (hash columns from the streamed run) groups as the in-memory results do."""
    raw = _folder(tmp_path)
    report = duplicates_report(raw, validate_options=vopts)
    assert report.groups == search_duplicates(validate(raw, vopts).results).groups
    assert [(g.kind, g.paths) for g in report.groups] == [
        ("mirrored", ["a/p0.jpg", "b/mirror.jpg", "b/near.jpg"]),
        ("exact", ["a/p3.jpg", "b/bytes.jpg"]),
        ("pixels", ["a/p4.jpg", "b/pixels.png"]),
    ]
