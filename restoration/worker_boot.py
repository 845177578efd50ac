"""Dramatiq middleware (listed in settings.DRAMATIQ_BROKER) that resumes stale jobs when a
worker boots, and with an external broker keeps sweeping for abandoned jobs while it runs.
Imported while django_dramatiq builds the broker, before the app registry is ready, so
nothing Django-model related is imported at module level."""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)


class ResumeStaleJobs(Middleware):
    """On worker boot, re-enqueue jobs a crash left unfinished (``job_resume_stale``).

    Embedded mode: the serve process is the only worker, so every unfinished job, once. With an
    external broker: jobs whose lease expired or whose message was lost, at boot and then about
    every lease period. A dead worker's messages come back from Redis only after its heartbeat
    times out and a maintenance run happens to fire, which can take many minutes on an idle
    cluster; the sweep makes recovery take about two lease periods instead."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        from django.conf import settings

        from restoration.jobstate import lease_seconds

        self._sweep()
        if not settings.BROKER_IS_MEMORY:
            period = max(1.0, float(lease_seconds()))
            thread = threading.Thread(
                target=self._loop, args=(period,), name="job-sweeper", daemon=True
            )
            thread.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()

    def _loop(self, period: float) -> None:
        # Jitter keeps many workers from sweeping in lockstep.
        while not self._stop.wait(period * random.uniform(0.75, 1.25)):
            self._sweep()

    @staticmethod
    def _sweep() -> None:
        from django.db import connection

        from restoration.jobs import job_resume_stale

        try:
            job_resume_stale()
        except Exception:  # e.g. migrations not applied yet: never stop the worker for it
            logger.exception("could not resume stale jobs")
        finally:
            connection.close()
