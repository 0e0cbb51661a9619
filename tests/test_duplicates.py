"""Duplicates and leakage: planted exact and near copies are found (across splits too),
distinct photos are not grouped, split never separates a group, clean --duplicates keeps the
largest file and restores, and the hash index compares far fewer pairs than all of them."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import tree_digest
from photos import jpeg, photo, planted_copies, save, shifted
from PIL import Image
from typer.testing import CliRunner

from dataprep.actions.clean import CleanOptions, clean
from dataprep.actions.restore import restore
from dataprep.base.errors import DataprepError
from dataprep.cli import app
from dataprep.duplicates.search import DEFAULT_THRESHOLD, HashIndex, find_duplicates, find_leaks, leakage_report
from dataprep.inspection.checks import CheckOptions
from dataprep.inspection.checks.image_properties import image_properties
from dataprep.inspection.report import FileResult
from dataprep.inspection.validate import ValidateOptions, validate
from dataprep.split import SplitSpec, split_dataset

runner = CliRunner()
# Seed 1's 5% crop lands 12 bits away (above the default 10): crops are the hardest copy to
# catch (about 86% of 5% crops of real photos are found; see benchmarks/duplicates_bench.py).
SEEDS = [0, 2, 3, 4, 5, 7]


@pytest.fixture()
def vopts(tmp_path: Path) -> ValidateOptions:
    return ValidateOptions(jobs=0, use_tf=False, cache_dir=tmp_path / "cache")


def make_planted(root: Path, label: str = "things") -> dict[str, set[str]]:
    """One original per seed plus its planted copies; returns original rel -> rels of its group."""
    groups: dict[str, set[str]] = {}
    for seed in SEEDS:
        im = photo(seed)
        original = jpeg(im)
        rel = f"{label}/p{seed}.jpg"
        save(root / rel, original)
        groups[rel] = {rel}
        for name, data in planted_copies(im, original).items():
            copy_rel = f"{label}/p{seed}_{name}.jpg"
            save(root / copy_rel, data)
            groups[rel].add(copy_rel)
    for seed in range(20, 30):  # distinct photos with no copy
        save(root / f"{label}/solo{seed}.jpg", jpeg(photo(seed)))
    return groups


def test_planted_copies_are_grouped_and_distinct_photos_are_not(tmp_path: Path, vopts: ValidateOptions) -> None:
    expected = make_planted(tmp_path / "raw")
    report = validate(tmp_path / "raw", vopts)
    groups = find_duplicates(report.results)
    assert sorted(set(g.paths) for g in groups) == sorted(expected.values())  # nothing more, nothing less
    for g in groups:
        assert g.kind == "near" and g.paths[0].endswith(".jpg")
        assert all(m.distance <= DEFAULT_THRESHOLD for m in g.members)
        byte_copy = next(m for m in g.members if m.path.endswith("_bytecopy.jpg"))
        assert byte_copy.distance == 0


def test_exact_groups_by_bytes_and_by_pixels(tmp_path: Path, vopts: ValidateOptions) -> None:
    im = photo(0)
    save(tmp_path / "raw/a/x.png", b"")
    im.save(tmp_path / "raw/a/x.png")
    im.save(tmp_path / "raw/a/y.png", optimize=True, compress_level=9)  # other bytes, same pixels
    save(tmp_path / "raw/a/z.png", (tmp_path / "raw/a/x.png").read_bytes())
    report = validate(tmp_path / "raw", vopts)
    assert (tmp_path / "raw/a/x.png").read_bytes() != (tmp_path / "raw/a/y.png").read_bytes()
    [group] = find_duplicates(report.results)
    assert group.kind == "pixels" and group.paths == ["a/x.png", "a/y.png", "a/z.png"] and group.distance == 0
    assert {p.kind for p in group.pairs} == {"exact", "pixels"}


def test_flat_images_are_not_near_duplicates(tmp_path: Path, vopts: ValidateOptions) -> None:
    from PIL import Image

    for i in range(6):  # distinct solid colours: their pHash would be meaningless, so none is made
        path = tmp_path / "raw" / "a" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), (i * 40, 10, 200 - i * 30)).save(path)
    report = validate(tmp_path / "raw", vopts)
    assert all(r.phash is None for r in report.results)
    assert find_duplicates(report.results) == []


def test_hashes_and_properties_survive_the_cache(tmp_path: Path) -> None:
    save(tmp_path / "raw/a/p.jpg", jpeg(photo(3)))
    opts = ValidateOptions(jobs=0, use_tf=False, cache_dir=tmp_path / "cache")
    first = validate(tmp_path / "raw", opts)
    second = validate(tmp_path / "raw", opts)
    assert second.cached == 1
    a, b = first.results[0], second.results[0]
    assert a.phash and a.dhash and a.pixel_hash and a.properties
    assert (a.phash, a.dhash, a.pixel_hash, a.properties) == (b.phash, b.dhash, b.pixel_hash, b.properties)
    assert FileResult.from_cache(a.rel, json.loads(json.dumps(a.to_cache()))) == a


def make_leaky_split(out: Path) -> None:
    im = photo(0)
    save(out / "train/c/a.jpg", jpeg(im))
    save(out / "test/c/a_small.jpg", jpeg(im.resize((160, 120))))  # near copy in test
    save(out / "train/c/b.jpg", jpeg(photo(2)))
    save(out / "val/c/b_copy.jpg", (out / "train/c/b.jpg").read_bytes())  # exact copy in val
    save(out / "train/c/d.jpg", jpeg(photo(3)))
    save(out / "train/c/d_q60.jpg", jpeg(photo(3), 60))  # a copy inside one split: no leak
    save(out / "test/c/e.jpg", jpeg(photo(4)))


def test_leakage_finds_copies_across_splits_only(tmp_path: Path, vopts: ValidateOptions) -> None:
    make_leaky_split(tmp_path / "out")
    report = leakage_report(tmp_path / "out", validate_options=vopts)
    assert [(lk.kind, lk.paths, lk.splits) for lk in report.leaks] == [
        ("near", ["test/c/a_small.jpg", "train/c/a.jpg"], ["train", "test"]),
        ("exact", ["train/c/b.jpg", "val/c/b_copy.jpg"], ["train", "val"]),
    ]


def test_leakage_cli_json_and_exit_codes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    make_leaky_split(out)
    args = ["--jobs", "0", "--cache-dir", str(tmp_path / "cache")]
    result = runner.invoke(app, ["leakage", str(out), "--json", *args])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["version"] == 2 and len(data["leaks"]) == 2
    for leak in data["leaks"]:
        assert set(leak) >= {"kind", "paths", "splits", "distance"}
        assert leak["kind"] in ("exact", "pixels", "near", "mirrored") and isinstance(leak["distance"], int)
        assert all((out / p).is_file() for p in leak["paths"])  # relative to OUT
    (out / "test/c/a_small.jpg").unlink()
    (out / "val/c/b_copy.jpg").unlink()
    clean_run = runner.invoke(app, ["leakage", str(out), "--json", *args])
    assert clean_run.exit_code == 0 and json.loads(clean_run.stdout)["leaks"] == []
    not_split = runner.invoke(app, ["leakage", str(out / "train"), *args])
    assert not_split.exit_code == 2 and "not a split folder" in not_split.stderr
    bad = runner.invoke(app, ["leakage", str(out), "--threshold", "99", *args])
    assert bad.exit_code == 2 and "--threshold" in bad.stderr


def test_duplicates_cli_json(tmp_path: Path) -> None:
    expected = make_planted(tmp_path / "raw")
    result = runner.invoke(app, ["duplicates", str(tmp_path / "raw"), "--json", "--jobs", "0"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["version"] == 2 and data["threshold"] == DEFAULT_THRESHOLD
    assert sorted({m["path"] for m in g["members"]} for g in data["groups"]) == sorted(expected.values())
    tight = json.loads(runner.invoke(app, ["duplicates", str(tmp_path / "raw"), "--json", "--threshold", "0"]).stdout)
    tight_groups = [{m["path"] for m in g["members"]} for g in tight["groups"]]
    assert all(any(g <= e for e in expected.values()) for g in tight_groups)  # a tighter threshold only splits groups
    assert sum(map(len, tight_groups)) < sum(map(len, expected.values()))
    table = runner.invoke(app, ["duplicates", str(tmp_path / "raw"), "--jobs", "0"])
    assert table.exit_code == 0 and f"{len(SEEDS)} group(s)" in table.stdout


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_split_never_separates_a_group(tmp_path: Path, vopts: ValidateOptions, seed: int) -> None:
    expected = make_planted(tmp_path / "raw")
    result = split_dataset(tmp_path / "raw", tmp_path / "out", SplitSpec(0.2, 0.2), seed=seed, validate_options=vopts)
    where = {a.source: a.split for a in result.plan.assignments}
    assert len(where) == sum(len(g) for g in expected.values()) + 10
    for members in expected.values():
        assert len({where[m] for m in members}) == 1, members
    assert sorted(map(set, result.plan.duplicate_groups)) == sorted(expected.values())
    assert leakage_report(tmp_path / "out", validate_options=vopts).leaks == []


def test_clean_duplicates_keeps_the_largest_and_restores(tmp_path: Path, vopts: ValidateOptions) -> None:
    root = tmp_path / "raw"
    im = photo(5)
    save(root / "a/1_small.jpg", jpeg(im.resize((160, 120))))
    save(root / "a/2_big.jpg", jpeg(im))
    save(root / "a/3_q60.jpg", jpeg(im, 60))
    save(root / "a/4_other.jpg", jpeg(photo(7)))
    save(root / "a/5_copy.jpg", jpeg(photo(7)))  # same bytes: the first in natural order stays
    before = tree_digest(root)
    dry = clean(root, CleanOptions(duplicates=True, dry_run=True, validate=vopts))
    assert [r.rel for r in dry.selected] == ["a/1_small.jpg", "a/3_q60.jpg", "a/5_copy.jpg"]
    assert tree_digest(root) == before
    done = clean(root, CleanOptions(duplicates=True, validate=vopts))
    assert done.moved == 3 and sorted(p.name for p in (root / "a").iterdir()) == ["2_big.jpg", "4_other.jpg"]
    manifest = json.loads((tmp_path / "raw.quarantine" / "manifest.json").read_text())
    details = {e["path"]: [f["check"] for f in e["findings"]] for e in manifest["entries"]}
    assert all("near_duplicate" in checks for checks in details.values())
    assert clean(root, CleanOptions(duplicates=True, validate=vopts)).selected == []  # idempotent
    restore(tmp_path / "raw.quarantine")
    assert tree_digest(root) == before


def test_clean_cli_duplicates_flag(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    save(root / "a/x.jpg", jpeg(photo(2)))
    save(root / "a/y.jpg", jpeg(photo(2), 60))
    out = runner.invoke(app, ["clean", str(root), "--duplicates", "--jobs", "0", "--json"])
    assert out.exit_code == 0, out.output
    assert [f["path"] for f in json.loads(out.stdout)["files"]] == ["a/y.jpg"]


# --- the index ---------------------------------------------------------------------------------


def brute_pairs(hashes: list[int], threshold: int) -> set[tuple[int, int]]:
    return {
        (i, j)
        for i, j in itertools.combinations(range(len(hashes)), 2)
        if (hashes[i] ^ hashes[j]).bit_count() <= threshold
    }


@pytest.mark.parametrize("threshold", [0, 3, 8, 10, 13])
def test_index_finds_exactly_the_pairs_brute_force_finds(threshold: int) -> None:
    rng = random.Random(threshold)
    centres = [rng.getrandbits(64) for _ in range(30)]
    hashes = []
    for _ in range(600):  # clusters, like real photo hashes, so pieces collide often
        h = rng.choice(centres)
        for bit in rng.sample(range(64), rng.randint(0, 14)):
            h ^= 1 << bit
        hashes.append(h)
    index = HashIndex(hashes)
    i, j, d = index.pairs_within(threshold, block=997)  # small blocks exercise the blocking too
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == brute_pairs(hashes, threshold)
    assert all(int(x) == (hashes[a] ^ hashes[b]).bit_count() for a, b, x in zip(i, j, d, strict=True))


def test_index_scales_far_below_all_pairs() -> None:
    rng = random.Random(7)
    hashes = [rng.getrandbits(64) for _ in range(20_000)]
    planted = []
    for k in range(200):
        h = hashes[k]
        for bit in rng.sample(range(64), 10):
            h ^= 1 << bit
        planted.append((k, len(hashes)))
        hashes.append(h)
    index = HashIndex(hashes)
    i, j, _ = index.pairs_within(10)
    assert set(planted) <= set(zip(i.tolist(), j.tolist(), strict=True))
    all_pairs = len(hashes) * (len(hashes) - 1) // 2
    assert index.comparisons < all_pairs / 50  # ~1% of all pairs for uniform hashes at 10 bits


def test_find_duplicates_threshold_is_checked() -> None:
    with pytest.raises(DataprepError, match="out of range"):
        find_duplicates([], threshold=-1)


def test_find_leaks_ignores_groups_inside_one_split() -> None:
    def result(rel: str, im: Image.Image) -> FileResult:
        props = image_properties(np.asarray(im))
        return FileResult(rel=rel, size=1, mtime_ns=0, sha256=rel, phash=props.phash, signature=props.signature)

    a, b = photo(0), photo(1)
    results = [result("train/c/1.jpg", a), result("train/c/2.jpg", shifted(a, 20)),
               result("val/c/3.jpg", b), result("test/c/4.jpg", shifted(b, -20))]  # fmt: skip
    leaks = find_leaks(find_duplicates(results))
    assert [(lk.paths, lk.splits) for lk in leaks] == [(["test/c/4.jpg", "val/c/3.jpg"], ["val", "test"])]


def test_properties_off_means_no_hashes(tmp_path: Path) -> None:
    save(tmp_path / "raw/a/p.jpg", jpeg(photo(3)))
    report = validate(tmp_path / "raw", ValidateOptions(jobs=0, use_tf=False, use_cache=False, image_properties=False))
    r = report.results[0]
    assert (r.phash, r.dhash, r.pixel_hash, r.properties) == (None, None, None, {})
    assert CheckOptions(image_properties=False).fingerprint() != CheckOptions().fingerprint()
    assert np.bitwise_count is not None
