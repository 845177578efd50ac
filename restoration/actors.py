"""Dramatiq actors (autodiscovered by django_dramatiq). Thin: ids in, the runner does the work.

``job_run`` is idempotent: a redelivered or duplicated message finds the job ended (skipped),
busy elsewhere (retried later), or resumes it from its last recorded step.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from django.conf import settings

from restoration import runner


@dramatiq.actor(
    actor_name="job_run",
    queue_name=settings.JOBS_QUEUE,
    retry_when=runner.should_retry,
    min_backoff=settings.JOB_RETRY_MIN_BACKOFF_MS,
    max_backoff=settings.JOB_RETRY_MAX_BACKOFF_MS,
    # Not Callbacks' on_failure: that fires after every failed attempt, retried or not.
    on_retry_exhausted="job_dead",
    # Default hard limit; job_create's enqueue passes the pipeline's own limit per message.
    time_limit=sum(settings.JOB_TIME_LIMITS.values()) * 1000,
)
def job_run(job_id: int) -> None:
    runner.run_job(job_id)


if settings.ARCHIVE_GPU_QUEUE:
    # Jobs with an AI step are sent to this queue (restoration.dispatch.job_queue), as job_run
    # messages: declared here so that `rundramatiq --queues <it>` consumes it.
    job_run.broker.declare_queue(settings.ARCHIVE_GPU_QUEUE)


@dramatiq.actor(actor_name="job_dead", queue_name=settings.JOBS_QUEUE, max_retries=10)
def job_dead(message: dict[str, Any], info: dict[str, Any]) -> None:
    """A ``job_run`` message died (retries exhausted, or an error not worth retrying such as
    the hard time limit): fail its job with the reason, unless a live worker still runs it."""
    args = message.get("args") or []
    if not args:
        return
    runner.job_dead(int(args[0]), runner.dead_reason(message, info))


@dramatiq.actor(
    actor_name="film_chunk_run",
    queue_name=settings.JOBS_QUEUE,
    max_retries=0,  # a lost chunk is taken over by the coordinator through the lease
    time_limit=sum(settings.JOB_TIME_LIMITS.values()) * 1000,
)
def film_chunk_run(job_id: int, job_index: int, number: int) -> None:
    """One chunk of a chunked film step (``restoration.film_jobs``): idempotent, ids only."""
    from restoration import film_jobs

    film_jobs.chunk_run(job_id, job_index, number, runner.worker_tag())


@dramatiq.actor(actor_name="faces_index", queue_name=settings.JOBS_QUEUE, max_retries=3)
def faces_index(artifact_id: int) -> None:
    """Index one artifact's faces (``restoration.faces``): idempotent, an id only."""
    from restoration.faces import faces_index_artifact

    faces_index_artifact(artifact_id=artifact_id)
