"""`--engine ray` on a real multi-node Ray cluster started on this host (a head with no CPU and
two worker nodes of one CPU each, so every file is inspected on a worker node): the same report,
duplicate groups, pair search, embeddings and split as the local engine, also when a node dies
mid-run, and a hanging or crashing decoder becomes `inspection_failed` as it does in the local pool.

The report and the pair search run in the default tier (one cluster start, about half a minute);
the rest are slow.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO, ZOO
from typer.testing import CliRunner

from dataprep.cli import app
from dataprep.inspection.checks import CheckOptions
from dataprep.inspection.local_engine import inspect_files
from dataprep.inspection.scan import scan_dataset

ray = pytest.importorskip("ray")

TESTS = Path(__file__).resolve().parent
NO_TF = CheckOptions(use_tf=False)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    # Ray's workers import the test doubles (test_engine.misbehaving_inspect) by name.
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), saved) if p)
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        c.add_node(num_cpus=1)
    c.wait_for_nodes()
    ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@pytest.fixture(scope="module")
def zoo_and_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture zoo (every kind of broken file) and the demo photos in one dataset."""
    root = tmp_path_factory.mktemp("data") / "all"
    shutil.copytree(ZOO, root)
    shutil.copytree(DEMO, root, dirs_exist_ok=True)
    return root


def _cli_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*args, "--json", "--no-cache"])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    report.pop("seconds", None)
    return report


def test_validate_on_ray_gives_the_local_report(cluster: Any, zoo_and_demo: Path) -> None:
    local = _cli_json("validate", str(zoo_and_demo), "--jobs", "2")
    on_ray = _cli_json("validate", str(zoo_and_demo), "--engine", "ray")
    assert local["files"] > 200 and local["files_by_worst_severity"]["error"] >= 10  # broken files of every kind
    assert on_ray == local


@pytest.mark.slow
def test_duplicates_and_split_on_ray_equal_local(cluster: Any, zoo_and_demo: Path, tmp_path: Path) -> None:
    for command in (["duplicates", str(zoo_and_demo)], ["split", str(DEMO), str(tmp_path / "out"), "--dry-run"]):
        local = _cli_json(*command, "--jobs", "2")
        on_ray = _cli_json(*command, "--engine", "ray")
        assert on_ray == local, command
    groups = _cli_json("duplicates", str(zoo_and_demo), "--engine", "ray")["groups"]
    assert groups, "the zoo and demo hold duplicates: the comparison must not be of two empty lists"


@pytest.mark.slow
def test_a_node_lost_mid_run_changes_nothing(cluster: Any, zoo_and_demo: Path) -> None:
    from test_engine import slow_inspect

    from dataprep.inspection.ray_engine import RayInspector

    records = scan_dataset(zoo_and_demo).images
    expected = {r.rel: r.to_cache() for r in inspect_files(records, NO_TF, jobs=0)}
    victim = next(iter(cluster.worker_nodes))
    seen: list[int] = []
    by_rel: dict[str, dict[str, Any]] = {}
    # 50 ms a file (0.4 s a batch): inspection got fast enough that a batch could finish before
    # the node is removed, and then no batch would be lost at all.
    inspector = RayInspector(ray, NO_TF, batch_size=8, inspect=slow_inspect)
    try:
        for index, result in inspector.imap(records):
            seen.append(index)
            by_rel[result.rel] = result.to_cache()
            if len(seen) == 8:  # the first batch is back; the other node's batch is in flight
                cluster.remove_node(victim, allow_graceful=False)
    finally:
        cluster.add_node(num_cpus=1)  # the module's cluster has two worker nodes again
        cluster.wait_for_nodes()
    assert inspector.restarts >= 1  # the lost node's actor had a batch in flight
    assert sorted(seen) == list(range(len(records)))  # nothing lost, nothing doubled
    assert by_rel == expected


@pytest.mark.slow
def test_hanging_and_crashing_decoders_fail_one_file_on_ray(cluster: Any, tmp_path: Path) -> None:
    from test_engine import misbehaving_inspect

    from dataprep.inspection.ray_engine import RayInspector

    good = (ZOO / "zoo" / "valid_baseline.jpg").read_bytes()
    for rel in ("c/a1.jpg", "c/a2.jpg", "c/a3.jpg", "c/a4.jpg", "c/crash.jpg", "d/a5.jpg", "d/a6.jpg", "d/hang.jpg"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(good)
    records = scan_dataset(tmp_path).images  # batches of 3: [a1 a2 a3] [a4 crash a5] [a6 hang]
    inspector = RayInspector(ray, NO_TF, timeout_s=3, batch_size=3, inspect=misbehaving_inspect)
    results = dict(inspector.imap(records))
    assert sorted(results) == list(range(len(records)))
    by_name = {Path(r.rel).name: r for r in results.values()}
    assert [f.check for f in by_name["hang.jpg"].findings] == ["inspection_failed"]
    assert "longer than 3 s" in by_name["hang.jpg"].findings[0].detail
    assert [f.check for f in by_name["crash.jpg"].findings] == ["inspection_failed"]
    assert "crashed" in by_name["crash.jpg"].findings[0].detail
    for name in ("a1.jpg", "a2.jpg", "a3.jpg", "a4.jpg", "a5.jpg", "a6.jpg"):
        assert by_name[name].findings == [] and by_name[name].sha256 is not None


@pytest.mark.slow
def test_ctrl_c_on_ray_keeps_finished_results_and_stops_ray(tmp_path: Path) -> None:
    """The CLI with its private Ray (started although the module's cluster runs on this host, as
    a user's `ray start` cluster would): one line, exit 130, results cached."""
    import subprocess
    import sys

    from dataprep.inspection.local_engine import INTERRUPT_HOOK_ENV

    env = {**os.environ, INTERRUPT_HOOK_ENV: "40"}
    env.pop("RAY_ADDRESS", None)
    cmd = [sys.executable, "-m", "dataprep", "validate", str(DEMO), "--engine", "ray", "--json"]
    stopped = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=300, start_new_session=True, check=False
    )
    assert stopped.returncode == 130, stopped.stderr
    lines = [line for line in stopped.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("interrupted: stopped after inspecting 40 of "), stopped.stderr
    del env[INTERRUPT_HOOK_ENV]
    local = [sys.executable, "-m", "dataprep", "validate", str(DEMO), "--json"]
    again = subprocess.run(local, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert json.loads(again.stdout)["cache"]["reused"] == 40


@ray.remote(num_cpus=1)
class _CpuHog:
    def ready(self) -> bool:
        return True


def test_a_cluster_with_no_free_cpu_is_one_line_not_a_hang(cluster: Any, tmp_path: Path) -> None:
    from dataprep.base.errors import DataprepError
    from dataprep.inspection.ray_engine import RayInspector

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.png").write_bytes((ZOO / "zoo" / "valid.png").read_bytes())
    records = scan_dataset(tmp_path).images
    hogs = [_CpuHog.remote() for _ in range(2)]  # type: ignore[attr-defined]
    ray.get([h.ready.remote() for h in hogs])
    try:
        with pytest.raises(DataprepError, match="no Ray worker could start for 2 s"):
            list(RayInspector(ray, NO_TF, stall_s=2).imap(records))
    finally:
        for h in hogs:
            ray.kill(h)


def test_a_cluster_without_cpus_is_refused(cluster: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dataprep.base.errors import DataprepError
    from dataprep.inspection.ray_engine import RayInspector

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.png").write_bytes((ZOO / "zoo" / "valid.png").read_bytes())
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"memory": 1e9})  # a head started with --num-cpus 0, alone
    with pytest.raises(DataprepError, match="no CPU for dataprep's workers"):
        list(RayInspector(ray, NO_TF).imap(scan_dataset(tmp_path).images))


@pytest.mark.slow
def test_ray_address_joins_a_running_cluster_and_leaves_it_running(cluster: Any) -> None:
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "dataprep", "validate", str(DEMO), "--json", "--no-cache"]
    joined = subprocess.run(
        [*cmd, "--engine", "ray", "--ray-address", cluster.address],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    local = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert joined.returncode == local.returncode, joined.stderr
    reports = [json.loads(r.stdout) for r in (joined, local)]
    for report in reports:
        report.pop("seconds")
    assert reports[0] == reports[1]
    assert ray.cluster_resources().get("CPU") == 2  # dataprep disconnected; the cluster is still there


def _hashes(n: int, seed: int = 0) -> Any:
    """n random 64-bit hashes, 2% of them near copies (up to 6 bits flipped) of another."""
    import numpy as np

    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    src, dst = rng.integers(0, n, size=n // 50), rng.integers(0, n, size=n // 50)
    flips = np.zeros(n // 50, dtype=np.uint64)
    for _ in range(6):
        flips |= np.uint64(1) << rng.integers(0, 64, size=n // 50, dtype=np.uint64)
    hashes[dst] = hashes[src] ^ flips
    return hashes


def test_pair_search_parts_on_ray_equal_the_local_search(cluster: Any) -> None:
    import numpy as np

    from dataprep.duplicates.hash_index import HashIndex
    from dataprep.duplicates.ray_pairs import ray_pairs_within, ray_query

    hashes = _hashes(20_000)
    queries = hashes[::3] ^ np.uint64(0b1011)  # not in the index: like mirrored and cropped pHashes
    local = HashIndex(hashes)
    within, found = local.pairs_within(8), local.query(queries, 8)
    assert len(within[0]) > 300 and len(found[0]) > 6000  # planted copies, and every query's own source
    on_ray = ray_pairs_within(ray, HashIndex(hashes), 8, parts=7)
    for a, b in zip(on_ray, within, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ray_query(ray, HashIndex(hashes), queries, 8, parts=5), found, strict=True):
        np.testing.assert_array_equal(a, b)


class PidParts:
    """A search of 6 independent parts; each answers with its number and the process it ran in."""

    def part(self, k: int) -> tuple[int, int]:
        return k, os.getpid()


def test_a_search_in_parts_runs_on_ray_only_for_an_engine_ray_command_with_work(
    cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataprep.duplicates import ray_pairs
    from dataprep.inspection.validate import ValidateOptions

    here = list(ray_pairs.parts_on_engine(PidParts(), 6, queries=10**9))  # no --engine ray
    assert here == [(k, os.getpid()) for k in range(6)]
    with ray_pairs.pair_search_engine(ValidateOptions(engine="ray")):
        small = list(ray_pairs.parts_on_engine(PidParts(), 6, queries=ray_pairs.MIN_RAY_QUERIES - 1))
        spread = list(ray_pairs.parts_on_engine(PidParts(), 6, queries=ray_pairs.MIN_RAY_QUERIES))
    assert small == here
    assert sorted(k for k, _ in spread) == list(range(6)) and os.getpid() not in {pid for _, pid in spread}


def test_embedding_neighbours_on_ray_equal_the_local_search(cluster: Any) -> None:
    import numpy as np

    from dataprep.duplicates.ray_pairs import ray_nearest_neighbours
    from dataprep.embeddings.neighbours import nearest_neighbours

    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((12_000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    local = nearest_neighbours(vectors, 5)  # blocks of 1,398 rows: 9 of them, over 4 parts
    indices, similarities = ray_nearest_neighbours(ray, vectors, 5, parts=4)
    np.testing.assert_array_equal(indices, local[0])
    # the same products, but BLAS sums them with as many threads as the process has (1 in a Ray
    # task): the last bit of a float32 may differ
    np.testing.assert_allclose(similarities, local[1], rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_duplicates_with_the_pair_search_on_ray_equal_local(
    cluster: Any, zoo_and_demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataprep.duplicates import ray_pairs

    local = _cli_json("duplicates", str(zoo_and_demo), "--jobs", "2")
    parts: list[int] = []
    monkeypatch.setattr(ray_pairs, "MIN_RAY_QUERIES", 0)  # the demo's few hundred queries go to Ray too
    real = ray_pairs._run_parts

    def spy(*args: Any, **kwargs: Any) -> Any:
        parts.append(len(args))
        return real(*args, **kwargs)

    monkeypatch.setattr(ray_pairs, "_run_parts", spy)  # the duplicate search's parts (`parts_on_engine`)
    on_ray = _cli_json("duplicates", str(zoo_and_demo), "--engine", "ray")
    assert parts, "the pair search did not run on Ray"
    assert local["groups"] and on_ray == local


@pytest.mark.slow
def test_a_node_lost_during_the_pair_search_changes_nothing(cluster: Any) -> None:
    import numpy as np

    from dataprep.duplicates.hash_index import HashIndex
    from dataprep.duplicates.ray_pairs import part_results

    hashes = _hashes(150_000, seed=1)
    expected = HashIndex(hashes).pairs_within(10)
    victim = next(iter(cluster.worker_nodes))
    found: dict[int, tuple[Any, ...]] = {}
    try:
        for k, result in part_results(ray, HashIndex(hashes), 10, parts=8):
            found[k] = result
            if len(found) == 1:  # one part back, the other node's part in flight: its node goes
                cluster.remove_node(victim, allow_graceful=False)
    finally:
        cluster.add_node(num_cpus=1)  # the module's cluster has two worker nodes again
        cluster.wait_for_nodes()
    assert sorted(found) == list(range(8))
    for c in range(3):
        np.testing.assert_array_equal(np.concatenate([found[k][c] for k in range(8)]), expected[c])


@pytest.mark.slow  # each worker node's actor imports TensorFlow and builds the backbone
def test_embed_on_the_cluster_gives_the_local_vectors(cluster: Any, tmp_path: Path) -> None:
    pytest.importorskip("keras")
    import numpy as np
    from photos import jpeg, photo, save

    from dataprep.embeddings.backbone import weights_available
    from dataprep.embeddings.embed import embed_folder

    if not weights_available():
        pytest.skip("the backbone's weights are not installed")
    for k in range(8):
        save(tmp_path / "ds" / ("a" if k < 4 else "b") / f"img{k}.jpg", jpeg(photo(k, (96, 72))))
    local = embed_folder(tmp_path / "ds", image_size=32, batch_size=2, use_cache=False)
    on_ray = embed_folder(tmp_path / "ds", image_size=32, batch_size=2, cache_dir=tmp_path / "cache", engine="ray")
    assert on_ray.paths == local.paths and on_ray.computed == 8
    np.testing.assert_array_equal(on_ray.vectors, local.vectors)
    again = embed_folder(tmp_path / "ds", image_size=32, batch_size=2, cache_dir=tmp_path / "cache", engine="ray")
    assert (again.computed, again.cached) == (0, 8)  # every batch went to the cache as it came back
    np.testing.assert_array_equal(again.vectors, local.vectors)
