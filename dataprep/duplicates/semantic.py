"""Look-alike duplicates (`duplicates --semantic`): embedding neighbours propose, local features decide.

A perceptual hash does not survive a 30 % crop, a 12 degree rotation or a grey copy of a crop; a
pretrained network's embedding does, but it cannot tell a copy from another photo of the same kind
of thing (measured on flower photos: edited copies score 0.76-0.95 cosine similarity to their
original, while 444 pairs of *different* photos of one kind of flower score 0.90 or more). So the
embeddings only propose: each image's `DEFAULT_NEIGHBOURS` nearest neighbours (blocked search,
memory bounded whatever the dataset's size: `dataprep.embeddings.neighbours`) that reach
`COSINE_FLOOR` are candidates, and the geometric verifier (`dataprep.duplicates.geometric_match`: SIFT
keypoints under one RANSAC similarity transform) decides; `dataprep.duplicates.search` groups what it
accepts as `semantic` pairs beside the hash-found ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from dataprep.inspection.validate import ValidateOptions

DEFAULT_NEIGHBOURS = 5  # candidates per image: a photo rarely has more copies than this that the hashes miss
COSINE_FLOOR = 0.7  # below this embedding similarity a pair is not checked (edited copies: 0.76 and up)


@dataclass(frozen=True)
class Candidate:
    """Two files whose embeddings are close: `a` before `b` in the order given."""

    a: str
    b: str
    cosine: float


def candidate_pairs(
    paths: Sequence[str], vectors: np.ndarray, k: int = DEFAULT_NEIGHBOURS, floor: float = COSINE_FLOOR
) -> list[Candidate]:
    """Each file's `k` nearest neighbours by cosine similarity (rows of `vectors`, L2-normalised,
    in the order of `paths`) that reach `floor`, each pair once, in a deterministic order:
    by the first file, then the second."""
    from dataprep.duplicates.ray_pairs import nearest_pairs  # embeddings.neighbours' search, on Ray with --engine ray

    if len(paths) != len(vectors):
        raise ValueError(f"{len(paths)} paths but {len(vectors)} vectors")
    if len(paths) < 2:
        return []
    indices, similarities = nearest_pairs(vectors, k)
    best: dict[tuple[int, int], float] = {}
    for i, (row, sims) in enumerate(zip(indices.tolist(), similarities.tolist(), strict=True)):
        for j, s in zip(row, sims, strict=True):
            if j < 0 or j == i or s < floor:
                continue
            pair = (min(i, j), max(i, j))
            best[pair] = max(best.get(pair, -1.0), float(s))
    return [Candidate(paths[i], paths[j], s) for (i, j), s in sorted(best.items())]


def embedding_candidates(
    root: Path, options: ValidateOptions | None = None, k: int = DEFAULT_NEIGHBOURS, floor: float = COSINE_FLOOR
) -> list[Candidate]:
    """Embed every image of `root` (cached per file: a second run computes nothing; the cache,
    engine, layout and progress of `options`) and return the candidate pairs among them. Needs
    TensorFlow and the backbone's weights (a one-line error names the install command)."""
    from dataprep.embeddings.embed import embed_folder
    from dataprep.inspection.validate import ValidateOptions

    o = options or ValidateOptions()
    emb = embed_folder(
        root, cache_dir=o.cache_dir, use_cache=o.use_cache, layout=o.layout, engine=o.engine,
        ray_address=o.ray_address, progress=o.progress,
    )  # fmt: skip
    from dataprep.duplicates.ray_pairs import pair_search_engine

    with pair_search_engine(o):  # --engine ray: the neighbour search's parts on Ray (dataprep.duplicates.ray_pairs)
        return candidate_pairs(emb.paths, emb.vectors, k, floor)
