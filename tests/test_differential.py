"""The proof that validate's single decode gives TensorFlow's exact verdict.

validate asks TensorFlow only about files the single decode cannot settle (dataprep/inspection/checks/
sample.py). Here the real decoders judge every file as well: TensorFlow's `decode_full` (what
validation's contract names) and the training pipeline's `decode_image` at a typical image size
(so a pipeline tuned for speed cannot drift from validation), and Pillow's full decode. Over
the fixture zoo, the regression corpus and fresh fuzzed mutants of photo-like JPEGs and PNGs
(truncations, bit flips, inserted, deleted, zeroed and spliced runs, swapped magic numbers,
absurd dimensions; baseline, progressive, grayscale, CMYK, 4:4:4, restart-marker variants),
validate's verdicts and the decoders' must be identical: the same files rejected, and no libjpeg
warning from TensorFlow on a file the single decode settled. A disagreement found here becomes
a regression fixture (fixtures/regressions/) and moves that class of file to TensorFlow.

CI-sized by default; `-m slow` runs the full batch.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fuzz
import photos
import pytest
from conftest import FIXTURES, ZOO
from PIL import Image

from dataprep.base.tensorflow_runtime import (
    TF_LOG_LINE,
    CapturedStderr,
    import_tensorflow,
    tf_error_message,
)
from dataprep.inspection.checks import CheckOptions, Sample

PIPELINE_SIZE = 224  # a typical training image size: the pipeline takes its DCT-scaled branches on big JPEGs
OPTIONS = CheckOptions(image_properties=False)


def photo_seeds() -> dict[str, bytes]:
    """Photo-like images (smooth gradients, shapes, sensor noise) in the encodings validate meets."""
    seeds: dict[str, bytes] = {}
    for i, size in enumerate(((320, 240), (203, 517), (640, 480))):
        im = photos.photo(100 + i, size)
        variants: dict[str, tuple[Image.Image, dict[str, object]]] = {
            "baseline.jpg": (im, {"quality": 90}),
            "progressive.jpg": (im, {"quality": 85, "progressive": True}),
            "optimized444.jpg": (im, {"quality": 95, "subsampling": 0, "optimize": True}),
            "restarts.jpg": (im, {"quality": 80, "restart_marker_blocks": 4}),
            "gray.jpg": (im.convert("L"), {"quality": 90}),
            "cmyk.jpg": (im.convert("CMYK"), {"quality": 90}),
            "rgb.png": (im, {}),
        }
        for name, (image, params) in variants.items():
            buf = io.BytesIO()
            image.save(buf, "PNG" if name.endswith(".png") else "JPEG", **params)  # type: ignore[arg-type]
            seeds[f"photo{i}_{name}"] = buf.getvalue()
    return seeds


def splice_run(data: bytes, rng: random.Random) -> bytes:
    """A run of the file copied over another place in it (a bad sector remapped, a botched copy)."""
    if len(data) < 4:
        return data
    k = rng.choice((2, 16, 100, 1000))
    src, dst = rng.randrange(len(data)), rng.randrange(len(data))
    run = data[src : src + k]
    return data[:dst] + run + data[dst + len(run) :]


MUTATORS = {**fuzz.MUTATORS, "splice_run": splice_run}


def mutants(count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """`count` mutants, half of them of photo-like JPEGs, cycling through the seed images."""
    seeds = {**photo_seeds(), **fuzz.seed_images()}
    names = sorted(seeds)
    rng = random.Random(seed)
    for i in range(count):
        name = names[i % len(names)]
        data = seeds[name]
        how = [rng.choice(sorted(MUTATORS)) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        for mutator in how:
            data = MUTATORS[mutator](data, rng)
        yield f"{i:05d}-{'+'.join(how)}-{name}", data


def corpus_files() -> Iterator[tuple[str, bytes]]:
    for path in sorted((ZOO / "zoo").iterdir()):
        yield f"zoo/{path.name}", path.read_bytes()
    for path in sorted((FIXTURES / "regressions").iterdir()):
        if path.name != "README.md":
            yield f"regressions/{path.name}", path.read_bytes()
    yield from photo_seeds().items()


@dataclass
class Verdicts:
    name: str
    settled: bool  # validate did not ask TensorFlow
    validate_rejects: bool  # validate's tf_decode verdict
    tf_rejects: bool  # TensorFlow's decode_full, asked here
    tf_warnings: list[str]  # what libjpeg wrote while TensorFlow decoded
    pipeline_rejects: bool  # the training pipeline's decode_image at PIPELINE_SIZE
    validate_pillow_rejects: bool
    pillow_rejects: bool


def judge(name: str, data: bytes, tmp: Path) -> Verdicts | None:
    """Every verdict on one file; None for files no decoder is handed (empty, no image, bombs)."""
    from dataprep.base.tf_decode import decode_full, decode_image

    path = tmp / name.replace("/", "_")
    sample = Sample(path, name, OPTIONS, data=data)
    verdict = sample.tensorflow
    if verdict.skipped is not None:
        return None
    tf = import_tensorflow()
    with CapturedStderr() as captured:
        try:
            decode_full(tf.constant(data)).numpy()
            tf_error = None
        except (tf.errors.OpError, ValueError) as err:
            tf_error = tf_error_message(err)
    with CapturedStderr():  # the same libjpeg lines again: keep them off the test's output
        try:
            decode_image(tf.constant(data), PIPELINE_SIZE).numpy()
            pipeline_rejects = False
        except (tf.errors.OpError, ValueError):
            pipeline_rejects = True
    return Verdicts(
        name=name,
        settled=verdict.settled is not None,
        validate_rejects=verdict.error is not None,
        tf_rejects=tf_error is not None,
        tf_warnings=[ln for ln in captured.lines if not TF_LOG_LINE.match(ln)],
        pipeline_rejects=pipeline_rejects,
        validate_pillow_rejects=sample.pillow.error is not None,
        pillow_rejects=_pillow_rejects(data),
    )


def _pillow_rejects(data: bytes) -> bool:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                im.load()
    except Exception:
        return True
    return False


def disagreements(files: Iterator[tuple[str, bytes]], tmp: Path) -> tuple[list[str], list[Verdicts]]:
    problems: list[str] = []
    judged: list[Verdicts] = []
    for name, data in files:
        v = judge(name, data, tmp)
        if v is None:
            continue
        judged.append(v)
        if v.validate_rejects != v.tf_rejects:
            problems.append(f"{name}: validate says rejects={v.validate_rejects}, decode_full {v.tf_rejects}")
        if v.pipeline_rejects != v.tf_rejects:
            problems.append(f"{name}: pipeline decode_image rejects={v.pipeline_rejects}, decode_full {v.tf_rejects}")
        if v.settled and v.tf_warnings:
            problems.append(f"{name}: settled without TensorFlow, but TensorFlow's libjpeg warned: {v.tf_warnings}")
        if v.validate_pillow_rejects != v.pillow_rejects:
            problems.append(f"{name}: validate: Pillow rejects={v.validate_pillow_rejects}; Pillow: {v.pillow_rejects}")
    return problems, judged


def test_fixtures_and_photos_get_tensorflows_verdict(tmp_path: Path) -> None:
    problems, judged = disagreements(corpus_files(), tmp_path)
    assert not problems, "\n".join(problems)
    by_name = {v.name: v for v in judged}
    # The zoo's clean JPEGs are settled without TensorFlow; its damaged and special ones are not.
    assert by_name["zoo/valid_baseline.jpg"].settled and by_name["zoo/valid_progressive.jpg"].settled
    assert by_name["zoo/grayscale.jpg"].settled and by_name["photo0_restarts.jpg"].settled
    unsettled = ("zoo/truncated_half.jpg", "zoo/extraneous_bytes.jpg", "zoo/cmyk.jpg", "zoo/valid.png")
    for name in (*unsettled, "photo0_cmyk.jpg"):
        assert not by_name[name].settled, name


def _check_mutants(count: int, seed: int, tmp: Path) -> None:
    problems, judged = disagreements(mutants(count, seed), tmp)
    assert not problems, "\n".join(problems)
    settled = sum(v.settled for v in judged)
    rejected = sum(v.tf_rejects for v in judged)
    # Not vacuous: some mutants still decode cleanly and are settled, many are rejected.
    assert settled >= count // 20 and rejected >= count // 5, (settled, rejected, len(judged))


def test_fuzzed_mutants_get_tensorflows_verdict(tmp_path: Path) -> None:
    _check_mutants(400, seed=12, tmp=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_many_fuzzed_mutants_get_tensorflows_verdict(tmp_path: Path, seed: int) -> None:
    _check_mutants(4000, seed=1000 + seed, tmp=tmp_path)
