"""Queue routing: which queue a message goes to, and sending it by actor name.

Messages are built here by the actor's *name* (``dramatiq.Message``) and enqueued on the broker,
so nothing below ``restoration.actors`` imports the actors (the actors import the runner, which
imports the jobs: importing them back made circles, hidden by imports inside functions). The
consuming worker applies the actor's own options (retries, callbacks, limits) when it takes the
message; per-message options (a job's time limit) travel in the message.

A plain ``django.setup()`` process (a script, the tests' harness) has not declared the actors on
its broker, and does not need to: the message names the actor and the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dramatiq
from django.conf import settings

from restoration.engine import EngineError, get_operation
from restoration.engine.film_run import film_operation, film_operation_names


def job_queue(pipeline: Any) -> str:
    """The dramatiq queue a job's messages go to: ``ARCHIVE_GPU_QUEUE`` when it is set and the
    pipeline has an AI operation (steps of kind ``ai``), so that only the GPU machines' workers
    (``rundramatiq --queues <it>``) take it; ``JOBS_QUEUE`` otherwise. A film step's kind
    depends on its params (``per_frame`` of ``sr``, ``interpolate`` with RIFE); its chunk
    messages go to the same queue."""
    gpu_queue = settings.ARCHIVE_GPU_QUEUE
    if gpu_queue:
        films = film_operation_names()
        for entry in pipeline or []:
            try:
                name = str(entry.get("op"))
                if name in films:
                    kind = film_operation(name).kind_for(entry.get("params") or {})
                else:
                    kind = get_operation(name).kind
                if kind == "ai":
                    return str(gpu_queue)
            except (EngineError, KeyError, AttributeError, TypeError):
                continue  # validated at creation; an op gone since fails in the runner
    return str(settings.JOBS_QUEUE)


def current_broker() -> dramatiq.Broker:
    """The process's broker (a test swaps it for a stub of its own)."""
    return dramatiq.get_broker()


def send(
    actor_name: str,
    args: Sequence[Any],
    *,
    queue: str | None = None,
    time_limit_ms: int | None = None,
) -> None:
    """Enqueue one message for ``actor_name`` (on ``queue``, default ``JOBS_QUEUE``). Raises
    what the broker raises (the callers keep the row and send again later)."""
    broker = current_broker()
    queue_name = queue or str(settings.JOBS_QUEUE)
    if queue_name not in broker.get_declared_queues():
        broker.declare_queue(queue_name)
    options: dict[str, Any] = {}
    if time_limit_ms is not None:
        options["time_limit"] = int(time_limit_ms)
    broker.enqueue(
        dramatiq.Message(
            queue_name=queue_name,
            actor_name=actor_name,
            args=tuple(args),
            kwargs={},
            options=options,
        )
    )
