"""The job state machine, each rule in one place: the allowed transitions, the terminal and
unfinished states, the lease (heartbeat field and expiry predicate), the time limits fixed at
creation, and ``job_transition``, the only writer of ``Job.status``.

Every transition is a conditional ``UPDATE ... WHERE id = ? AND status = old [AND expect]``
that at most one caller wins (the healthchecks ``sendalerts`` claim), and the winner writes a
``JobEvent`` (who, when, from, to, reason, worker) in the same transaction: a change without
its event, or an event without its change, cannot be committed. A lost race writes nothing.

Imports only the models and settings, so the runner, the actors and ``restoration.jobs`` can
all use it without importing each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from restoration.models import Job, JobEvent

Status = Job.Status

TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})
UNFINISHED = (Status.QUEUED, Status.RUNNING)

# The one allowed-transition table. running -> running is a lease takeover (another worker
# claims a job whose worker stopped heartbeating); running -> queued releases a claim after a
# transient error or at an embedded restart, so that the next delivery may claim it again.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
    Status.RUNNING: frozenset(
        {Status.RUNNING, Status.QUEUED, Status.SUCCEEDED, Status.FAILED, Status.CANCELLED}
    ),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}

# Slack on top of the steps' limits for one run: claiming, decoding, recording.
RUN_MARGIN_S = 60


class InvalidTransition(RuntimeError):
    """A status change the table does not allow (a programming error, not a race)."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- the lease ---------------------------------------------------------------------------------


def identity_samples() -> int:
    """Frames of a video step's output sampled for its identity check (0: no check)."""
    if not settings.ARCHIVE_IDENTITY_CHECK:
        return 0
    return max(2, settings.ARCHIVE_IDENTITY_VIDEO_SAMPLES)


def lease_seconds() -> int:
    """How long a running job's worker may stay silent before the job counts as abandoned."""
    return int(settings.JOB_LEASE_SECONDS)


def lease_expired(job: Job, at: dt.datetime) -> bool:
    """The lease predicate: ``job`` runs, and its worker's last heartbeat is a full lease old
    (or missing). Such a job may be taken over, cancelled at once, or failed by a dead
    message. ``lease_expired_q`` is the same rule for a query."""
    if job.status != Status.RUNNING:
        return False
    return job.heartbeat_at is None or job.heartbeat_at <= _lease_cutoff(at)


def lease_expired_q(at: dt.datetime) -> Q:
    """``lease_expired`` as a filter (same cutoff, same rule), for sweeps and conditions."""
    return Q(status=Status.RUNNING) & (
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lte=_lease_cutoff(at))
    )


def lease_left_s(job: Job, at: dt.datetime) -> float:
    """Seconds until a running job's lease expires (0 when it has)."""
    if job.heartbeat_at is None:
        return 0.0
    return max(0.0, (job.heartbeat_at - _lease_cutoff(at)).total_seconds())


def _lease_cutoff(at: dt.datetime) -> dt.datetime:
    return at - dt.timedelta(seconds=lease_seconds())


@dataclass(frozen=True)
class Beat:
    held: bool  # False: the job was cancelled after a lease expiry, or taken over
    cancel_requested: bool = False


def job_heartbeat(*, job_id: int, worker: str, progress: float, current_step: int) -> Beat:
    """Renew ``worker``'s lease on a running job and flush its progress; say whether it still
    holds the job and whether a cancel was asked for. Not a transition: no event."""
    held = Job.objects.filter(id=job_id, status=Status.RUNNING, claimed_by=worker).update(
        progress=progress, current_step=current_step, heartbeat_at=now()
    )
    if not held:
        return Beat(held=False)
    cancel = Job.objects.filter(id=job_id).values_list("cancel_requested", flat=True).first()
    return Beat(held=True, cancel_requested=bool(cancel))


def cancel_reason(who: str) -> str:
    """What a cancelled job's error and history say, whichever process ends the job: the
    request (``job_cancel``) or the worker that stops it (``runner``)."""
    return f"cancelled by {who}" if who else "cancelled on request"


# --- time limits -------------------------------------------------------------------------------


def job_time_limits(pipeline: Sequence[Mapping[str, Any]]) -> tuple[int, list[int]]:
    """The limits of a pipeline, fixed when the job is created: each step's (by the kind of
    its operation, ``JOB_TIME_LIMITS``) and the whole run's (their sum plus a margin). Stored
    on the job, so a settings change never alters the limits of a job already accepted."""
    from restoration.engine import EngineError, get_operation

    steps = []
    for spec in pipeline:
        try:
            kind = get_operation(spec["op"]).kind
        except EngineError:
            kind = "classical"
        steps.append(int(settings.JOB_TIME_LIMITS.get(kind, settings.JOB_TIME_LIMITS["classical"])))
    return RUN_MARGIN_S + sum(steps), steps


# --- transitions -------------------------------------------------------------------------------


def job_transition(
    *,
    job_id: int,
    old: str,
    new: str,
    reason: str = "",
    actor: str = "",
    worker: str = "",
    expect: Mapping[str, Any] | None = None,
    where: Q | None = None,
    **changes: Any,
) -> bool:
    """Move job ``job_id`` from ``old`` to ``new`` if it is still in ``old`` and matches
    ``expect`` (e.g. ``{"claimed_by": me}``) and ``where`` (e.g. ``lease_expired_q(now)``),
    applying ``changes`` in the same UPDATE, and record the ``JobEvent`` (``reason`` defaults
    to the ``error`` being set; ``worker`` to the ``claimed_by`` being set or expected).

    Returns False, writing nothing, when another caller changed the job first: the conditional
    UPDATE is the lock, so two workers can never both claim a job, and a late worker cannot
    overwrite a cancel. Raises ``InvalidTransition`` for a change the table does not allow."""
    if new not in ALLOWED_TRANSITIONS.get(old, frozenset()):
        raise InvalidTransition(f"job status {old!r} -> {new!r} is not an allowed transition")
    stamp = now()
    changes.setdefault("updated_at", stamp)  # queryset.update() skips auto_now
    if new == Status.RUNNING:
        changes.setdefault("heartbeat_at", stamp)  # a claim starts the lease
    if new in TERMINAL:
        changes.setdefault("ended_at", stamp)
    rows = Job.objects.filter(id=job_id, status=old, **(expect or {}))
    if where is not None:
        rows = rows.filter(where)
    with transaction.atomic():
        if rows.update(status=new, **changes) != 1:
            return False
        JobEvent(
            job_id=job_id,
            at=stamp,
            actor=actor[:150],
            worker=(worker or _worker_named(changes, expect))[:200],
            from_status=old,
            to_status=new,
            reason=reason or str(changes.get("error") or ""),
        ).save()
    return True


def _worker_named(changes: Mapping[str, Any], expect: Mapping[str, Any] | None) -> str:
    """The worker a transition concerns when the caller did not say: the one claiming, else
    the one whose claim the change was conditional on."""
    return str(changes.get("claimed_by") or (expect or {}).get("claimed_by") or "")


def job_created_event(*, job: Job, actor: str = "", reason: str = "submitted") -> None:
    """The first line of a job's history (call in the transaction that created the job)."""
    JobEvent(
        job=job, at=job.created_at, actor=actor[:150], to_status=job.status, reason=reason
    ).save()
