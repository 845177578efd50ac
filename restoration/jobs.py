"""Writes of restoration jobs: create (validating the whole pipeline), cancel, resume.

A job is a row first and a broker message second: the message only carries the job id, so
losing a message (in-memory broker after a crash, broker outage at commit time) loses nothing;
``job_resume_stale`` re-enqueues what is unfinished. The state machine (transitions, leases,
time limits, the event history) lives in ``restoration.jobstate``; its names are re-exported
here for the callers of this module.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from access.visibility import User
from archive.selectors import artifact_is_visible, visible_citations
from restoration import dispatch
from restoration.admission import pipeline_memory_errors
from restoration.dispatch import job_queue
from restoration.ids import id_problem, parse_id
from restoration.jobstate import (
    ALLOWED_TRANSITIONS,
    TERMINAL,
    UNFINISHED,
    InvalidTransition,
    cancel_reason,
    job_created_event,
    job_time_limits,
    job_transition,
    lease_expired_q,
    now,
)
from restoration.models import Artifact, Job, ModelWeights
from restoration.registry import engine_env

__all__ = [
    "ALLOWED_TRANSITIONS",
    "TERMINAL",
    "UNFINISHED",
    "InvalidTransition",
    "JobNotCancellable",
    "JobValidationError",
    "enqueue",
    "job_cancel",
    "job_create",
    "job_resume_stale",
    "job_transition",
    "now",
]

logger = logging.getLogger(__name__)

Status = Job.Status

# AI operations whose `model` parameter must name weights of this purpose.
MODEL_PURPOSES: dict[str, str] = {
    "sr": "sr",
    "face_restore": "face_restore",
    "colorize": "colorize",
}


class JobValidationError(ValidationError):
    """A job request refused before anything was queued; ``message_dict`` maps each bad field
    (``input``, ``steps``, ``steps[1].op``, ``steps[0].params.strength``...) to its messages."""

    def __init__(self, errors: Mapping[str, str | list[str]]) -> None:
        super().__init__({k: v if isinstance(v, list) else [v] for k, v in errors.items()})


class JobNotCancellable(RuntimeError):
    """The job already ended (succeeded or failed); its status is in ``status``."""

    def __init__(self, job: Job) -> None:
        super().__init__(
            f"job {job.pk} already {job.status}; only queued or running jobs can be cancelled"
        )
        self.status = job.status


# --- create ------------------------------------------------------------------------------------


def job_create(
    *,
    user: User,
    input_id: Any,
    steps: Any,
    seed: int = 0,
    on_behalf_of: str = "",
) -> Job:
    """Validate a whole pipeline and queue it.

    ``steps`` is ``[{"op": name, "params": {...}}, ...]``. Checked up front, each failure named
    by field: the input artifact exists and ``user`` may see it; every op exists and is
    available here; params pass the op's validation; ``model`` params name registered weights
    (by name or id) of the op's purpose whose file is present; ``artifact`` params (e.g.
    ``color_transfer.reference``) name artifacts ``user`` may see; hint citations exist and are
    visible; the predicted peak memory of every step fits the engine workers' budget
    (``restoration.admission``). Raises ``JobValidationError``. The stored pipeline keeps the normalised params
    and, under ``resolved``, the ids they were resolved to. Enqueued on commit."""
    errors: dict[str, list[str]] = {}
    artifact = _resolve_input(input_id, user, errors)
    pipeline = _validate_steps(steps, user, errors)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        errors.setdefault("seed", []).append(f"must be an integer in [0, 2^63), got {seed!r}")
    if not errors and artifact is not None and pipeline is not None:
        from restoration.film_jobs import film_pipeline_errors, is_film_operation

        if artifact.media_type.startswith("video/") or any(
            is_film_operation(spec["op"]) for spec in pipeline
        ):
            errors.update(film_pipeline_errors(source=artifact, pipeline=pipeline))
        else:
            errors.update(pipeline_memory_errors(source=artifact, pipeline=pipeline))
        if not errors:  # issue 12: animate takes a still and must be the last step
            from restoration.animate_jobs import animate_pipeline_errors

            errors.update(animate_pipeline_errors(source=artifact, pipeline=pipeline))
    if errors:
        raise JobValidationError(errors)
    assert artifact is not None and pipeline is not None
    from restoration.animate_jobs import localise_animate_labels

    localise_animate_labels(pipeline)  # issue 12: the label in the requester's language
    # A signed-in user (AnonymousUser is no instance of the user model), else no requester.
    requester = user if isinstance(user, get_user_model()) else None
    time_limit_s, step_time_limits = job_time_limits(pipeline)
    if artifact.media_type.startswith("video/"):
        from restoration.film_jobs import film_time_limits

        time_limit_s, step_time_limits = film_time_limits(artifact, pipeline, step_time_limits)
    with transaction.atomic():
        job = Job.objects.create(
            input=artifact,
            pipeline=pipeline,
            requester=requester,
            on_behalf_of=on_behalf_of,
            seed=seed,
            time_limit_s=time_limit_s,
            step_time_limits=step_time_limits,
        )
        job_created_event(job=job, actor=requester.get_username() if requester else "")
        job_id = job.pk
        transaction.on_commit(lambda: enqueue(job_id))
    return job


def _resolve_input(input_id: Any, user: User, errors: dict[str, list[str]]) -> Artifact | None:
    pk = _as_id(input_id)
    if pk is None:
        errors.setdefault("input", []).append(f"must be an artifact id (integer), got {input_id!r}")
        return None
    artifact = Artifact.objects.filter(pk=pk).first()
    # An artifact the user may not see is reported exactly like a missing one (no leak).
    if artifact is None or not artifact_is_visible(pk, user):
        errors.setdefault("input", []).append(f"artifact {pk} does not exist")
        return None
    if artifact.role != "image":
        errors.setdefault("input", []).append(
            f"artifact {pk} is a {artifact.role}, not an image; a job needs an image input"
        )
        return None
    return artifact


def _as_id(value: Any) -> int | None:
    return parse_id(value)  # restoration/ids.py: also refuses ids beyond the database's bigint


def _validate_steps(steps: Any, user: User, errors: dict[str, list[str]]) -> list[dict] | None:
    from restoration.engine import EngineError, ParamError, get_operation

    if not isinstance(steps, list | tuple) or not steps:
        errors.setdefault("steps", []).append("must be a non-empty list of {op, params}")
        return None
    if len(steps) > settings.JOB_MAX_STEPS:
        errors.setdefault("steps", []).append(
            f"at most {settings.JOB_MAX_STEPS} steps per job, got {len(steps)}"
        )
        return None
    env = engine_env()
    pipeline: list[dict] = []
    for index, spec in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(spec, Mapping):
            errors.setdefault(where, []).append("must be an object {op, params}")
            continue
        unknown = sorted(str(k) for k in spec if k not in {"op", "params"})
        if unknown:
            errors.setdefault(f"{where}.{unknown[0]}", []).append(
                "unknown key (allowed: op, params)"
            )
            continue
        from restoration.film_jobs import get_film_op, is_film_operation, validate_film_step

        if is_film_operation(spec.get("op")):
            # A film operation (restoration.engine.film): its own validation and references.
            film_op = get_film_op(spec["op"])
            film_params = validate_film_step(film_op, spec.get("params"), where, errors)
            if film_params is not None:
                resolved = _resolve_film_references(
                    film_op, film_params, user, f"{where}.params", errors
                )
                pipeline.append({"op": film_op.name, "params": film_params, "resolved": resolved})
            continue
        try:
            op = get_operation(spec.get("op"))
        except ParamError as exc:
            errors.setdefault(f"{where}.op", []).append(exc.message)
            continue
        availability = op.availability(env)
        if not availability.ok:
            errors.setdefault(f"{where}.op", []).append(
                f"operation {op.name!r} is unavailable here: {availability.reason}"
            )
            continue
        try:
            params = op.validate(spec.get("params"))
        except ParamError as exc:
            field = exc.field if exc.field == "params" else f"params.{exc.field}"
            errors.setdefault(f"{where}.{field}", []).append(exc.message)
            continue
        except EngineError as exc:
            errors.setdefault(f"{where}.params", []).append(str(exc))
            continue
        resolved = _resolve_references(op, params, user, f"{where}.params", errors)
        pipeline.append({"op": op.name, "params": params, "resolved": resolved})
    return pipeline


def _resolve_references(
    op: Any, params: dict[str, Any], user: User, where: str, errors: dict[str, list[str]]
) -> dict[str, dict[str, int]]:
    """Turn model / artifact params into ids (checked now; the runner loads them by id)."""
    resolved: dict[str, dict[str, int]] = {"models": {}, "artifacts": {}}
    for spec in op.params:
        value = params.get(spec.name)
        if value is None:
            continue
        field = f"{where}.{spec.name}"
        if spec.type == "model":
            weights, message = _resolve_weights(op.name, value)
            if weights is None:
                errors.setdefault(field, []).append(message)
            else:
                resolved["models"][spec.name] = weights.pk
        elif spec.type == "artifact":
            pk = _as_id(value)
            if pk is None or not artifact_is_visible(pk, user):
                errors.setdefault(field, []).append(f"artifact {value!r} does not exist")
            else:
                resolved["artifacts"][spec.name] = pk
        elif spec.type == "hints":
            _check_hint_citations(value, user, field, errors)
    return resolved


def _resolve_film_references(
    op: Any, params: dict[str, Any], user: User, where: str, errors: dict[str, list[str]]
) -> dict[str, dict[str, int]]:
    """Models and artifacts a film operation needs (``models_needed``/``artifacts_needed``),
    resolved to ids now; hint citations checked like ``colorize_hints``'."""
    resolved: dict[str, dict[str, int]] = {"models": {}, "artifacts": {}}
    for key, value in op.models_needed(params).items():
        weights, message = _resolve_weights(op.name, value)
        if weights is None:
            errors.setdefault(f"{where}.{key}", []).append(message)
        else:
            resolved["models"][key] = weights.pk
    for key, value in op.artifacts_needed(params).items():
        pk = _as_id(value)
        if pk is None or not artifact_is_visible(pk, user):
            errors.setdefault(f"{where}.{key}", []).append(f"artifact {value!r} does not exist")
        else:
            resolved["artifacts"][key] = pk
    for spec in op.params:
        if spec.type == "hints" and params.get(spec.name) is not None:
            _check_hint_citations(params[spec.name], user, f"{where}.{spec.name}", errors)
    return resolved


def _resolve_weights(op_name: str, value: Any) -> tuple[ModelWeights | None, str]:
    from restoration.registry import ModelNotUsable, model_resolve, model_usability

    purpose = MODEL_PURPOSES.get(op_name)
    try:
        if purpose:
            return model_resolve(value, purpose=purpose), ""
        # An op that takes a model of any purpose: resolve by id or name, check usability.
        pk = _as_id(value)
        weights = ModelWeights.objects.filter(pk=pk).first() if pk is not None else None
        if weights is None and isinstance(value, str):
            weights = ModelWeights.objects.filter(name=value).first()
        if weights is None:
            raise ModelNotUsable(f"no registered model named or numbered {value!r}")
        reason = model_usability(weights)
        if reason:
            raise ModelNotUsable(reason)
        return weights, ""
    except ModelNotUsable as exc:
        message = str(exc)
        if purpose:
            names = list(
                ModelWeights.objects.filter(purpose=purpose, available=True).values_list(
                    "name", flat=True
                )[:20]
            )
            message += f" (registered {purpose} models: {', '.join(names) or 'none'})"
        return None, message


def _check_hint_citations(hints: Any, user: User, field: str, errors: dict[str, list[str]]) -> None:
    from archive.models import Citation

    wanted: dict[int, list[int]] = {}
    for index, hint in enumerate(hints or []):
        citation = hint.get("citation") if isinstance(hint, Mapping) else None
        if citation is None:
            continue
        pk = _as_id(citation)
        if pk is None:
            errors.setdefault(f"{field}[{index}].citation", []).append(
                id_problem(citation, "citation")
            )
            continue
        wanted.setdefault(pk, []).append(index)
    if not wanted:
        return
    found = set(
        visible_citations(Citation.objects.filter(pk__in=wanted), user).values_list("pk", flat=True)
    )
    for pk, indexes in sorted(wanted.items()):
        if pk not in found:
            for index in indexes:
                errors.setdefault(f"{field}[{index}].citation", []).append(
                    f"citation {pk} does not exist"
                )


# --- enqueue, cancel, resume -------------------------------------------------------------------


def enqueue(job_id: int) -> bool:
    """Send the job's message (to ``job_queue``'s queue). A broker failure is logged, not
    raised: the row stays queued and ``job_resume_stale`` sends it again, so the request that
    created it still succeeds."""
    try:
        limit_s, pipeline = Job.objects.values_list("time_limit_s", "pipeline").get(pk=job_id)
        # By actor name (restoration.dispatch): on the GPU queue for a job with an AI step,
        # where its retries stay too (dramatiq requeues a message on its own queue).
        dispatch.send("job_run", (job_id,), queue=job_queue(pipeline), time_limit_ms=limit_s * 1000)
    except Exception:  # broker down: the job is a row first, resume picks it up
        logger.exception("could not enqueue job %s; it stays queued until resumed", job_id)
        return False
    return True


def faces_enqueue(artifact_id: int) -> bool:
    """Send the face-indexing message of a new artifact (``restoration.faces``); a broker
    failure is logged: ``manage.py faces_index`` indexes what was missed."""
    if not settings.ARCHIVE_FACE_INDEX:
        return False
    try:
        dispatch.send("faces_index", (artifact_id,))
    except Exception:
        logger.exception("could not enqueue face indexing of artifact %s", artifact_id)
        return False
    return True


def job_cancel(*, job_id: int, user: User = None) -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one stops at its next
    tile or step boundary (the runner polls ``cancel_requested``); a running job whose worker
    died (lease expired) is cancelled at once. Cancelling a cancelled job is a no-op; a job that
    already succeeded or failed raises ``JobNotCancellable``. Permission checks are the
    caller's (the API decides who may cancel whose job)."""
    who = user.get_username() if user is not None and user.is_authenticated else ""
    reason = cancel_reason(who)
    Job.objects.filter(id=job_id, status__in=UNFINISHED).update(
        cancel_requested=True, cancel_requested_by=who
    )
    if not job_transition(
        job_id=job_id, old=Status.QUEUED, new=Status.CANCELLED, actor=who, error=reason
    ):
        job_transition(
            job_id=job_id,
            old=Status.RUNNING,
            new=Status.CANCELLED,
            actor=who,
            where=lease_expired_q(now()),
            error=reason,
        )
    job = Job.objects.get(pk=job_id)
    if job.status in (Status.SUCCEEDED, Status.FAILED):
        raise JobNotCancellable(job)
    return job


def job_resume_stale(*, embedded: bool | None = None, queued_grace_s: int = 300) -> list[int]:
    """Re-enqueue jobs left unfinished by a crash; returns their ids.

    Embedded mode (``BROKER_URL=memory``, the default for ``embedded=None``): this process is
    the only worker and its in-memory queue died with the last one, so every running job is
    released to queued (its half-done step is redone; recorded steps are reused) and every
    queued job is sent again. With an external broker, messages survive worker crashes and are
    re-delivered; only running jobs whose lease expired, and queued jobs untouched for
    ``queued_grace_s`` (a lost send), are sent again. A duplicate message is harmless: the
    claim is conditional and a job that already ended is skipped."""
    if embedded is None:
        embedded = settings.BROKER_IS_MEMORY
    if embedded:
        for job_id in Job.objects.filter(status=Status.RUNNING).values_list("id", flat=True):
            job_transition(
                job_id=job_id,
                old=Status.RUNNING,
                new=Status.QUEUED,
                claimed_by="",
                error="resumed after a restart; the unfinished step is redone",
            )
        ids = list(
            Job.objects.filter(status=Status.QUEUED).order_by("id").values_list("id", flat=True)
        )
    else:
        stamp = now()
        grace = stamp - dt.timedelta(seconds=queued_grace_s)
        candidates = Job.objects.filter(
            lease_expired_q(stamp) | Q(status=Status.QUEUED, updated_at__lt=grace)
        ).values_list("id", "updated_at")
        # Touching updated_at conditionally elects one sender per stale job when several
        # workers sweep at once; the delivery then takes over once the lease runs out.
        ids = [
            job_id
            for job_id, seen in candidates.order_by("id")
            if Job.objects.filter(id=job_id, updated_at=seen).update(updated_at=stamp) == 1
        ]
    for job_id in ids:
        enqueue(job_id)
    if ids:
        logger.info("resumed %d unfinished job(s): %s", len(ids), ids[:20])
    return ids
