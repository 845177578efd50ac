"""Who may act (not just look). Each action is one Django permission, granted by the role
groups of ``archive.roles``; the API (``api.permissions``) and the pages ask the same
functions, so a page offers exactly what the API would accept."""

from __future__ import annotations

from access.visibility import User, has_permission
from restoration.models import Job

SUBMIT_JOB = "restoration.add_job"
CANCEL_ANY_JOB = "restoration.change_job"
RECORD_MANUAL_STEP = "restoration.add_step"
RUN_VERIFY = "restoration.add_auditrun"


def can_submit_jobs(user: User) -> bool:
    return has_permission(user, SUBMIT_JOB)


def can_record_manual_steps(user: User) -> bool:
    return has_permission(user, RECORD_MANUAL_STEP)


def can_verify(user: User) -> bool:
    """Running verify records an audit run; reading the last one is open to whoever sees the
    artifact."""
    return has_permission(user, RUN_VERIFY)


def can_cancel(user: User, job: Job) -> bool:
    """The requester may cancel their own job; ``change_job`` may cancel anyone's.

    Whether the job is still running is the job state machine's question, not this one."""
    if user is None or not user.is_authenticated:
        return False
    return job.requester_id == user.pk or has_permission(user, CANCEL_ANY_JOB)


# Issue 14 (the workbench pages): cataloguing and approving, asked by the pages.
EDIT_CATALOGUE = "archive.change_figure"
APPROVE_RESTORATION = "archive.change_photo"


def can_catalogue(user: User) -> bool:
    """Create and edit catalogue records (the cataloguer role)."""
    return has_permission(user, EDIT_CATALOGUE)


def can_approve(user: User) -> bool:
    """Mark a photo's approved restoration (a curator: whoever may change photos)."""
    return has_permission(user, APPROVE_RESTORATION)
