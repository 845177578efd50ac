"""Runs engine operations in long-lived worker processes, never in the calling process.

The job runner (in ``serve``'s process in the embedded mode, in ``rundramatiq`` otherwise) hands
each step to an engine worker (``restoration.engine.worker``) through a pipe and waits for it,
watching three things every 0.1 s: the worker's replies, the caller's cancel flag and the step's
deadline. A cancel or a time-out kills the worker (SIGKILL stops even one long C call); a crash
or an out-of-memory ends only that worker. Each ending is an ``OperationFailed`` whose message
says what happened in words a restorer can act on; the broken worker is replaced by a fresh one
at the next request. Healthy workers go back to the pool warm (libraries imported, models
cached).

Django-free apart from reading settings in ``default_pool``; no database access.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from restoration.engine import ipc
from restoration.engine.types import ModelRef

logger = logging.getLogger(__name__)

BOOT_TIMEOUT_S = 180.0  # importing torch on a loaded 2-core machine takes seconds, not minutes
POLL_S = 0.1


class OperationFailed(Exception):
    """The step failed in a way that retrying would repeat: the message is the reason."""


class OperationCancelled(Exception):
    """The caller's ``should_cancel`` turned true; the worker was stopped."""


@dataclass
class OpRequest:
    """One operation on arrays: everything the worker needs, nothing from the database."""

    op: str
    params: dict[str, Any]
    image: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    seed: int = 0
    device: str = ""  # empty: the worker decides (CUDA for AI operations when present)
    models: Mapping[str, ModelRef] = field(default_factory=dict)
    mtcnn_dir: Path | None = None
    identity: bool = False  # also check the faces' identity after the result (see summary)
    # confirmed faces of the figures the input shows ({"face", "figure", "embedding"})
    identity_references: list[dict[str, Any]] = field(default_factory=list)

    def message(self) -> dict[str, Any]:
        return {
            "kind": "run",
            "op": self.op,
            "params": self.params,
            "image": self.image,
            "extra": self.extra,
            "seed": self.seed,
            "device": self.device,
            "models": dict(self.models),
            "mtcnn_dir": self.mtcnn_dir,
            "identity": self.identity,
            "identity_references": self.identity_references,
        }


@dataclass
class Watch:
    """What the wait loop watches: progress goes out, cancel and the deadline come in."""

    report: Callable[[float], None]
    should_cancel: Callable[[], bool]
    limit_s: float
    budget_mb: int
    deadline: float = float("inf")  # time.monotonic(); set once a worker is ready (boot is free)
    frames: Callable[[int], None] | None = None  # film runs: frames done so far


class EngineWorker:
    """One worker process and its pipe. Not thread-safe: one caller at a time (the pool)."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        env = dict(os.environ)
        # glibc reserves 64 MiB of address space per malloc arena (one per thread by default):
        # under an address-space limit that is budget spent on nothing.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "restoration.engine.worker", "--memory-mb", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env=env,
            # Terminal signals (Ctrl-C) go to the server, which stops its workers itself.
            start_new_session=True,
        )
        self.killed_by_us = False
        self.ready = False
        self.jobs_run = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, message: Mapping[str, Any]) -> None:
        assert self.proc.stdin is not None
        ipc.send(self.proc.stdin, message)

    def poll(self, timeout: float) -> dict[str, Any] | None:
        """The next message, or None when none arrived within ``timeout`` seconds. EOFError
        when the worker died."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        return ipc.recv(self.proc.stdout)

    def kill(self) -> None:
        self.killed_by_us = True
        if self.alive():
            self.proc.kill()
        self.close()

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def wait_ready(self, timeout: float = BOOT_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise OperationFailed(f"the engine worker did not start within {timeout:.0f} s")
            try:
                message = self.poll(min(left, 1.0))
            except EOFError:
                self.close()
                raise OperationFailed(
                    f"the engine worker could not start ({self.death()})"
                ) from None
            if message is not None and message.get("kind") == "ready":
                self.ready = True

    def death(self) -> str:
        """Why the process ended, in words."""
        code = self.proc.poll()
        if code is None:
            return "it stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if -code == signal.SIGKILL and not self.killed_by_us:
                return (
                    f"the operation was killed ({name}), probably by the system's "
                    "out-of-memory killer"
                )
            return f"the operation crashed (signal {-code}, {name})"
        return f"the engine worker exited with status {code}"


class WorkerPool:
    """Warm engine workers for one memory budget. ``size`` idle workers are kept; more are
    started on demand (each job runner thread uses one at a time)."""

    def __init__(self, *, size: int, memory_mb: int) -> None:
        self.size = max(1, size)
        self.memory_mb = memory_mb
        self._idle: list[EngineWorker] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> EngineWorker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.close()
        worker = EngineWorker(self.memory_mb)
        worker.wait_ready()
        return worker

    def release(self, worker: EngineWorker) -> None:
        with self._lock:
            if not self._closed and worker.alive() and len(self._idle) < self.size:
                self._idle.append(worker)
                return
        worker.kill()

    def warm(self) -> None:
        """Start the idle workers now (in the background), so the first jobs find them warm."""

        def start() -> None:
            try:
                worker = EngineWorker(self.memory_mb)
                worker.wait_ready()
                self.release(worker)
            except OperationFailed:
                logger.exception("could not start an engine worker")

        for _ in range(self.size):
            threading.Thread(target=start, name="engine-warm", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def summarize(
        self,
        before: np.ndarray,
        after: np.ndarray,
        watch: Watch,
        *,
        identity: bool = False,
        references: list[dict[str, Any]] | None = None,
    ) -> Measured:
        """The change summary of ``after`` against ``before`` (and, with ``identity``, the
        faces' identity check), computed in a worker."""
        message = {
            "kind": "summary",
            "before": before,
            "after": after,
            "identity": identity,
            "identity_references": references or [],
        }
        run = self._start(message, watch)
        summary: dict[str, Any] = run.wait_for("summary")
        return Measured(summary, run.identity)

    def faces(self, message: dict[str, Any], watch: Watch) -> dict[str, Any]:
        """The faces of a still or of a video's sampled frames, measured in a worker."""
        run = self._start({"kind": "faces", **message}, watch)
        reply: dict[str, Any] = run.wait_for("faces")
        return reply

    def run(self, request: OpRequest, watch: Watch) -> EngineRun:
        """Start ``request`` on a worker and wait for its result (not for the summary, which
        ``EngineRun.summary`` collects)."""
        run = self._start(request.message(), watch)
        run.result = run.wait_for("result")
        return run

    def _start(self, message: Mapping[str, Any], watch: Watch) -> EngineRun:
        """Send ``message`` to a ready worker; the deadline counts from now (boot is free)."""
        worker = self.acquire()
        watch.deadline = time.monotonic() + watch.limit_s
        run = EngineRun(self, worker, watch)
        try:
            worker.send(message)
        except OSError:  # BrokenPipeError included: the worker died before reading it
            run.fail_dead()
        return run


@dataclass
class RunResult:
    image: np.ndarray
    outputs: dict[str, np.ndarray]
    record: dict[str, Any]
    device: str


@dataclass(frozen=True)
class Measured:
    """What the worker measured of a step's output against its input: the change summary and
    the faces' identity check (None when not asked; ``{"error": ...}`` when it failed)."""

    summary: dict[str, Any]
    identity: dict[str, Any] | None = None


class EngineRun:
    """One operation in flight on one worker."""

    def __init__(self, pool: WorkerPool, worker: EngineWorker, watch: Watch) -> None:
        self.pool = pool
        self.worker = worker
        self.watch = watch
        self.result: RunResult | None = None
        self.identity: dict[str, Any] | None = None  # set with the summary, when asked
        self._done = False

    def wait_for(self, kind: str) -> Any:
        while True:
            if self.watch.should_cancel():
                self._end(kill=True)
                raise OperationCancelled("cancelled on request")
            if time.monotonic() > self.watch.deadline:
                self._end(kill=True)
                raise OperationFailed(f"exceeded its time limit of {self.watch.limit_s:g} s")
            try:
                message = self.worker.poll(POLL_S)
            except EOFError:
                self.fail_dead()
            if message is None:
                continue
            got = message.get("kind")
            if got == "progress":
                self.watch.report(float(message.get("fraction", 0.0)))
                if self.watch.frames is not None and "frames" in message:
                    self.watch.frames(int(message["frames"]))
            elif kind == "raw" and got in ("result", "summary"):
                # Film runs: files in, files out; the reply is small and ends the request.
                self.worker.jobs_run += 1
                self._end(kill=False)
                return message
            elif got == "error":
                self._raise_error(message)
            elif got == kind == "result":
                self.worker.jobs_run += 1
                return RunResult(
                    image=message["image"],
                    outputs=message.get("outputs") or {},
                    record=message.get("record") or {},
                    device=str(message.get("device") or "cpu"),
                )
            elif got == kind == "faces":
                self._end(kill=False)
                return message
            elif got == kind == "summary":
                self._end(kill=False)
                self.identity = message.get("identity")
                return message.get("summary") or {}

    def summary(self) -> dict[str, Any]:
        """The change summary the worker computes after the result; {} if it cannot."""
        if self._done:
            return {}
        summary: dict[str, Any] = self.wait_for("summary")
        return summary

    def abandon(self) -> None:
        """The caller no longer wants the rest (e.g. its record failed): stop the worker."""
        if not self._done:
            self._end(kill=True)

    def fail_dead(self) -> NoReturn:
        self._done = True
        self.worker.close()
        raise OperationFailed(self.worker.death())

    def _raise_error(self, message: Mapping[str, Any]) -> None:
        kind = message.get("error")
        text = str(message.get("message") or "")
        if kind == "memory":
            # The worker exits after a memory error; collect it before replacing it.
            self._end(kill=True)
            raise OperationFailed(
                f"exceeded its {self.watch.budget_mb} MiB memory budget ({text}); "
                "ARCHIVE_WORKER_MEMORY_MB sets the budget"
            )
        self._end(kill=False)
        if kind == "cancelled":
            raise OperationCancelled(text)
        if kind == "engine" and message.get("traceback"):
            logger.error("engine error in worker %s:\n%s", self.worker.pid, message["traceback"])
        raise OperationFailed(text)

    def _end(self, *, kill: bool) -> None:
        if self._done:
            return
        self._done = True
        if kill:
            self.worker.kill()
        else:
            self.pool.release(self.worker)


# --- the process-wide pools ----------------------------------------------------------------------

_pools: dict[int, WorkerPool] = {}
_pools_lock = threading.Lock()


def pool_for(*, memory_mb: int, size: int) -> WorkerPool:
    with _pools_lock:
        pool = _pools.get(memory_mb)
        if pool is None:
            pool = _pools[memory_mb] = WorkerPool(size=size, memory_mb=memory_mb)
        return pool


def default_pool() -> WorkerPool:
    from django.conf import settings

    return pool_for(
        memory_mb=int(settings.ARCHIVE_WORKER_MEMORY_MB),
        size=int(settings.ARCHIVE_ENGINE_WORKERS),
    )


def run_film_message(
    message: Mapping[str, Any],
    *,
    report: Callable[[float], None],
    should_cancel: Callable[[], bool],
    time_limit_s: float,
    frames: Callable[[int], None] | None = None,
    pool: WorkerPool | None = None,
) -> dict[str, Any]:
    """Send one film request (``kind`` "film", "film_join" or "film_summary", see
    ``restoration.engine.worker.run_film_request``) to an engine worker and return its reply.
    The frames go from file to file inside the worker, under its memory budget; a cancel or
    the time limit kills the worker (``OperationCancelled`` / ``OperationFailed``)."""
    chosen = pool or default_pool()
    watch = Watch(
        report=report,
        should_cancel=should_cancel,
        limit_s=time_limit_s,
        budget_mb=chosen.memory_mb,
        frames=frames,
    )
    run = chosen._start(message, watch)
    reply: dict[str, Any] = run.wait_for("raw")
    return reply


def close_pools() -> None:
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


def change_summary(
    before: np.ndarray,
    after: np.ndarray,
    *,
    time_limit_s: float = 600.0,
    identity: bool = False,
    references: list[dict[str, Any]] | None = None,
) -> Measured:
    """The lineage's change summary (and, with ``identity``, the identity check), computed in
    an engine worker (it is engine code and works on whole images: it must not run in the web
    server's process). Raises ``OperationFailed``."""
    pool = default_pool()
    watch = _quiet_watch(pool, time_limit_s)
    return pool.summarize(before, after, watch, identity=identity, references=references)


def measure_faces(message: dict[str, Any], *, time_limit_s: float = 600.0) -> dict[str, Any]:
    """``{"image": array}`` or ``{"path", "frames", "samples"}`` → ``{"faces": [...]}``, from
    an engine worker (face models never run in the web server's process). Raises
    ``OperationFailed``."""
    pool = default_pool()
    return pool.faces(message, _quiet_watch(pool, time_limit_s))


def _quiet_watch(pool: WorkerPool, time_limit_s: float) -> Watch:
    """The watch of a measurement nobody follows: no progress, no cancel, the pool's budget."""
    return Watch(
        report=lambda fraction: None,
        should_cancel=lambda: False,
        limit_s=time_limit_s,
        budget_mb=pool.memory_mb,
    )


def run_operation(
    request: OpRequest,
    *,
    report: Callable[[float], None],
    should_cancel: Callable[[], bool],
    time_limit_s: float,
    pool: WorkerPool | None = None,
) -> EngineRun:
    """Run ``request`` in an engine worker under the time limit and the pool's memory budget.
    Raises ``OperationCancelled`` or ``OperationFailed``; otherwise ``.result`` is set and
    ``.summary()`` must be called (or ``.abandon()``) to give the worker back."""
    chosen = pool or default_pool()
    watch = Watch(
        report=report,
        should_cancel=should_cancel,
        limit_s=time_limit_s,
        budget_mb=chosen.memory_mb,
    )
    return chosen.run(request, watch)
