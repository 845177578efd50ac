"""The tiling actor, on the jobs' queue so that the same workers take it (autodiscovered by
django_dramatiq; ``tiles_request`` imports it to send). Ids in, idempotent."""

from __future__ import annotations

import dramatiq
from django.conf import settings

from interop import tiles


@dramatiq.actor(
    actor_name="iiif_tiles",
    queue_name=settings.JOBS_QUEUE,
    max_retries=5,
    min_backoff=settings.JOB_RETRY_MIN_BACKOFF_MS,
    max_backoff=settings.JOB_RETRY_MAX_BACKOFF_MS,
    time_limit=settings.JOB_TIME_LIMITS["classical"] * 1000,
)
def iiif_tiles(artifact_id: int) -> None:
    tiles.tiles_make(artifact_id)
