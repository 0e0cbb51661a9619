"""When `--engine ray` starts Ray, and how the private Ray it starts is locked.

- Ray starts only when there is work for it: a re-run whose every file is cached calls no
  `ray.init` (validate and embed), and one changed file makes it start exactly once.
- The private Ray requires Ray's token: a client without the token is refused, one with it
  connects; a RAY_AUTH_MODE that would turn the token off is one line, and no Ray is started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO, REPO
from typer.testing import CliRunner

from dataprep.cli import app

ray = pytest.importorskip("ray")
runner = CliRunner()


def _count_inits(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every `ray.init` call from here on, each refused (so no test starts a real Ray)."""
    calls: list[dict[str, Any]] = []

    def init(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise ConnectionError("counted, not started")

    assert not ray.is_initialized()
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return calls


def test_a_cached_rerun_on_ray_starts_no_ray_and_a_changed_file_starts_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "demo"
    data.mkdir()
    for name in ("circle", "square"):  # two classes of the demo, a few files each
        (data / name).mkdir()
        for src in sorted((DEMO / name).iterdir())[:6]:
            (data / name / src.name).write_bytes(src.read_bytes())
    first = runner.invoke(app, ["validate", str(data), "--json"])  # the local pool fills the cache
    assert first.exit_code in (0, 1), first.output
    calls = _count_inits(monkeypatch)
    again = runner.invoke(app, ["validate", str(data), "--json", "--engine", "ray"])
    assert again.exit_code == first.exit_code, again.output
    images = json.loads(first.stdout)["cache"]["inspected"]
    assert images >= 10 and json.loads(again.stdout)["cache"] == {"reused": images, "inspected": 0}
    assert calls == []
    changed = next((data / "circle").iterdir())
    changed.write_bytes(changed.read_bytes() + b"\0")  # one file the cache no longer knows
    third = runner.invoke(app, ["validate", str(data), "--json", "--engine", "ray"])
    assert third.exit_code == 2 and "cannot start or reach a local Ray (counted, not started)" in third.output
    assert len(calls) == 1 and calls[0]["address"] == "local"


def test_an_embed_rerun_on_ray_with_every_vector_cached_starts_no_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("keras")
    from dataprep.embeddings.backbone import weights_available
    from dataprep.embeddings.embed import embed_folder

    if not weights_available():
        pytest.skip("the backbone's weights are not installed")
    from photos import jpeg, photo, save

    for k in range(4):
        save(tmp_path / "ds" / ("a" if k < 2 else "b") / f"img{k}.jpg", jpeg(photo(k, (96, 72))))
    first = embed_folder(tmp_path / "ds", image_size=32, batch_size=2)
    calls = _count_inits(monkeypatch)
    again = embed_folder(tmp_path / "ds", image_size=32, batch_size=2, engine="ray")
    assert (again.computed, again.cached) == (0, 4) and calls == []
    assert again.paths == first.paths and (again.vectors == first.vectors).all()


def test_a_ray_auth_mode_without_the_token_is_one_line_and_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_inits(monkeypatch)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    result = runner.invoke(app, ["validate", str(DEMO), "--engine", "ray", "--no-cache"])
    assert result.exit_code == 2 and calls == []
    assert result.output.startswith("error: RAY_AUTH_MODE=disabled: the private Ray that --engine ray starts")
    assert "unset RAY_AUTH_MODE" in result.output and len(result.output.strip().splitlines()) == 1


PRIVATE_RAY = """
import sys
from dataprep.inspection.ray_engine import ray_session
with ray_session() as ray:
    print(ray.get_runtime_context().gcs_address, flush=True)
    sys.stdin.readline()
"""

CLIENT = """
import logging, sys
import ray
try:
    ray.init(address=sys.argv[1], log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False)
except ConnectionError as err:
    print("refused", str(err).splitlines()[0])
else:
    print("connected", int(ray.cluster_resources()["CPU"]))
"""


def _client(address: str, home: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    # a refused client gives up after 3 s, not Ray's default 20 s of retries
    clean.update(HOME=str(home), RAY_gcs_rpc_server_connect_timeout_s="3", **env)
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, address], env=clean, capture_output=True, text=True, timeout=120, check=False
    )
    return done.stdout.strip()


@pytest.mark.slow  # a private Ray and three clients: about 30 s on 2 cores
def test_the_private_ray_refuses_a_client_without_its_token(tmp_path: Path) -> None:
    home, stranger = tmp_path / "home", tmp_path / "stranger"  # the stranger has no ~/.ray/auth_token
    home.mkdir()
    stranger.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    private = subprocess.Popen(
        [sys.executable, "-c", PRIVATE_RAY], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert private.stdout is not None
        address = private.stdout.readline().strip()
        assert address, "the private Ray did not start"
        token = home / ".ray" / "auth_token"
        assert token.is_file()  # written by Ray for the cluster it started
        refused = _client(address, stranger)  # no token at all
        assert refused.startswith("refused"), refused
        wrong = _client(address, stranger, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="0" * 32)
        assert wrong.startswith("refused"), wrong
        allowed = _client(address, stranger, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
        assert allowed.startswith("connected"), allowed  # the same client, given the token
    finally:
        private.communicate("\n", timeout=120)


def test_the_private_ray_token_file_is_made_readable_by_its_owner_only(tmp_path, monkeypatch):
    """Ray 2.60 writes its token with mode 644; anyone who reads it can run code on the cluster."""
    from dataprep.inspection.ray_engine import private_token_file

    token = tmp_path / "auth_token"
    token.write_text("secret")
    token.chmod(0o644)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    assert private_token_file() == token
    assert token.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "missing"))
    assert private_token_file() is None
