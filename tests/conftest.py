"""Shared test fixtures: the committed fixture corpus and an isolated cache per test."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
ZOO = FIXTURES / "zoo"
DEMO = FIXTURES / "demo"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own result cache, so tests never write outside their temp dirs."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


@pytest.fixture(autouse=True, scope="session")
def _from_scratch_default() -> Iterator[None]:
    """`trainer fit` without --model trains the from-scratch default in every test (module-scoped
    fixtures included), whatever weights this machine has installed; tests of the pretrained
    default delete the variable with their own monkeypatch."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATAPREP_DEFAULT_MODEL", "compact_cnn")
        yield


@pytest.fixture
def zoo_copy(tmp_path: Path) -> Path:
    """A private copy of the corrupt-file zoo that a test may clean."""
    target = tmp_path / "zoo"
    shutil.copytree(ZOO, target)
    return target


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """A private copy of the demo dataset."""
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target)
    return target


def expected_zoo_findings() -> dict[str, set[str]]:
    """The zoo's expected findings, read from the table in fixtures/README.md (the spec)."""
    text = (FIXTURES / "README.md").read_text(encoding="utf-8")
    section = text.split("### Files and expected findings", 1)[1]
    expected: dict[str, set[str]] = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([^`]+)` \|.*\| ([^|]+) \|$", line)
        if not m:
            continue
        name, cell = m.group(1), m.group(2).strip()
        checks = set() if cell in ("—", "-") else {re.sub(r"\s*\(.*\)", "", c).strip() for c in cell.split(",")}
        expected[name] = checks
    return expected


def tree_digest(root: Path) -> dict[str, bytes]:
    """Every file under root (relative POSIX path → bytes), for byte-identical comparisons."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def make_colour_split(
    root: Path, counts: dict[str, int], seed: int = 0, shape: tuple[int, int] = (32, 32), noise: float = 20.0
) -> Path:
    """A tiny learnable split folder for trainer tests: root/SPLIT/{cat,dog}/*.jpg, cats red and
    dogs blue with Gaussian noise, `counts[SPLIT]` images per class."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        for name, colour in (("cat", (220, 60, 40)), ("dog", (40, 70, 220))):
            for i in range(n):
                pixels = np.clip(np.array(colour) + rng.normal(0, noise, (*shape, 3)), 0, 255).astype("uint8")
                path = root / split / name / f"{name}{i}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(path)
    return root
