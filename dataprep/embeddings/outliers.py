"""`outliers`: images unlike the rest of their class and of the dataset, from their embeddings.

Each image's distance to the crowd is the mean cosine distance (1 − similarity) to its
``k`` nearest neighbours (`dataprep.embeddings.neighbours`): once among all images, once among the
images of its own class folder. A raw distance means nothing across datasets (a dataset of one
breed is tighter than one of all animals, and another backbone spreads vectors differently), so
each distance becomes a robust z-score against its own population: ``(d − median) / (1.4826 ·
MAD)``, the dataset's images for the dataset distance, the class's for the class distance (the
dataset's statistics stand in for a class of fewer than ``MIN_CLASS`` images). A score of 5 then
means "five typical spreads farther from its neighbours than the typical image", on any dataset.
Median and MAD instead of mean and standard deviation, so the outliers do not widen the yardstick
they are measured by; not a percentile, which would call someone the 99th percentile in a clean
dataset too.

The outlier score is the smaller of the two: an image must be unlike its class *and* unlike the
dataset. A dog filed among the cats is far from its class but near the dogs: a label issue
(`trainer label-issues`), not an outlier. A flower, a screenshot or a blank frame is far from both.
Images scoring at least ``FLAG_SCORE`` (Iglewicz and Hoaglin's cut-off for the modified z-score)
are flagged; the ranking lists the top N whatever their score.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where it is used: the CLI imports this module on every start
    import numpy as np

from dataprep.base.defaults import DEFAULT_OUTLIER_NEIGHBOURS as DEFAULT_NEIGHBOURS
from dataprep.base.defaults import DEFAULT_OUTLIERS_TOP as DEFAULT_TOP
from dataprep.base.defaults import OUTLIER_FLAG_SCORE as FLAG_SCORE
from dataprep.base.errors import DataprepError

OUTLIERS_VERSION = 1
MIN_CLASS = 20  # smaller classes are measured against the dataset's statistics
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution × this = its standard deviation


@dataclass(frozen=True)
class Outlier:
    rank: int
    path: str
    label: str
    score: float  # min(dataset_score, class_score)
    dataset_score: float
    class_score: float
    nearest: str  # the most similar other image
    nearest_similarity: float
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "path": self.path, "label": self.label, "score": round(self.score, 3),
            "dataset_score": round(self.dataset_score, 3), "class_score": round(self.class_score, 3),
            "nearest": self.nearest, "nearest_similarity": round(self.nearest_similarity, 4), "sha256": self.sha256,
        }  # fmt: skip


@dataclass
class OutliersResult:
    root: Path
    images: int
    neighbours: int
    flagged: int  # images scoring at least FLAG_SCORE
    outliers: list[Outlier]  # the top N, highest score first
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": OUTLIERS_VERSION, "root": str(self.root), "images": self.images, "neighbours": self.neighbours,
            "flag_score": FLAG_SCORE, "flagged": self.flagged, "outliers": [o.to_dict() for o in self.outliers],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }  # fmt: skip


@dataclass(frozen=True)
class OutlierScores:
    score: np.ndarray
    dataset_score: np.ndarray
    class_score: np.ndarray
    nearest: np.ndarray  # index of each image's most similar other image
    nearest_similarity: np.ndarray


def robust_z(values: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """(values − median) / (1.4826 · MAD) of `reference` (default: `values` themselves)."""
    import numpy as np

    ref = values if reference is None else reference
    median = float(np.median(ref))
    mad = float(np.median(np.abs(ref - median))) * MAD_TO_SIGMA
    if mad <= 1e-12:  # more than half the images at one distance (copies): the mean deviation instead
        mad = float(np.mean(np.abs(ref - median))) * MAD_TO_SIGMA or 1e-12
    return (values - median) / mad


def score_outliers(vectors: np.ndarray, labels: Sequence[str], k: int = DEFAULT_NEIGHBOURS) -> OutlierScores:
    """Outlier scores of unit `vectors` whose class folders are `labels` (see the module docstring)."""
    import numpy as np

    from dataprep.embeddings.neighbours import nearest_neighbours

    n = len(labels)
    if n < 3:
        raise DataprepError(f"{n} image(s) found; outliers need at least 3 to compare (expected a folder of images)")
    found, sims = nearest_neighbours(vectors, k)
    distance = 1.0 - sims.astype(np.float64).mean(axis=1)
    dataset_score = robust_z(distance)
    class_score = np.empty(n, dtype=np.float64)
    names = np.asarray(labels, dtype=object)
    for label in sorted(set(labels)):
        members = np.flatnonzero(names == label)
        if len(members) < 2:
            class_score[members] = dataset_score[members]
            continue
        _, class_sims = nearest_neighbours(vectors[members], k)
        class_distance = 1.0 - class_sims.astype(np.float64).mean(axis=1)
        reference = class_distance if len(members) >= MIN_CLASS else distance
        class_score[members] = robust_z(class_distance, reference)
    return OutlierScores(
        score=np.minimum(dataset_score, class_score), dataset_score=dataset_score, class_score=class_score,
        nearest=found[:, 0], nearest_similarity=sims[:, 0].astype(np.float64),
    )  # fmt: skip


def find_outliers(
    root: str | os.PathLike[str],
    *,
    top: int = DEFAULT_TOP,
    neighbours: int = DEFAULT_NEIGHBOURS,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
    phase: Callable[[str], None] | None = None,
) -> OutliersResult:
    """Rank the images under `root` by outlier score from their (cached) embeddings."""
    import numpy as np

    from dataprep.base.journal import sha256_file
    from dataprep.embeddings.embed import embed_folder
    from dataprep.inspection.scan import require_directory

    if top < 1 or neighbours < 1:
        raise DataprepError(f"--top {top} and --neighbours {neighbours} must be at least 1")
    emb = embed_folder(
        require_directory(root), cache_dir=cache_dir, use_cache=use_cache, progress=progress, phase=phase
    )
    scores = score_outliers(emb.vectors, emb.labels, neighbours)
    order = np.lexsort((np.arange(len(emb.paths)), -scores.score))[:top]
    outliers = [
        Outlier(rank=r + 1, path=emb.paths[i], label=emb.labels[i], score=float(scores.score[i]),
                dataset_score=float(scores.dataset_score[i]), class_score=float(scores.class_score[i]),
                nearest=emb.paths[int(scores.nearest[i])], nearest_similarity=float(scores.nearest_similarity[i]),
                sha256=sha256_file(emb.root / emb.paths[i]))
        for r, i in enumerate(order.tolist())
    ]  # fmt: skip
    return OutliersResult(
        root=emb.root, images=len(emb.paths), neighbours=neighbours,
        flagged=int((scores.score >= FLAG_SCORE).sum()), outliers=outliers, skipped=list(emb.skipped),
    )  # fmt: skip


def read_outliers(path: str | os.PathLike[str]) -> list[Any]:
    """The ranked outliers of a `dataprep outliers --json` file, as the suspects `clean` quarantines."""
    from dataprep.actions.relabel import OUTLIER, Suspect

    file = Path(path).expanduser()
    expected = "the JSON that 'dataprep outliers DIR --json' printed"
    if not file.is_file():
        raise DataprepError(f"no such file: '{path}' (expected {expected}); check the path")
    try:
        rows = json.loads(file.read_text(encoding="utf-8"))["outliers"]
        suspects = [
            Suspect(int(r["rank"]), str(r["path"]), str(r["label"]), "", float(r["score"]),
                    str(r["sha256"]) if r.get("sha256") else None, kind=OUTLIER)
            for r in rows
        ]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataprepError(f"cannot read '{path}' ({type(err).__name__}: {err}); expected {expected}") from None
    return sorted(suspects, key=lambda s: s.rank)


def plot_outliers(result: OutliersResult, path: Path, columns: int = 5, side: int = 180) -> Path:
    """The top outliers as a grid, each captioned with its rank, class, score and file name."""
    from PIL import Image, ImageDraw

    from dataprep.base.image_view import paste_view, save_sheet

    shown = result.outliers
    cols = max(1, min(columns, len(shown)))
    rows = max(1, (len(shown) + cols - 1) // cols)
    caption, pad, header = 30, 8, 26
    sheet = Image.new("RGB", (max(cols * (side + pad) + pad, 480), header + rows * (side + caption + pad)), "white")
    draw = ImageDraw.Draw(sheet)
    title = f"{len(shown)} most unusual of {result.images} images in {result.root} (score = robust z of neighbour distance; flagged >= {FLAG_SCORE}: {result.flagged})"
    draw.text((pad, 6), title, fill="black")
    for i, o in enumerate(shown):
        x, y = pad + (i % cols) * (side + pad), header + (i // cols) * (side + caption + pad)
        paste_view(sheet, draw, result.root / o.path, (x, y), side)
        colour = "red" if o.score >= FLAG_SCORE else "blue"
        draw.text((x, y + side + 2), f"#{o.rank} {o.label[:14]}  score {o.score:.1f}", fill=colour)
        draw.text((x, y + side + 15), Path(o.path).name[:28], fill="black")
    return save_sheet(sheet, path)
