"""Throttling of job submission: restorations are expensive, so one client cannot flood the
queue. The rate is read from settings on each request (``ARCHIVE_JOB_SUBMIT_RATE``, e.g.
``"30/min"``), so tests and deployments can change it without re-importing DRF.

The counts live in Django's default cache, which settings.py makes one shared by every server
process (Redis with ``CACHE_URL``, else files under ``ARCHIVE_DATA_DIR``): a per-process cache
would give each process the whole allowance again."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class JobSubmitThrottle(UserRateThrottle):
    scope = "job_submit"

    def get_rate(self) -> str | None:
        return settings.ARCHIVE_JOB_SUBMIT_RATE or None

    def allow_request(self, request, view):
        # The rate is re-read so that a changed setting applies at once.
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
