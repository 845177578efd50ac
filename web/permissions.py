"""Who may act (not just look). The permission names are the API's (``api.permissions``), so a
page offers exactly what the API would accept; the role groups of migration
``archive.0003_roles`` grant them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from api.permissions import CANCEL_ANY_JOB, RECORD_MANUAL_STEP, RUN_VERIFY, SUBMIT_JOB
from restoration.models import Job

User = AbstractBaseUser | AnonymousUser


def _has(user: User, perm: str) -> bool:
    return bool(user.is_authenticated and user.has_perm(perm))


def can_submit_jobs(user: User) -> bool:
    return _has(user, SUBMIT_JOB)


def can_record_manual_steps(user: User) -> bool:
    return _has(user, RECORD_MANUAL_STEP)


def can_verify(user: User) -> bool:
    return _has(user, RUN_VERIFY)


def can_cancel(user: User, job: Job) -> bool:
    """The requester may cancel their own job; ``change_job`` may cancel anyone's."""
    if not user.is_authenticated:
        return False
    return job.requester_id == user.pk or user.has_perm(CANCEL_ANY_JOB)
