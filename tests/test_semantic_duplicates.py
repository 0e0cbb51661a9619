"""Look-alike duplicates (`--semantic`): the copies a perceptual hash misses (a 70 % crop, a 12
degree rotation, a grey or recoloured crop) are grouped `semantic`; different photos, even of one
layout, are not; split keeps them together and leakage finds them across splits. And (issue 26)
near-duplicate candidates the thumbnails barely accept are checked geometrically, and clean says
what kind of copy it removes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from photo_edits import HASH_RESISTANT, crop_area, rotate
from photos import jpeg, same_scene, save, textured
from typer.testing import CliRunner

pytest.importorskip("cv2")

from dataprep.cli import app
from dataprep.duplicates.geometric_match import GeometricVerifier
from dataprep.duplicates.search import GEOMETRIC_BELOW, duplicates_report, search_duplicates
from dataprep.duplicates.semantic import Candidate, candidate_pairs
from dataprep.inspection.validate import ValidateOptions, validate

runner = CliRunner()


@pytest.fixture()
def vopts(tmp_path: Path) -> ValidateOptions:
    return ValidateOptions(jobs=0, use_tf=False, cache_dir=tmp_path / "cache")


def test_candidates_are_the_nearest_neighbours_above_the_floor() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 32))
    vectors = np.concatenate([base, base[:2] + 0.05 * rng.normal(size=(2, 32))])  # rows 6, 7: near copies of 0, 1
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    paths = [f"c/{i}.jpg" for i in range(8)]
    found = candidate_pairs(paths, vectors.astype(np.float32), k=2, floor=0.9)
    assert [(c.a, c.b) for c in found] == [("c/0.jpg", "c/6.jpg"), ("c/1.jpg", "c/7.jpg")]
    assert all(c.cosine > 0.9 for c in found)
    everything = candidate_pairs(paths, vectors.astype(np.float32), k=7, floor=-1.0)
    assert len(everything) == 8 * 7 // 2  # every pair once, whichever side proposed it
    with pytest.raises(ValueError):
        candidate_pairs(paths[:3], vectors)


def _all_pairs(rels: list[str]) -> list[Candidate]:
    return [Candidate(a, b, 0.9) for i, a in enumerate(rels) for b in rels[i + 1 :]]


@pytest.mark.parametrize("edit", sorted(HASH_RESISTANT))
def test_each_hash_resistant_copy_is_grouped_semantic(tmp_path: Path, vopts: ValidateOptions, edit: str) -> None:
    im = textured(1)
    save(tmp_path / "raw/c/original.jpg", jpeg(im))
    save(tmp_path / f"raw/c/copy_{edit}.jpg", jpeg(HASH_RESISTANT[edit](im)))
    for seed in range(3, 6):
        save(tmp_path / f"raw/c/other{seed}.jpg", jpeg(textured(seed)))
    results = validate(tmp_path / "raw", vopts).results
    verifier = GeometricVerifier(tmp_path / "raw")
    # Hash candidates only at 0 bits: only the semantic route can find the copy.
    found = search_duplicates(results, 0, verifier=verifier, semantic=_all_pairs(sorted(r.rel for r in results)))
    [group] = found.groups
    assert group.paths == [f"c/copy_{edit}.jpg", "c/original.jpg"] and group.kind == "semantic"
    [pair] = group.pairs
    assert pair.inliers is not None and pair.inliers >= 25 and pair.cosine == 0.9
    assert pair.to_dict()["kind"] == "semantic" and pair.to_dict()["inliers"] == pair.inliers


def test_copies_of_one_photo_form_one_group(tmp_path: Path, vopts: ValidateOptions) -> None:
    """The neighbours propose each copy's original; the group still holds every copy (the
    missing pairs inside a connected set are checked too)."""
    im = textured(2)
    save(tmp_path / "raw/c/original.jpg", jpeg(im))
    for name, edit in HASH_RESISTANT.items():
        save(tmp_path / f"raw/c/copy_{name}.jpg", jpeg(edit(im)))
    results = validate(tmp_path / "raw", vopts).results
    proposed = [Candidate(f"c/copy_{name}.jpg", "c/original.jpg", 0.8) for name in HASH_RESISTANT]
    found = search_duplicates(results, 0, verifier=GeometricVerifier(tmp_path / "raw"), semantic=proposed)
    assert [len(g.paths) for g in found.groups] == [1 + len(HASH_RESISTANT)]


def test_different_photos_proposed_by_the_embeddings_are_not_grouped(tmp_path: Path, vopts: ValidateOptions) -> None:
    for seed in range(6):
        save(tmp_path / f"raw/c/p{seed}.jpg", jpeg(textured(seed)))
        save(tmp_path / f"raw/d/scene{seed}.jpg", jpeg(same_scene(seed % 2, seed)))  # shots of two layouts
    results = validate(tmp_path / "raw", vopts).results
    everything = _all_pairs(sorted(r.rel for r in results))
    found = search_duplicates(results, verifier=GeometricVerifier(tmp_path / "raw"), semantic=everything)
    assert found.groups == [] and found.units == []


def test_semantic_candidates_need_a_verifier(vopts: ValidateOptions) -> None:
    with pytest.raises(ValueError, match="verifier"):
        search_duplicates([], semantic=[Candidate("a", "b", 1.0)])


# --- issue 26: near candidates the thumbnails barely accept -------------------------------------


def _scenes(root: Path) -> None:
    """Two shots of each of two layouts (thumbnail similarity 0.5-0.7: grouped `near` by the
    thumbnails alone), and a textured photo with a 10-degree rotated copy (a real copy)."""
    for layout in (0, 3):
        for variant in (0, 1):
            save(root / f"flowers/scene{layout}_{variant}.jpg", jpeg(same_scene(layout, variant)))
    im = textured(7)
    save(root / "flowers/photo.jpg", jpeg(im, 95))
    save(root / "flowers/photo_turned.jpg", jpeg(rotate(crop_area(im, 0.9), 5)))


def test_low_similarity_near_candidates_are_checked_geometrically(tmp_path: Path, vopts: ValidateOptions) -> None:
    _scenes(tmp_path / "raw")
    results = validate(tmp_path / "raw", vopts).results
    unchecked = search_duplicates(results).groups  # the thumbnails alone: what dataprep did before
    look_alikes = [g for g in unchecked if "flowers/scene0_0.jpg" in g.paths or "flowers/scene3_0.jpg" in g.paths]
    assert look_alikes and all(g.similarity < GEOMETRIC_BELOW for g in look_alikes)
    checked = search_duplicates(results, verifier=GeometricVerifier(tmp_path / "raw")).groups
    assert [g.paths for g in checked] == [["flowers/photo.jpg", "flowers/photo_turned.jpg"]]
    report = duplicates_report(tmp_path / "raw", validate_options=vopts)  # the command checks when OpenCV is there
    assert [g.paths for g in report.groups] == [["flowers/photo.jpg", "flowers/photo_turned.jpg"]]


def test_clean_says_what_kind_of_copy_it_removes(tmp_path: Path) -> None:
    _scenes(tmp_path / "raw")
    im = textured(8)
    save(tmp_path / "raw/flowers/exact.jpg", jpeg(im))
    save(tmp_path / "raw/flowers/exact_again.jpg", jpeg(im))
    args = ["clean", str(tmp_path / "raw"), "--duplicates", "--dry-run", "--json", "--cache-dir", str(tmp_path / "c")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["files"]
    why = {e["path"]: f["detail"] for e in files for f in e["findings"] if f["check"] == "near_duplicate"}
    assert set(why) == {"flowers/photo_turned.jpg", "flowers/exact_again.jpg"}  # no look-alike scene is removed
    assert why["flowers/exact_again.jpg"].startswith("exact copy (same bytes) of flowers/exact.jpg")
    assert why["flowers/photo_turned.jpg"].startswith("near copy (similarity 0.")


# --- the commands, end to end (real embeddings) -------------------------------------------------


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two photos with the four hash-resistant copies each (one in another class), four other
    photos, and two shots of one layout."""
    root = tmp_path_factory.mktemp("semantic") / "raw"
    for seed in (1, 2):
        im = textured(seed)
        save(root / f"cats/p{seed}.jpg", jpeg(im))
        for name, edit in HASH_RESISTANT.items():
            save(root / f"{'dogs' if name == 'rotate12' else 'cats'}/p{seed}_{name}.jpg", jpeg(edit(im)))
    for seed in range(3, 7):
        save(root / f"dogs/p{seed}.jpg", jpeg(textured(seed)))
    for variant in (0, 1):
        save(root / f"dogs/scene{variant}.jpg", jpeg(same_scene(0, variant)))
    return root


def test_duplicates_semantic_cli(planted: Path) -> None:
    pytest.importorskip("tensorflow")
    cache = planted.parent / "cache"
    result = runner.invoke(app, ["duplicates", str(planted), "--semantic", "--json", "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["semantic"] is True
    groups = sorted(sorted(m["path"] for m in g["members"]) for g in doc["groups"])
    assert groups == [
        sorted([f"cats/p{s}.jpg", *(f"{'dogs' if n == 'rotate12' else 'cats'}/p{s}_{n}.jpg" for n in HASH_RESISTANT)])
        for s in (1, 2)
    ]
    rotated = [p for g in doc["groups"] for p in g["pairs"] if "rotate12" in p["b"] + p["a"]]
    assert rotated and all(p["kind"] == "semantic" and p["inliers"] >= 25 for p in rotated)
    assert all(g["kind"] == "semantic" for g in doc["groups"])
    plain = runner.invoke(app, ["duplicates", str(planted), "--json", "--cache-dir", str(cache)])
    assert all("rotate12" not in m["path"] for g in json.loads(plain.stdout)["groups"] for m in g["members"])


def test_split_and_leakage_semantic(planted: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    cache = ["--cache-dir", str(planted.parent / "cache")]
    out = tmp_path / "out"
    result = runner.invoke(app, ["split", str(planted), str(out), "--val", "0.5", "--test", "0", "--semantic", *cache])
    assert result.exit_code == 0, result.output
    where = {p.name: p.parent.parent.name for p in out.rglob("*.jpg")}
    for seed in (1, 2):  # each photo and its copies in one split, across the two classes
        assert len({where[name] for name in where if name.startswith(f"p{seed}")}) == 1
    loose = tmp_path / "loose"
    for seed in range(4):  # without --semantic the rotated copies fall where the seed puts them
        runner.invoke(app, ["split", str(planted), str(loose), "--val", "0.5", "--test", "0", "--seed", str(seed),
                            "--force", *cache])  # fmt: skip
        where = {p.name: p.parent.parent.name for p in loose.rglob("*.jpg")}
        torn = [s for s in (1, 2) if where[f"p{s}.jpg"] != where[f"p{s}_rotate12.jpg"]]
        if torn:
            break
    assert torn, "no seed separated a rotated copy from its original"
    leaks = runner.invoke(app, ["leakage", str(loose), "--semantic", "--json", *cache])
    assert leaks.exit_code == 1, leaks.output
    names = [{Path(p).name for p in leak["paths"]} for leak in json.loads(leaks.stdout)["leaks"]]
    assert set(torn) <= {s for s in (1, 2) for leak in names if {f"p{s}.jpg", f"p{s}_rotate12.jpg"} <= leak}


def test_semantic_without_opencv_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataprep.duplicates.geometric_match as geometric

    monkeypatch.setattr(geometric, "cv2_available", lambda: False)
    save(tmp_path / "raw/c/a.jpg", jpeg(textured(1)))
    for args in (["duplicates", str(tmp_path / "raw")], ["split", str(tmp_path / "raw"), str(tmp_path / "out")]):
        result = runner.invoke(app, [*args, "--semantic"])
        assert result.exit_code == 2
        assert result.output.strip().count("\n") == 0 and "pip install 'opencv-python-headless>=4.8'" in result.output
    assert not (tmp_path / "out").exists()
