"""`embed`: one L2-normalised vector per image of a folder, from the pretrained backbone, cached.

This is the one place embeddings are made; label issues, outliers and look-alike duplicates read
them. Files that validate calls errors (and junk) are skipped and listed, so the vectors cover
exactly the images training would use. Each vector is cached per file (path, size, mtime_ns,
the network's weights digest, the image size): a second run over unchanged files computes
nothing and does not even build the network. Batches are decoded on threads while the network
runs on the previous one; every finished batch goes to the cache at once, so Ctrl-C keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.base.defaults import DEFAULT_BATCH_SIZE, DEFAULT_EMBED_SIZE, DEFAULT_ENGINE
from dataprep.base.errors import DataprepError, Interrupted
from dataprep.base.findings import Severity
from dataprep.base.journal import atomic_file
from dataprep.embeddings.backbone import BACKBONE, EMBEDDING_DIM, MIN_IMAGE_SIZE, resolve_weights, weights_digest
from dataprep.embeddings.embedder import BatchEmbedder, BatchResult
from dataprep.embeddings.vector_cache import VectorCache, vector_key
from dataprep.inspection.local_engine import InterruptHook, interrupts_as_keyboard_interrupt
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import FileRecord, Scan, natural_key, no_images_message, scan_dataset, split_role
from dataprep.inspection.validate import ValidateOptions, inspect_scan
from dataprep.split.manifest import link_targets

EMBEDDINGS_VERSION = 1
ProgressFn = Callable[[int, int], None]
CHECKING = "checking files"  # the passes `phase` names
EMBEDDING = "computing vectors"


@dataclass(frozen=True)
class Embeddings:
    """The vectors of a folder's images, row i for `paths[i]` (relative to `root`, POSIX)."""

    root: Path
    paths: list[str]
    labels: list[str]  # the class folder of each image
    splits: list[str | None]  # its split's role (train, val, test), None in a raw folder
    vectors: np.ndarray  # (n, d) float32, each row of unit length
    model: str
    weights_digest: str
    image_size: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why): not embedded
    computed: int = 0  # vectors computed by this run (the rest came from the cache)
    cached: int = 0

    def summary(self) -> dict[str, Any]:
        """Everything but the vectors, for `--json` and the console."""
        return {
            "version": EMBEDDINGS_VERSION, "root": str(self.root), "model": self.model,
            "weights_digest": self.weights_digest, "image_size": self.image_size, "images": len(self.paths),
            "dim": int(self.vectors.shape[1]), "computed": self.computed, "cached": self.cached,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }  # fmt: skip


def embed_folder(
    root: Path,
    *,
    image_size: int = DEFAULT_EMBED_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    weights: str = "imagenet",
    cache_dir: Path | None = None,
    use_cache: bool = True,
    layout: str | None = None,
    engine: str = DEFAULT_ENGINE,
    ray_address: str | None = None,
    progress: ProgressFn | None = None,
    phase: Callable[[str], None] | None = None,
) -> Embeddings:
    """One L2-normalised backbone vector per image under `root` that validate finds no error in.

    `progress(done, total)` is called as validate inspects files and again as batches finish;
    `phase(name)` is told before each of the two passes (CHECKING, then EMBEDDING when some
    vector is not cached), so one progress display can say which pass it counts.
    Ctrl-C or SIGTERM: `Interrupted`, with every finished batch in the cache."""
    if image_size < MIN_IMAGE_SIZE:
        raise DataprepError(
            f"--image-size {image_size} is too small for {BACKBONE} (expected at least {MIN_IMAGE_SIZE}); "
            f"pass --image-size {DEFAULT_EMBED_SIZE}"
        )
    digest = weights_digest(resolve_weights(BACKBONE, weights))  # missing weights: one line before any work
    scan = scan_dataset(root, layout, link_targets(root))
    if not scan.images:
        raise DataprepError(no_images_message(scan, root))
    vopts = ValidateOptions(
        cache_dir=cache_dir, use_cache=use_cache, engine=engine, ray_address=ray_address, progress=progress,
        layout=layout,
    )  # fmt: skip
    announce = phase or (lambda _name: None)
    with _engine_session(engine, ray_address):  # one Ray session for validate and the embedding
        announce(CHECKING)
        results, _, _ = inspect_scan(scan, vopts)
        usable, skipped = usable_images(scan, results)
        cache = VectorCache(cache_dir, vector_key(BACKBONE, digest, image_size)) if use_cache else None
        try:
            known = cache.lookup(usable) if cache else {}
            todo = [r for r in usable if r.rel not in known]
            if todo:
                announce(EMBEDDING)
            fresh, failed = _embed_todo(todo, image_size, batch_size, weights, cache, engine, ray_address, progress)
        finally:
            if cache:
                cache.close()
    vectors = {**known, **fresh}
    done = [r for r in usable if r.rel in vectors]
    skipped = sorted(skipped + failed, key=lambda s: natural_key(s[0]))
    return Embeddings(
        root=scan.root, paths=[r.rel for r in done], labels=[r.label or "" for r in done],
        splits=[split_role(r.split) if r.split else None for r in done],
        vectors=_stack(vectors[r.rel] for r in done), model=BACKBONE, weights_digest=digest, image_size=image_size,
        skipped=skipped, computed=len(fresh), cached=len(known),
    )  # fmt: skip


def _engine_session(engine: str, ray_address: str | None) -> AbstractContextManager[Any]:
    """With `--engine ray`: one Ray for validate's inspection and the embedding, started at the
    first file to inspect or batch to embed (a run served from the caches starts none)."""
    if engine != "ray":
        return nullcontext()
    from dataprep.inspection.ray_engine import lazy_ray_session

    return lazy_ray_session(ray_address)


def usable_images(scan: Scan, results: Sequence[FileResult]) -> tuple[list[FileRecord], list[tuple[str, str]]]:
    """The images validate finds no error in, and (path, why) for the files left out: errors
    (the first one's check and detail) and junk."""
    by_rel = {r.rel: r for r in results}
    usable: list[FileRecord] = []
    skipped = [(r.rel, f"junk_file: {scan.junk_reason(r)}") for r in scan.junk]
    for rec in scan.images:
        errors = [f for f in by_rel[rec.rel].findings if f.severity is Severity.ERROR]
        if errors:
            skipped.append((rec.rel, f"{errors[0].check}: {errors[0].detail}"))
        else:
            usable.append(rec)
    return usable, skipped


def _stack(rows: Iterator[np.ndarray]) -> np.ndarray:
    listed = list(rows)
    if not listed:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    return np.stack(listed).astype(np.float32, copy=False)


def _embed_todo(
    todo: list[FileRecord],
    image_size: int,
    batch_size: int,
    weights: str,
    cache: VectorCache | None,
    engine: str,
    ray_address: str | None,
    progress: ProgressFn | None,
) -> tuple[dict[str, np.ndarray], list[tuple[str, str]]]:
    """Vectors for `todo` by rel, and (rel, why) for the files that did not decode; each batch
    goes to the cache as it finishes. Builds no network when there is nothing to do."""
    fresh: dict[str, np.ndarray] = {}
    failed: list[tuple[str, str]] = []
    if not todo:
        return fresh, failed
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    hook = InterruptHook()
    try:
        with interrupts_as_keyboard_interrupt():
            for batch, (done, bad) in _batch_stream(batches, image_size, weights, engine, ray_address):
                rows = [(batch[i], vec) for i, vec in done]
                fresh.update((rec.rel, vec) for rec, vec in rows)
                failed.extend((batch[i].rel, why) for i, why in bad)
                if cache:
                    cache.store(rows)
                if progress is not None:
                    progress(len(fresh) + len(failed), len(todo))
                hook.tick()
    except KeyboardInterrupt:
        kept = f"{len(fresh)} vectors cached" if cache else "nothing cached (--no-cache)"
        raise Interrupted(
            f"stopped after embedding {len(fresh) + len(failed)} of {len(todo)} images ({kept}); "
            "re-run the same command to go on from there"
        ) from None
    return fresh, failed


def _batch_stream(
    batches: list[list[FileRecord]], image_size: int, weights: str, engine: str, ray_address: str | None
) -> Iterator[tuple[list[FileRecord], BatchResult]]:
    if engine == "ray":
        from dataprep.embeddings.ray_embed import ray_batches

        yield from ray_batches(batches, image_size, weights, ray_address)
        return
    embedder = BatchEmbedder(image_size, weights)
    yield from zip(batches, embedder.stream([[r.path for r in b] for b in batches]))


# --- the .npz file ----------------------------------------------------------------------------


def save_embeddings(emb: Embeddings, path: Path) -> None:
    """Write `emb` to an .npz (atomically): 1-D `paths`, 2-D `vectors`, and what made them."""
    arrays = {
        "version": np.array(EMBEDDINGS_VERSION), "root": np.array(str(emb.root)),
        "paths": np.array(emb.paths, dtype=str), "vectors": emb.vectors.astype(np.float32, copy=False),
        "labels": np.array(emb.labels, dtype=str), "splits": np.array([s or "" for s in emb.splits], dtype=str),
        "model": np.array(emb.model), "weights_digest": np.array(emb.weights_digest),
        "image_size": np.array(emb.image_size),
        "skipped_paths": np.array([p for p, _ in emb.skipped], dtype=str),
        "skipped_reasons": np.array([r for _, r in emb.skipped], dtype=str),
    }  # fmt: skip
    with atomic_file(path) as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def load_embeddings(path: Path) -> Embeddings:
    """Read an .npz written by `save_embeddings`; anything else is one line."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "version" not in data or int(data["version"]) != EMBEDDINGS_VERSION:
                raise ValueError(f"no embeddings version {EMBEDDINGS_VERSION}")
            paths = [str(p) for p in data["paths"]]
            return Embeddings(
                root=Path(str(data["root"])), paths=paths, labels=[str(x) for x in data["labels"]],
                splits=[str(s) or None for s in data["splits"]], vectors=np.asarray(data["vectors"], np.float32),
                model=str(data["model"]), weights_digest=str(data["weights_digest"]),
                image_size=int(data["image_size"]),
                skipped=[(str(p), str(r)) for p, r in zip(data["skipped_paths"], data["skipped_reasons"])],
            )  # fmt: skip
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise DataprepError(
            f"cannot read embeddings from '{path}' ({err}); expected an .npz written by `dataprep embed`; "
            "run dataprep embed DIR --out FILE.npz"
        ) from None
