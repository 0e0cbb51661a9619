"""The duplicate pair searches on a Ray cluster (`--engine ray`): their parts run as Ray tasks and
are merged on the driver into exactly what the search on this machine returns.

`HashIndex.query` and `HashIndex.pairs_within` split into K independent parts (consecutive ranges
of the queries). The driver builds the index's tables once and puts the index in Ray's object
store, where the workers of a node share it without a copy; each task searches one part. Each
part's pairs come back sorted and the parts' ranges follow each other, so the parts concatenated
in order are the local result, array for array. A task lost with its node is run again by Ray
(`TASK_RETRIES`): a lost node changes nothing.

The look-alike search of `--semantic` (each embedding's nearest neighbours, exact blocked brute
force: `embeddings.neighbours`) splits the same way, into runs of whole blocks of rows
(`nearest_neighbours_part`), with the vectors in the object store: the same neighbours, each
similarity equal but for its last bit (BLAS sums with one thread in a Ray task).

Where it runs: `pair_search_engine(options)` (the hooks in `duplicates.search_folder`, which
duplicates, leakage, split and clean call, and `semantic_duplicates.embedding_candidates`) marks a
search made for an `--engine ray` command; `query_pairs` then sends it to Ray when it has at
least `MIN_RAY_QUERIES` queries and `nearest_pairs` when it has `MIN_RAY_VECTORS` vectors (fewer
take seconds here, less than starting Ray), in the command's Ray session or, when it has none,
its own. Beyond `BRUTE_FORCE_LIMIT` vectors the neighbours come from faiss' graph, on the driver.
`parts_on_engine` does the same for any search whose parts are independent (`search.part(k)`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataprep.base.errors import DataprepError
from dataprep.duplicates.hash_index import HashIndex

if TYPE_CHECKING:
    import numpy as np

    from dataprep.inspection.validate_files import ValidateOptions

PARTS_PER_CPU = 4  # parts per worker CPU: a part's cost varies by ~25%, and a free CPU takes the next
MIN_RAY_QUERIES = 200_000  # 11 queries a photo: about 18k photos, a search of ~5 s on one core
MIN_RAY_VECTORS = 20_000  # 20k x 20k x 1280 multiply-adds: ~25 s on one core
TASK_RETRIES = 3  # runs of a part whose worker or node died, after the first


@dataclass(frozen=True)
class _OnRay:
    address: str | None
    cpus: int | None


_ON_RAY: ContextVar[_OnRay | None] = ContextVar("dataprep_pair_search_on_ray", default=None)


@contextmanager
def pair_search_engine(options: ValidateOptions | None) -> Iterator[None]:
    """The pair searches inside run on the engine `options` name (Ray for `--engine ray`)."""
    if options is None or options.engine != "ray":
        yield
        return
    token = _ON_RAY.set(_OnRay(options.ray_address, options.jobs or None))
    try:
        yield
    finally:
        _ON_RAY.reset(token)


def query_pairs(
    values: Sequence[int] | np.ndarray, queries: Sequence[int] | np.ndarray, threshold: int
) -> tuple[np.ndarray, np.ndarray]:
    """`HashIndex(values).query(queries, threshold)`: on Ray inside `pair_search_engine` of an
    `--engine ray` command when there are at least `MIN_RAY_QUERIES` queries, else here."""
    index = HashIndex(values)
    on_ray = _ON_RAY.get()
    if on_ray is None or len(queries) < MIN_RAY_QUERIES:
        return index.query(queries, threshold)
    from dataprep.inspection.ray_engine import ray_session

    with ray_session(on_ray.address, on_ray.cpus) as ray:
        return ray_query(ray, index, queries, threshold)


def parts_on_engine(search: Any, parts: int, queries: int) -> Iterator[Any]:
    """`search.part(k)` for k in range(parts), for a search whose parts are independent and whose
    arrays pickle (the duplicate search's parts of `PART_IMAGES` images): here, in order; or,
    inside `pair_search_engine` of an `--engine ray` command with at least `MIN_RAY_QUERIES`
    `queries` in all, as Ray tasks on the one copy of `search` in the object store, in the order
    they finish. Build what the parts share first (`HashIndex.prepare`): no task builds it again."""
    on_ray = _ON_RAY.get()
    if on_ray is None or queries < MIN_RAY_QUERIES:
        for k in range(parts):
            yield search.part(k)
        return
    from dataprep.inspection.ray_engine import ray_session

    with ray_session(on_ray.address, on_ray.cpus) as ray:
        for _, block in _run_parts(ray, _part_of, (ray.put(search),), parts):
            yield block


def _part_of(search: Any, part: tuple[int, int]) -> Any:
    return search.part(part[0])


def nearest_pairs(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`embeddings.neighbours.nearest_neighbours(vectors, k)`: on Ray inside `pair_search_engine`
    of an `--engine ray` command when there are at least `MIN_RAY_VECTORS` vectors and the exact
    search is the one it makes (up to `BRUTE_FORCE_LIMIT`, or without faiss), else here."""
    from dataprep.embeddings.neighbours import BRUTE_FORCE_LIMIT, faiss_available, nearest_neighbours

    on_ray = _ON_RAY.get()
    if on_ray is None or len(vectors) < MIN_RAY_VECTORS or (len(vectors) > BRUTE_FORCE_LIMIT and faiss_available()):
        return nearest_neighbours(vectors, k)
    from dataprep.inspection.ray_engine import ray_session

    with ray_session(on_ray.address, on_ray.cpus) as ray:
        return ray_nearest_neighbours(ray, vectors, k)


def ray_nearest_neighbours(
    ray: Any, vectors: np.ndarray, k: int, parts: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The exact `nearest_neighbours(vectors, k, method="brute")`, its runs of blocks searched by Ray
    tasks: the same neighbours; a similarity may differ in its last bit (BLAS sums a product with as
    many threads as the process has, one in a Ray task)."""
    import numpy as np

    from dataprep.embeddings.neighbours import nearest_neighbours_part

    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    found = dict(_run_parts(ray, nearest_neighbours_part, (ray.put(matrix), k), parts))
    return tuple(np.concatenate([found[p][c] for p in sorted(found)]) for c in range(2))  # type: ignore[return-value]


def ray_query(
    ray: Any, index: HashIndex, queries: Sequence[int] | np.ndarray, threshold: int, parts: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`index.query(queries, threshold)`, its parts searched by Ray tasks."""
    import numpy as np

    q = np.asarray(queries, dtype=np.uint64) if isinstance(queries, np.ndarray) else _uint64(queries)
    found = dict(part_results(ray, index, threshold, q, parts))
    return tuple(np.concatenate([found[k][c] for k in sorted(found)]) for c in range(2))  # type: ignore[return-value]


def ray_pairs_within(
    ray: Any, index: HashIndex, threshold: int, parts: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`index.pairs_within(threshold)`, its parts searched by Ray tasks."""
    import numpy as np

    found = dict(part_results(ray, index, threshold, None, parts))
    return tuple(np.concatenate([found[k][c] for k in sorted(found)]) for c in range(3))  # type: ignore[return-value]


def part_results(
    ray: Any, index: HashIndex, threshold: int, queries: np.ndarray | None = None, parts: int | None = None
) -> Iterator[tuple[int, tuple[np.ndarray, ...]]]:
    """(k, part k's result) for each of `parts` parts (default `PARTS_PER_CPU` per CPU of the
    cluster) in the order they finish: `index.query(queries, ..., part=(k, parts))`, or
    `index.pairs_within(..., part=(k, parts))` without queries. Tasks still running when the
    caller stops (Ctrl-C) are cancelled."""
    index_ref = ray.put(index.prepare(threshold))  # the tables built once, here
    queries_ref = None if queries is None else ray.put(queries)
    return _run_parts(ray, search_part, (index_ref, queries_ref, threshold), parts)


def _run_parts(
    ray: Any, search: Callable[..., tuple[np.ndarray, ...]], args: tuple[Any, ...], parts: int | None
) -> Iterator[tuple[int, tuple[np.ndarray, ...]]]:
    """(k, search(*args, (k, K))) for each of K parts, as Ray tasks, in the order they finish."""
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if cpus < 1:
        raise DataprepError(
            "the Ray cluster has no CPU for the duplicate search (0 CPUs); "
            "add worker nodes with `ray start --address HEAD:PORT`, or use --engine local"
        )
    count = max(1, parts or PARTS_PER_CPU * cpus)
    task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(search)
    part_of = {task.remote(*args, (k, count)): k for k in range(count)}
    pending = list(part_of)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield part_of[ref], _get(ray, ref)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def search_part(
    index: HashIndex, queries: np.ndarray | None, threshold: int, part: tuple[int, int]
) -> tuple[np.ndarray, ...]:
    """One part of the search, on a Ray worker (the index mapped from the object store)."""
    if queries is None:
        return index.pairs_within(threshold, part=part)
    return index.query(queries, threshold, part=part)


def _get(ray: Any, ref: Any) -> tuple[np.ndarray, ...]:
    try:
        result: tuple[np.ndarray, ...] = ray.get(ref)
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise DataprepError(
            f"a part of the duplicate search failed {TASK_RETRIES + 1} times on the Ray cluster ({first}); "
            "check the cluster (ray status) or use --engine local"
        ) from None
    return result


def _uint64(values: Sequence[int]) -> np.ndarray:
    import numpy as np

    return np.fromiter((int(v) for v in values), dtype=np.uint64, count=len(values))
