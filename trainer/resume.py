"""`trainer fit --resume`: exact and explicit.

A run folder stores absolute, resolved paths and a digest of the files it trained on. Resuming
accepts the data folder by whatever path it is given now, provided it is the same dataset (same
digest); options typed now that differ from the run's config.json are refused with one line
naming them, unless `--override` says to take them. Ctrl-C ends training at the last completed
epoch (its checkpoint is in RUN/backup/) with one line naming the command that continues it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import signal
from collections.abc import Collection, Iterator
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras

from dataprep.base.errors import DataprepError, Interrupted
from trainer import run_folder
from trainer.config import FitConfig

if TYPE_CHECKING:
    from trainer.data import FileList

# Test hook, like dataprep.base.journal's DATAPREP_KILL_AFTER_OPS: with DATAPREP_INTERRUPT_AFTER_EPOCHS=N
# the process sends itself SIGINT (as Ctrl-C would) right after its N-th completed epoch.
INTERRUPT_AFTER_EPOCHS_ENV = "DATAPREP_INTERRUPT_AFTER_EPOCHS"
# Not options of the training itself: where things are, and how chatty Keras is.
NOT_COMPARED = frozenset({"data_dir", "run_dir", "cache_dir", "verbose"})


def absolute(path: str | None) -> str | None:
    """`path` made absolute and resolved (a run folder must work from any directory)."""
    return None if path is None else str(Path(path).expanduser().resolve())


def dataset_digest(*splits: FileList | None) -> str:
    """sha256 over each split's files (path relative to the data folder, size, label): the same
    dataset gives the same digest wherever the folder sits or however its path is typed."""
    digest = hashlib.sha256()
    for files in splits:
        if files is None:
            digest.update(b"-\n")
            continue
        root = Path(files.root)
        digest.update(f"{files.split}:{','.join(files.class_names)}\n".encode())
        for path, label in zip(files.paths, files.labels):
            rel = os.path.relpath(path, root)
            try:
                size = os.stat(path).st_size
            except OSError:
                size = -1
            digest.update(f"{rel}\0{size}\0{label}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def resumed_config(saved: dict[str, Any], given: FitConfig, typed: Collection[str] | None, override: bool) -> FitConfig:
    """The configuration a resumed run continues with: the saved one, with the paths given now.

    `typed` names the options the user typed this time (None: compare every option). Where one
    differs from the saved value, refuse with one line naming each, unless `override`.
    """
    known = {f.name for f in fields(FitConfig)}
    candidates = (set(typed) if typed is not None else known) & known - NOT_COMPARED
    now = given.to_dict()
    changed = sorted(name for name in candidates if name in saved and saved[name] != now[name])
    if changed and not override:
        parts = ", ".join(f"{_flag(n)} {now[n]} (run has {saved[n]})" for n in changed)
        raise DataprepError(
            f"--resume with options that differ from the run's {run_folder.CONFIG}: {parts}; "
            "leave them out to continue as the run was started, or add --override to take them"
        )
    values = dict(saved)
    for name in changed:
        values[name] = now[name]
    values.update(data_dir=absolute(given.data_dir), run_dir=absolute(given.run_dir), verbose=given.verbose)
    if given.cache_dir is not None:
        values["cache_dir"] = absolute(given.cache_dir)
    return FitConfig.from_dict(values)


def check_same_dataset(run_dir: Path, data_dir: str, digest: str) -> None:
    """Refuse to resume on another dataset than the run started on (when the run recorded one)."""
    config = run_folder.read_config(run_dir)
    recorded = config.get("resolved", {}).get("dataset_digest")
    if recorded is not None and recorded != digest:
        started_on = config.get("fit", {}).get("data_dir")
        raise DataprepError(
            f"'{data_dir}' is not the dataset run '{run_dir}' was trained on ('{started_on}': its files differ); "
            "pass that data folder (any path to it works), or start a new run without --resume"
        )


def _last_epoch(run_dir: Path) -> int:
    return len(run_folder.read_history(run_dir / run_folder.HISTORY).get("loss", []))


@contextlib.contextmanager
def interrupt_ends_at_checkpoint(run_dir: Path, data_dir: str | None) -> Iterator[None]:
    """Turn Ctrl-C (KeyboardInterrupt) during training into one `Interrupted` line that names
    the command continuing from the last completed epoch's checkpoint."""
    try:
        yield
    except KeyboardInterrupt:
        epochs = _last_epoch(run_dir)
        command = shlex.join(["trainer", "fit", str(data_dir), "--run-dir", str(run_dir), "--resume"])
        raise Interrupted(
            f"training stopped after {epochs} completed epoch(s); the run is kept in '{run_dir}'; "
            f"continue it with: {command}"
        ) from None


class InterruptAfterEpochs(keras.callbacks.Callback):
    """The deterministic Ctrl-C of the tests: SIGINT to this process after epoch `after`."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after
        self.completed = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.completed += 1
        if self.completed == self.after:
            os.kill(os.getpid(), signal.SIGINT)


def interrupt_hooks() -> list[keras.callbacks.Callback]:
    """The interrupt hook when its environment variable is set; else nothing."""
    after = os.environ.get(INTERRUPT_AFTER_EPOCHS_ENV)
    return [InterruptAfterEpochs(int(after))] if after else []
