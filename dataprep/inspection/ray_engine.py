"""`--engine ray`: the per-file inspection on a Ray cluster, streamed back to this process.

Ray actors (one per CPU of the cluster, each loading its decoders once) inspect files in
batches with `inspection.inspect_guarded`, the function the local pool calls, so the engines cannot
drift. The driver (this process) hands out batches, yields each result as its batch comes back
and owns the cache and the report. Per-file time limit and crash isolation hold as in the local
pool: an actor's watchdog ends it when one file outlives `timeout_s`, and a batch whose worker
dies (a hang, a decoder crash, a lost node) is split and each file retried alone; a file alone
that hangs, or kills its worker twice, becomes `inspection_failed`, and the run goes on.

Safe by default: a Ray that dataprep starts itself has no dashboard, requires Ray's token
authentication (Ray 2.60's default when RAY_AUTH_MODE is unset; any other RAY_AUTH_MODE is refused)
and is shut down when the command ends, also on Ctrl-C or an error. Started only when there is work
for it: a command opens a `lazy_ray_session`, and Ray starts at the first file to inspect (or
batch to embed, or pair search big enough to spread), never for a run served from the cache. Ray 2.60 binds its gRPC ports on every interface
whatever node address is asked for (measured with `ss -ltnp`; `_node_ip_address="127.0.0.1"` is
turned into the host's address), so the token and a firewall are what keep other hosts out: the
README says how. Paths must be the same on every node (a shared filesystem).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.base.defaults import DEFAULT_TIMEOUT_S
from dataprep.base.errors import DataprepError
from dataprep.inspection.checks import CheckOptions
from dataprep.inspection.per_file import (
    CRASHED,
    InspectFn,
    failed_result,
    inspect_file,
    inspect_guarded,
    prepare_worker,
    timed_out,
)
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import FileRecord

DEFAULT_BATCH = 16
WATCHDOG_EXIT = 124  # an actor whose file outlived the time limit ends itself with this code
BACKSTOP_S = 30.0  # the driver's own limit beyond the watchdog's, for a worker too stuck to run it
STALL_S = 300.0  # no worker able to start for this long (no free CPU, nodes gone): give up, one line
SOLO_CRASHES_ALLOWED = 1  # a file alone may kill its worker once (a lost node); the second time it is the file
AUTH_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"


def import_ray(command: str = "this command") -> Any:
    """The `ray` module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise DataprepError(
            f"--engine ray for `dataprep {command}` needs Ray, which is not installed; "
            "install it with: pip install 'dataprep[ray]' (or use --engine local)"
        ) from None
    return ray


PRIVATE_AUTH = "token"  # RAY_AUTH_MODE of the private Ray: Ray's token authentication, always
_SHARED: ContextVar[LazyRay | None] = ContextVar("dataprep_ray_session", default=None)


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """Connect to the Ray at `address` (else $RAY_ADDRESS), or start a private one on this machine
    (no dashboard, token authentication; stopped on the way out). Connecting leaves the cluster running.

    Inside `lazy_ray_session` this is that session's Ray, started by the first caller that needs
    it and stopped when the lazy session ends. A session that is already initialised (a
    notebook, a test) is used as it is and left open."""
    shared = _SHARED.get()
    if shared is not None:
        yield shared.connect()
        return
    with _own_session(address, num_cpus) as ray:
        yield ray


class LazyRay:
    """A Ray session that is reached (or its private Ray started) only when `connect()` is first
    called: a run whose files are all cached pays no start-up."""

    def __init__(self, address: str | None, num_cpus: int | None) -> None:
        self.address, self.num_cpus = address, num_cpus
        self._stack = ExitStack()
        self._ray: Any = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._ray is not None

    def connect(self) -> Any:
        """The connected `ray` module (started or reached on the first call)."""
        with self._lock:
            if self._ray is None:
                self._ray = self._stack.enter_context(_own_session(self.address, self.num_cpus))
            return self._ray

    def close(self) -> None:
        with self._lock:
            self._ray = None
            self._stack.close()


@contextmanager
def lazy_ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[LazyRay]:
    """One Ray for every `ray_session` opened inside (validate's inspection, embed's batches, the
    pair search), started only when the first of them has work for it, and stopped at the end."""
    lazy = LazyRay(address, num_cpus)
    token = _SHARED.set(lazy)
    try:
        yield lazy
    finally:
        _SHARED.reset(token)
        lazy.close()


@contextmanager
def _own_session(address: str | None, num_cpus: int | None) -> Iterator[Any]:
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING, "include_dashboard": False}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            _start_private(ray, num_cpus, quiet)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at '{address}'" if address else "a local Ray"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataprepError(
            f"cannot start or reach {where} ({first}); "
            "check --ray-address / RAY_ADDRESS and that `ray start` runs there"
        ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _start_private(ray: Any, num_cpus: int | None, quiet: dict[str, Any]) -> None:
    """A new Ray on this machine, with token authentication: its ports listen on every interface
    (see the module docstring), and whoever reaches them runs code as this user. Ray 2.60 turns
    the token on for a cluster `ray.init()` starts unless RAY_AUTH_MODE says otherwise (it then
    sets RAY_AUTH_MODE=token in this process and writes ~/.ray/auth_token if missing)."""
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is not None and mode.lower() != PRIVATE_AUTH:
        raise DataprepError(
            f"RAY_AUTH_MODE={mode}: the private Ray that --engine ray starts always requires Ray's token "
            "authentication; unset RAY_AUTH_MODE, or start a cluster yourself (`ray start --head`) and pass "
            "--ray-address"
        )
    # Ray's notice that it turned the token on is kept off the terminal.
    logging.getLogger(AUTH_NOTICE_LOGGER).setLevel(logging.ERROR)
    # "local": a new instance, never the last cluster `ray start` left on this host.
    ray.init(address="local", num_cpus=num_cpus, **quiet)
    if os.environ.get("RAY_AUTH_MODE", "").lower() != PRIVATE_AUTH:  # a Ray that did not turn it on
        ray.shutdown()
        raise DataprepError(
            f"Ray {ray.__version__} started without token authentication; "
            "install Ray 2.60 or later: pip install 'dataprep[ray]'"
        )
    private_token_file()


def private_token_file() -> Path | None:
    """Make Ray's token file readable by this user only. Ray 2.60 writes `~/.ray/auth_token` with
    mode 644: on a shared machine anyone could read the token and run code as this user on the
    cluster. Ray's own processes run as this user, so 600 takes nothing from them."""
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    try:
        info = path.stat()
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            path.chmod(0o600)
    except OSError:  # no token file (RAY_AUTH_TOKEN set instead), or not ours to change
        return None
    return path


class InspectActor:
    """One Ray worker process: decoders loaded once, then batches of files inspected in turn.

    A watchdog thread ends the process when one file takes longer than `timeout_s` (the time
    limit is per file, as in the local pool, not per batch); the driver sees the worker die."""

    def __init__(self, options: CheckOptions, inspect: InspectFn, timeout_s: float) -> None:
        self.options = options
        self.inspect = inspect
        self.timeout_s = timeout_s
        self._started: float | None = None
        prepare_worker(options)
        threading.Thread(target=self._watchdog, name="dataprep-watchdog", daemon=True).start()

    def ready(self) -> bool:
        return True

    def inspect_batch(self, tasks: list[tuple[str, str, int, int]]) -> list[FileResult]:
        out = []
        for path, rel, size, mtime_ns in tasks:
            self._started = time.monotonic()
            out.append(inspect_guarded(self.inspect, Path(path), rel, size, mtime_ns, self.options))
        self._started = None
        return out

    def _watchdog(self) -> None:
        while True:
            time.sleep(min(0.5, self.timeout_s / 4))
            started = self._started
            if started is not None and time.monotonic() - started > self.timeout_s:
                os._exit(WATCHDOG_EXIT)


@dataclass
class _Unit:
    """Files sent to one actor in one call. `solo_crashes` counts deaths of a worker on it alone."""

    indices: list[int]
    solo_crashes: int = 0


class _Units:
    """The batches still to hand out: those sent back (split after a crash, or re-queued) first,
    then the next `batch_size` records, made only when asked for, so a run over millions of
    records holds no list of them."""

    def __init__(self, count: int, batch_size: int) -> None:
        self.count, self.batch_size, self.next = count, batch_size, 0
        self.returned: deque[_Unit] = deque()

    def __bool__(self) -> bool:
        return bool(self.returned) or self.next < self.count

    def popleft(self) -> _Unit:
        if self.returned:
            return self.returned.popleft()
        start, self.next = self.next, min(self.next + self.batch_size, self.count)
        return _Unit(list(range(start, self.next)))

    def appendleft(self, unit: _Unit) -> None:
        self.returned.appendleft(unit)

    def extendleft(self, units: Iterable[_Unit]) -> None:
        self.returned.extendleft(units)


@dataclass
class _Slot:
    actor: Any
    ready_ref: Any | None
    unit: _Unit | None = None
    ref: Any | None = None
    started: float = 0.0
    deadline: float = 0.0


class RayInspector:
    """Hands batches of files to actors and yields each result as its batch returns."""

    def __init__(
        self, ray: Any, options: CheckOptions, actors: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
        batch_size: int = DEFAULT_BATCH, inspect: InspectFn = inspect_file, stall_s: float = STALL_S,
    ) -> None:  # fmt: skip
        self.ray = ray
        self.options = options
        self.actors = actors
        self.timeout_s = timeout_s
        self.batch_size = max(1, batch_size)
        self.inspect = inspect
        self.stall_s = stall_s
        self._actor_cls = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(InspectActor)
        self._slots: list[_Slot] = []
        self._failed_starts = 0
        self.restarts = 0  # actors replaced after a crash, a lost node or a time-out

    def imap(self, records: Sequence[FileRecord]) -> Iterator[tuple[int, FileResult]]:
        """(index into `records`, result) for every record, in the order their batches finish."""
        if not records:
            return
        ray = self.ray
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise DataprepError(
                "the Ray cluster has no CPU for dataprep's workers (0 CPUs); "
                "add worker nodes with `ray start --address HEAD:PORT`, or use --engine local"
            )
        wanted = max(1, min(self.actors or cpus, -(-len(records) // self.batch_size)))
        queue = _Units(len(records), self.batch_size)
        self._slots = [self._start() for _ in range(wanted)]
        left = len(records)
        last_progress = time.monotonic()
        try:
            while left:
                self._hand_out(records, queue)
                refs = [s.ready_ref for s in self._slots if s.ready_ref is not None]
                refs += [s.ref for s in self._slots if s.ref is not None]
                done, _ = ray.wait(refs, num_returns=1, timeout=0.5)
                now = time.monotonic()
                for k, slot in enumerate(self._slots):
                    if slot.ready_ref is not None and slot.ready_ref in done:
                        self._on_ready(k)
                    elif slot.ref is not None and slot.unit is not None and slot.ref in done:
                        unit = slot.unit
                        try:
                            results = ray.get(slot.ref)
                        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError):
                            self._slots[k] = self._restart(slot)
                            if len(unit.indices) == 1 and now - slot.started >= self.timeout_s:  # its watchdog
                                left -= 1
                                yield (
                                    unit.indices[0],
                                    failed_result(records[unit.indices[0]], timed_out(self.timeout_s)),
                                )
                                continue
                            for item in self._requeue_crashed(unit, records, queue):
                                left -= 1
                                yield item
                            continue
                        slot.unit, slot.ref = None, None
                        for index, result in zip(unit.indices, results, strict=True):
                            left -= 1
                            yield index, result
                    elif slot.ref is not None and slot.unit is not None and now > slot.deadline:
                        unit = slot.unit
                        self._slots[k] = self._restart(slot)
                        if len(unit.indices) > 1:
                            queue.extendleft(_Unit([i]) for i in reversed(unit.indices))
                        else:
                            left -= 1
                            yield unit.indices[0], failed_result(records[unit.indices[0]], timed_out(self.timeout_s))
                if done or any(s.ref is not None for s in self._slots):
                    last_progress = now
                elif now - last_progress > self.stall_s:  # every actor waits for a CPU that never comes
                    raise DataprepError(
                        f"no Ray worker could start for {self.stall_s:g} s ({cpus} CPUs in the cluster, all taken?); "
                        "check `ray status`, or use --engine local"
                    )
        finally:
            for slot in self._slots:
                ray.kill(slot.actor, no_restart=True)
            self._slots = []

    def _requeue_crashed(
        self, unit: _Unit, records: Sequence[FileRecord], queue: _Units
    ) -> Iterator[tuple[int, FileResult]]:
        """The worker died on `unit`: retry its files alone; a file that killed it alone twice has failed."""
        if len(unit.indices) > 1:
            queue.extendleft(_Unit([i]) for i in reversed(unit.indices))
            return
        unit.solo_crashes += 1
        if unit.solo_crashes > SOLO_CRASHES_ALLOWED:
            yield unit.indices[0], failed_result(records[unit.indices[0]], CRASHED)
        else:
            queue.appendleft(unit)

    def _hand_out(self, records: Sequence[FileRecord], queue: _Units) -> None:
        for slot in self._slots:
            if slot.ready_ref is None and slot.unit is None and queue:
                unit = queue.popleft()
                tasks = [
                    (str(records[i].path), records[i].rel, records[i].size, records[i].mtime_ns) for i in unit.indices
                ]
                slot.unit, slot.ref = unit, slot.actor.inspect_batch.remote(tasks)
                slot.started = time.monotonic()
                slot.deadline = slot.started + self.timeout_s * len(unit.indices) + BACKSTOP_S

    def _on_ready(self, k: int) -> None:
        slot = self._slots[k]
        try:
            self.ray.get(slot.ready_ref)
        except self.ray.exceptions.RayError as err:
            self._failed_starts += 1
            if self._failed_starts > 3 * max(1, len(self._slots)):
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise DataprepError(
                    f"Ray workers fail to start ({first}); check that dataprep is installed on every node"
                ) from None
            self._slots[k] = self._restart(slot)
            return
        slot.ready_ref = None

    def _start(self) -> _Slot:
        actor = self._actor_cls.remote(self.options, self.inspect, self.timeout_s)
        return _Slot(actor=actor, ready_ref=actor.ready.remote())

    def _restart(self, slot: _Slot) -> _Slot:
        self.restarts += 1
        self.ray.kill(slot.actor, no_restart=True)
        return self._start()


def ray_stream(
    records: Sequence[FileRecord],
    options: CheckOptions,
    address: str | None = None,
    jobs: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    batch_size: int = DEFAULT_BATCH,
    inspect: InspectFn = inspect_file,
) -> Generator[tuple[int, FileResult], None, None]:
    """(index, result) for every record as it finishes on Ray; `jobs` caps the actors (default:
    one per CPU of the cluster). Without a cluster, a private Ray is started and stopped."""
    if not records:
        return
    with ray_session(address, num_cpus=jobs or None) as ray:
        yield from RayInspector(ray, options, jobs, timeout_s, batch_size, inspect).imap(records)
