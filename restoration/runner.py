"""Runs one job, step by step, so that any crash can be resumed without a duplicate record.

Shape of a run (every transaction is short; no transaction is open while an operation runs):

1. *Claim*: a conditional UPDATE (``job_transition``) moves the job queued -> running with this
   worker's tag in ``claimed_by``. A running job whose worker stopped heartbeating for
   ``JOB_LEASE_SECONDS`` is taken over the same way (running -> running, expecting the old
   tag and heartbeat); one whose worker is alive makes this delivery retry later (``JobBusy``).
2. *Steps*: steps already recorded for (job, job_index) are reused, never recomputed; the
   first missing one runs on the previous step's output. A monitor thread heartbeats the
   lease, flushes progress and polls ``cancel_requested`` about once a second, so the
   executor's cancel check is a memory read, not a query. The operation itself runs in an
   engine worker process (``restoration.executor``), which a cancel or a time-out kills.
3. *Record*: outputs are stored (content-addressed, so a redo after a crash finds the bytes it
   already wrote and adopts them) and the Step is appended with ``step_record_or_discard``.
   The unique (job, job_index) constraint settles a race between two workers: the loser
   discards its files and continues from the winner's step.
4. *Finish*: running -> succeeded with the last output, only if this worker still holds the
   claim.

Errors: bad input, bad params, unavailable models, time limits and bugs fail the job with the
reason and are not retried; database / storage / broker hiccups release the claim and are
retried with backoff by dramatiq (``should_retry``); when retries run out ``job_dead`` fails
the job with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import numpy as np
from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection
from django.db.models import F

from restoration import imagefile
from restoration.engine.types import Cancelled
from restoration.executor import (
    EngineRun,
    OperationCancelled,
    OperationFailed,
    OpRequest,
    run_operation,
)
from restoration.faces import confirmed_references
from restoration.jobstate import (
    TERMINAL,
    cancel_reason,
    job_heartbeat,
    job_time_limits,
    job_transition,
    lease_expired,
    lease_left_s,
    now,
)
from restoration.ledger import checkpoint_make_quietly
from restoration.models import Artifact, Job, ModelWeights, Step, StepOutput
from restoration.services import (
    NewInput,
    output_from_array,
    project_software_versions,
    step_record_or_discard,
)
from restoration.storage import open_object

logger = logging.getLogger(__name__)
Status = Job.Status


class JobBusy(dramatiq.Retry):
    """Another live worker holds the job; this delivery retries after about the time left on
    that worker's lease (a dramatiq ``Retry``: expected, so not logged as an error)."""

    def __init__(self, message: str, delay_s: float = 1.0) -> None:
        super().__init__(message, delay=max(100, int(delay_s * 1000)))


class JobFailure(Exception):
    """A permanent failure of the job (bad input, unavailable model, ...): not retried."""


class _Stop(Exception):
    """Internal: the run stops quietly (lease lost to another worker)."""


# Transient: worth another delivery. Everything else is permanent for this job.
# OSError covers storage hiccups (network filesystems, S3 clients, a full disk being cleared);
# a missing input file is turned into a JobFailure before it gets here.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    JobBusy,
    OperationalError,
    InterfaceError,
    OSError,
)


def should_retry(retries: int, exc: BaseException) -> bool:
    """dramatiq ``retry_when``: busy jobs wait (bounded by the lease), transient errors retry up
    to ``JOB_MAX_RETRIES``, nothing else is retried (the runner already failed the job)."""
    if isinstance(exc, JobBusy):
        return retries < 100
    if isinstance(exc, TRANSIENT_ERRORS) or _is_broker_error(exc):
        return retries < settings.JOB_MAX_RETRIES
    return False


def _is_broker_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("redis.", "pika.", "dramatiq.errors"))


def worker_tag() -> str:
    return f"{platform.node()}:{os.getpid()}:{threading.get_ident()}"


# --- the monitor thread ----------------------------------------------------------------------


@dataclass
class _Monitor:
    """Heartbeats the lease, flushes progress and reads ``cancel_requested`` off the op thread.

    The op thread only touches memory (``report``/``should_cancel``); the monitor owns its own
    database connection and closes it when it stops."""

    job_id: int
    tag: str
    steps: int
    interval: float
    step: int = 0
    fraction: float = 0.0
    cancel: bool = False
    lost: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"job-{self.job_id}-monitor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def report(self, fraction: float) -> None:
        self.fraction = min(1.0, max(0.0, float(fraction)))

    def should_stop(self) -> bool:
        """A cancel was asked for or the claim was lost: a memory read, polled by the executor."""
        return self.cancel or self.lost

    @property
    def progress(self) -> float:
        return min(1.0, (self.step + self.fraction) / max(1, self.steps))

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.beat()
        finally:
            connection.close()

    def beat(self) -> None:
        try:
            beat = job_heartbeat(
                job_id=self.job_id, worker=self.tag, progress=self.progress, current_step=self.step
            )
            # Not held: cancelled by job_cancel after a lease expiry, or taken over: stop.
            self.lost = not beat.held
            self.cancel = beat.cancel_requested
        except DatabaseError:  # a missed heartbeat is not fatal; the lease allows several
            logger.warning("job %s: heartbeat failed", self.job_id, exc_info=True)
            connection.close()


# --- the run ---------------------------------------------------------------------------------


def run_job(job_id: int) -> str:
    """Run (or resume) job ``job_id``. Returns what happened: ``succeeded``, ``failed``,
    ``cancelled``, ``skipped`` (already ended or claimed elsewhere) or ``lost`` (another worker
    took over). Raises only transient errors, for dramatiq to retry."""
    tag = worker_tag()
    job = claim(job_id, tag)
    if job is None:
        return "skipped"
    lease = settings.JOB_LEASE_SECONDS
    # The heartbeat also brings the cancel flag: every half second keeps a cancel within 2 s
    # even on a busy machine, for one small UPDATE per running job.
    monitor = _Monitor(
        job_id=job.pk, tag=tag, steps=len(job.pipeline), interval=min(0.5, lease / 4)
    )
    monitor.start()
    try:
        return _run_claimed(job, tag, monitor)
    except _Stop:
        return "lost"
    except JobFailure as exc:
        return _fail(job.pk, tag, str(exc))
    except TRANSIENT_ERRORS as exc:
        _release(job.pk, tag, exc)
        raise
    except Exception as exc:
        if _is_broker_error(exc):
            _release(job.pk, tag, exc)
            raise
        # A bug or an unexpected engine error: deterministic, so retrying would only repeat it.
        logger.exception("job %s failed", job.pk)
        return _fail(job.pk, tag, f"{type(exc).__name__}: {exc}")
    except BaseException as exc:
        # dramatiq's hard TimeLimitExceeded (and other interrupts) land here.
        if type(exc).__name__ == "TimeLimitExceeded":
            _fail(job.pk, tag, f"the job exceeded its time limit of {job.time_limit_s} s")
        raise
    finally:
        monitor.stop()


def claim(job_id: int, tag: str) -> Job | None:
    """Claim the job for ``tag``; None when there is nothing to run. Raises ``JobBusy`` while
    another worker's lease on it is live."""
    for _ in range(5):
        job = Job.objects.filter(pk=job_id).first()
        if job is None:
            logger.warning("job %s does not exist; message dropped", job_id)
            return None
        if job.status in TERMINAL:
            return None
        # The claim holds only if nobody claimed, beat or released in between.
        expect: dict[str, Any] = {"claimed_by": job.claimed_by, "heartbeat_at": job.heartbeat_at}
        stamp = now()
        if job.status == Status.RUNNING and not lease_expired(job, stamp):
            raise JobBusy(
                f"job {job_id} is running on {job.claimed_by} (heartbeat at {job.heartbeat_at})",
                delay_s=lease_left_s(job, stamp) + 0.2,
            )
        if job.cancel_requested:
            job_transition(
                job_id=job_id,
                old=job.status,
                new=Status.CANCELLED,
                expect=expect,
                worker=tag,
                actor=job.cancel_requested_by,
                error=cancel_reason(job.cancel_requested_by),
            )
            continue
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            reason = f"gave up after {job.attempts} attempts"
            if job.error:
                reason += f"; last: {job.error}"
            job_transition(
                job_id=job_id,
                old=job.status,
                new=Status.FAILED,
                expect=expect,
                worker=tag,
                error=reason,
            )
            continue
        changes: dict[str, Any] = {
            "claimed_by": tag,
            "attempts": F("attempts") + 1,
            "heartbeat_at": stamp,
        }
        if job.started_at is None:
            changes["started_at"] = stamp
        taking_over = f"lease of {job.claimed_by} expired" if job.status == Status.RUNNING else ""
        if job_transition(
            job_id=job_id,
            old=job.status,
            new=Status.RUNNING,
            expect=expect,
            reason=f"claimed (attempt {job.attempts + 1}){'; ' + taking_over if taking_over else ''}",
            **changes,
        ):
            job.refresh_from_db()
            return job
    raise JobBusy(f"job {job_id} changed under us repeatedly")


def _run_claimed(job: Job, tag: str, monitor: _Monitor) -> str:
    pipeline: list[dict[str, Any]] = job.pipeline
    done = {
        s.job_index: s for s in Step.objects.filter(job=job).only("id", "job_index", "operation")
    }
    start = 0
    while start in done:
        start += 1
    current = _image_output(done[start - 1]) if start > 0 else job.input
    # A film (video artifact) is never decoded here: film steps stream it in a worker.
    image = (
        _decode(current, "input")
        if start < len(pipeline) and not current.media_type.startswith("video/")
        else None
    )
    for index in range(start, len(pipeline)):
        monitor.step, monitor.fraction = index, 0.0
        if monitor.should_stop():
            return _stopped(job.pk, tag, monitor)
        try:
            if _is_film_step(pipeline[index]):
                current, image = _run_film_step(job, index, pipeline[index], current, tag, monitor)
            elif pipeline[index].get("op") == "animate":  # issue 12: still in, video out
                current, image = _run_animate_step(
                    job, index, pipeline[index], current, image, monitor
                )
            else:
                current, image = _run_step(job, index, pipeline[index], current, image, monitor)
        except Cancelled:
            return _stopped(job.pk, tag, monitor)
    # Every step is recorded: a cancel that arrives now is too late to save any work, so the
    # job succeeds (only if this worker still holds it).
    ok = job_transition(
        job_id=job.pk,
        old=Status.RUNNING,
        new=Status.SUCCEEDED,
        expect={"claimed_by": tag},
        output=current,
        progress=1.0,
        current_step=len(pipeline),
        error="",
    )
    if not ok:
        raise _Stop()
    # Issue 11: a signed checkpoint after each job covers its steps (failure is not the job's).
    checkpoint_make_quietly(reason=f"job {job.pk}")
    return "succeeded"


def _run_step(
    job: Job,
    index: int,
    spec: Mapping[str, Any],
    source: Artifact,
    image: np.ndarray | None,
    monitor: _Monitor,
) -> tuple[Artifact, np.ndarray]:
    from restoration.engine import ParamError, get_operation
    from restoration.registry import model_ref, mtcnn_dir

    assert image is not None
    try:
        op = get_operation(spec["op"])
    except ParamError as exc:
        raise JobFailure(f"step {index + 1}: {exc}") from exc
    params: dict[str, Any] = spec.get("params") or {}
    resolved = spec.get("resolved") or {}
    weights_by_param = {
        name: ModelWeights.objects.filter(pk=pk).first()
        for name, pk in (resolved.get("models") or {}).items()
    }
    for name, weights in weights_by_param.items():
        if weights is None:
            raise JobFailure(
                f"step {index + 1} ({op.name}): the model chosen for {name!r} was removed"
            )
    extra_artifacts = {
        name: Artifact.objects.filter(pk=pk).first()
        for name, pk in (resolved.get("artifacts") or {}).items()
    }
    inputs = [NewInput(role="image", artifact=source)]
    extra: dict[str, np.ndarray] = {}
    for name, artifact in sorted(extra_artifacts.items()):
        if artifact is None:
            raise JobFailure(
                f"step {index + 1} ({op.name}): artifact for {name!r} no longer exists"
            )
        # The param name is the input role (color_transfer's `reference`, descratch's `mask`).
        extra[name] = _decode(artifact, name)
        inputs.append(NewInput(role=name, artifact=artifact))
    limit = _step_limit_s(job, index)
    request = OpRequest(
        op=op.name,
        params=params,
        image=image,
        extra=extra,
        seed=job.seed,
        device=str(settings.ARCHIVE_DEVICE or ""),
        models={name: model_ref(w) for name, w in weights_by_param.items() if w is not None},
        mtcnn_dir=mtcnn_dir() if op.kind == "ai" else None,
        identity=settings.ARCHIVE_IDENTITY_CHECK,
        identity_references=(
            confirmed_references(artifact_id=source.pk, user=job.requester)
            if settings.ARCHIVE_IDENTITY_CHECK
            else []
        ),
    )
    started = now()
    # The operation runs in an engine worker process (restoration.executor): a crash, an
    # out-of-memory or a time-out there fails this step with the reason; a cancel kills it.
    try:
        run = run_operation(
            request,
            report=monitor.report,
            should_cancel=monitor.should_stop,
            time_limit_s=limit,
        )
    except OperationCancelled as exc:
        raise Cancelled(str(exc)) from exc
    except OperationFailed as exc:
        raise JobFailure(f"step {index + 1} ({op.name}): {exc}") from exc
    ended = now()
    if monitor.lost:
        run.abandon()
        raise _Stop()
    try:
        return _record(job, index, op, params, inputs, run, weights_by_param, started, ended)
    finally:
        run.abandon()  # a no-op once the summary was collected


def _is_film_step(spec: Mapping[str, Any]) -> bool:
    from restoration.film_jobs import is_film_operation

    return is_film_operation(spec.get("op"))


@contextmanager
def _video_step_outcome(
    index: int, op: str, monitor: _Monitor, cancelled: type[Exception], failed: type[Exception]
) -> Iterator[None]:
    """How a step whose output is a video ends, for film and animation steps alike: their own
    cancel and failure exceptions become the runner's, and a lost lease stops quietly."""
    try:
        yield
    except cancelled as exc:
        if monitor.lost:
            raise _Stop() from exc
        raise Cancelled(str(exc)) from exc
    except failed as exc:
        raise JobFailure(str(exc)) from exc
    except imagefile.ImageRejected as exc:
        raise JobFailure(f"step {index + 1} ({op}): {exc}") from exc
    if monitor.lost:
        raise _Stop()


def _run_film_step(
    job: Job, index: int, spec: Mapping[str, Any], source: Artifact, tag: str, monitor: _Monitor
) -> tuple[Artifact, None]:
    """A film step (``restoration.film_jobs``): chunked across workers, frames never here."""
    from restoration import film_jobs

    op = str(spec.get("op"))
    with _video_step_outcome(
        index, op, monitor, film_jobs.FilmStepCancelled, film_jobs.FilmStepFailed
    ):
        artifact = film_jobs.run_film_step(
            job=job,
            index=index,
            spec=spec,
            source=source,
            worker_tag=tag,
            report=monitor.report,
            should_stop=monitor.should_stop,
            time_limit_s=_step_limit_s(job, index),
        )
    return artifact, None


def _run_animate_step(
    job: Job,
    index: int,
    spec: Mapping[str, Any],
    source: Artifact,
    image: np.ndarray | None,
    monitor: _Monitor,
) -> tuple[Artifact, None]:
    """`animate` (``restoration.animate_jobs``): a synthetic step whose output is a video."""
    from restoration import animate_jobs

    assert image is not None
    with _video_step_outcome(
        index, "animate", monitor, animate_jobs.AnimateStepCancelled, animate_jobs.AnimateStepFailed
    ):
        step = animate_jobs.run_animate_step(
            job=job,
            index=index,
            spec=spec,
            source=source,
            image=image,
            report=monitor.report,
            should_stop=monitor.should_stop,
            time_limit_s=_step_limit_s(job, index),
        )
    return _image_output(step), None


def _record(
    job: Job,
    index: int,
    op: Any,
    params: dict[str, Any],
    inputs: list[NewInput],
    run: EngineRun,
    weights_by_param: Mapping[str, ModelWeights | None],
    started: dt.datetime,
    ended: dt.datetime,
) -> tuple[Artifact, np.ndarray]:
    result = run.result
    assert result is not None
    # The worker computes the change summary while this process encodes and stores the output.
    outputs = [output_from_array(result.image, role="image")]
    for role, array in sorted(result.outputs.items()):
        outputs.append(output_from_array(array, role=role))
    try:
        change = run.summary()
    except OperationFailed:  # a summary is evidence, not the product: record without it
        logger.warning("job %s step %s: no change summary", job.pk, index, exc_info=True)
        change = {}
    record = dict(result.record)
    weights = next((w for w in weights_by_param.values() if w is not None), None)
    try:
        step = step_record_or_discard(
            kind="ai" if op.kind == "ai" else "classical",
            operation=op.name,
            operation_version=op.version,
            parameters=params,
            inputs=inputs,
            outputs=outputs,
            started_at=started,
            ended_at=ended,
            user=job.requester,
            on_behalf_of=job.on_behalf_of,
            weights=weights,
            software={**project_software_versions(), **(record.get("software") or {})},
            device=result.device,
            seed=job.seed,
            citation_ids=_citation_ids(record),
            reference_ids=_reference_ids([i.artifact for i in inputs[1:]]),
            run_record=record,
            change_summary=change,
            identity=run.identity,
            job_id=job.pk,
            job_index=index,
        )
    except IntegrityError:
        # Another worker recorded this position first (a lease takeover race): continue from
        # its output, so the chain of recorded steps stays consistent.
        existing = Step.objects.filter(job=job, job_index=index).first()
        if existing is None:
            raise
        artifact = _image_output(existing)
        return artifact, _decode(artifact, "input")
    made = step.output("image")
    assert made is not None  # step_record links every output it was given
    return made, result.image


def _step_limit_s(job: Job, index: int) -> float:
    """The limit fixed when the job was created; a job row made without one (not through
    ``job_create``) gets what ``job_time_limits`` gives its pipeline now."""
    limits = job.step_time_limits or job_time_limits(job.pipeline)[1]
    return float(limits[index])


def _image_output(step: Step) -> Artifact:
    link = StepOutput.objects.select_related("artifact").filter(step=step, role="image").first()
    if link is None:
        raise JobFailure(f"recorded step {step.pk} has no image output")
    return link.artifact


def _decode(artifact: Artifact, what: str) -> np.ndarray:
    try:
        with open_object(artifact.sha256) as fh:
            return imagefile.decode_rgb_or_grey(fh.read(), max_pixels=settings.ARCHIVE_MAX_PIXELS)
    except FileNotFoundError as exc:
        raise JobFailure(
            f"the {what} file of artifact {artifact.pk} is missing from storage"
        ) from exc
    except imagefile.ImageRejected as exc:
        raise JobFailure(f"the {what} artifact {artifact.pk} cannot be used: {exc}") from exc
    except (ValueError, SyntaxError, EOFError) as exc:
        raise JobFailure(f"the {what} artifact {artifact.pk} cannot be decoded: {exc}") from exc
    except OSError as exc:
        if "cannot identify" in str(exc) or "truncated" in str(exc):
            raise JobFailure(f"the {what} artifact {artifact.pk} cannot be decoded: {exc}") from exc
        raise


def _citation_ids(record: Mapping[str, Any]) -> list[int]:
    from archive.models import Citation

    wanted = set()
    for value in record.get("citations") or []:
        if isinstance(value, int) and not isinstance(value, bool):
            wanted.add(value)
        elif isinstance(value, str) and value.isdigit():
            wanted.add(int(value))
    return (
        sorted(Citation.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        if wanted
        else []
    )


def _reference_ids(artifacts: list[Artifact]) -> list[int]:
    """Reference images whose file a step used (e.g. color_transfer's reference)."""
    from archive.models import ReferenceImage

    if not artifacts:
        return []
    return sorted(
        ReferenceImage.objects.filter(artifact__in=artifacts).values_list("pk", flat=True)
    )


# --- endings ---------------------------------------------------------------------------------


def _stopped(job_id: int, tag: str, monitor: _Monitor) -> str:
    if monitor.lost:
        raise _Stop()
    who = Job.objects.filter(pk=job_id).values_list("cancel_requested_by", flat=True).first()
    job_transition(
        job_id=job_id,
        old=Status.RUNNING,
        new=Status.CANCELLED,
        expect={"claimed_by": tag},
        worker=tag,
        actor=who or "",
        error=cancel_reason(who or ""),
    )
    return "cancelled"


def _fail(job_id: int, tag: str, reason: str) -> str:
    job_transition(
        job_id=job_id,
        old=Status.RUNNING,
        new=Status.FAILED,
        expect={"claimed_by": tag},
        worker=tag,
        error=reason[:4000],
    )
    return "failed"


def _release(job_id: int, tag: str, exc: BaseException) -> None:
    """Give the claim back after a transient error so the retried delivery can claim it."""
    try:
        job_transition(
            job_id=job_id,
            old=Status.RUNNING,
            new=Status.QUEUED,
            expect={"claimed_by": tag},
            worker=tag,
            claimed_by="",
            error=f"retrying after {type(exc).__name__}: {exc}"[:4000],
        )
    except DatabaseError:  # the database itself is the problem: the lease will expire instead
        logger.warning("job %s: could not release the claim", job_id, exc_info=True)


def dead_reason(message: Mapping[str, Any], info: Mapping[str, Any]) -> str:
    """The last line of the traceback dramatiq kept with the message ("Type: text")."""
    trace = str((message.get("options") or {}).get("traceback") or "").strip()
    last = trace.splitlines()[-1] if trace else "unknown error"
    retries = info.get("retries")
    return f"{last} (after {retries} retries)" if retries else last


def job_dead(job_id: int, reason: str) -> bool:
    """A message for ``job_id`` died (retries exhausted, hard time limit): fail the job with
    the reason unless it already ended. Returns whether it was failed now."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status in TERMINAL:
        return False
    if job.status == Status.RUNNING and not lease_expired(job, now()):
        # A duplicate delivery gave up waiting while a live worker runs the job: that worker
        # ends it, so this dead message must not.
        return False
    return job_transition(
        job_id=job_id,
        old=job.status,
        new=Status.FAILED,
        expect={"claimed_by": job.claimed_by, "heartbeat_at": job.heartbeat_at},
        error=f"gave up: {reason}"[:4000],
    )
