"""job_transition / job_cancel / job_resume_stale: one table, conditional updates."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from restoration.jobs import (
    ALLOWED_TRANSITIONS,
    InvalidTransition,
    JobNotCancellable,
    job_cancel,
    job_create,
    job_resume_stale,
    job_transition,
)
from restoration.models import Job

S = Job.Status


@pytest.fixture
def job(user, master, sent):
    return job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}])


def status(job: Job) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job.pk)


@pytest.mark.django_db
def test_the_table_allows_only_the_status_machine(job):
    assert ALLOWED_TRANSITIONS[S.SUCCEEDED] == ALLOWED_TRANSITIONS[S.FAILED] == frozenset()
    assert ALLOWED_TRANSITIONS[S.CANCELLED] == frozenset()
    with pytest.raises(InvalidTransition):
        job_transition(job_id=job.pk, old=S.QUEUED, new=S.SUCCEEDED)
    with pytest.raises(InvalidTransition):
        job_transition(job_id=job.pk, old=S.SUCCEEDED, new=S.RUNNING)
    assert job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="a")
    assert job_transition(job_id=job.pk, old=S.RUNNING, new=S.SUCCEEDED)
    job.refresh_from_db()
    assert job.status == S.SUCCEEDED and job.ended_at is not None


@pytest.mark.django_db
def test_the_update_is_conditional(job):
    assert job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="a")
    # A second claimer sees the job no longer queued: it loses, nothing is overwritten.
    assert not job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="b")
    assert not job_transition(
        job_id=job.pk, old=S.RUNNING, new=S.SUCCEEDED, expect={"claimed_by": "b"}
    )
    job.refresh_from_db()
    assert (job.status, job.claimed_by) == (S.RUNNING, "a")


@pytest.mark.django_db(transaction=True)
def test_racing_claims_have_one_winner(user, master, sent):
    """Threads with their own connections race on the same rows: exactly one claim each."""
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memory"):
        pytest.skip("in-memory SQLite shares one cache between threads; run on PostgreSQL")
    jobs = [
        job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}]).pk for _ in range(20)
    ]
    wins: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    barrier = threading.Barrier(len(wins))

    def claimer(tag: str) -> None:
        barrier.wait()
        try:
            for job_id in jobs:
                if job_transition(job_id=job_id, old=S.QUEUED, new=S.RUNNING, claimed_by=tag):
                    wins[tag].append(job_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(tag,)) for tag in wins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = sorted(j for won in wins.values() for j in won)
    assert claimed == sorted(jobs)  # every job claimed once, none twice


@pytest.mark.django_db
def test_cancel_a_queued_job_at_once(job, user):
    cancelled = job_cancel(job_id=job.pk, user=user)
    assert cancelled.status == S.CANCELLED
    assert cancelled.cancel_requested and cancelled.error == "cancelled by restorer"
    assert job_cancel(job_id=job.pk, user=user).status == S.CANCELLED  # idempotent


@pytest.mark.django_db
def test_cancel_a_running_job_sets_the_flag(job):
    job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="w")
    result = job_cancel(job_id=job.pk)
    assert result.status == S.RUNNING and result.cancel_requested


@pytest.mark.django_db
def test_cancel_a_running_job_whose_worker_died(job, settings):
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 5)
    job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="w", heartbeat_at=stale)
    assert job_cancel(job_id=job.pk).status == S.CANCELLED


@pytest.mark.django_db
def test_finished_jobs_cannot_be_cancelled(job):
    job_transition(job_id=job.pk, old=S.QUEUED, new=S.FAILED, error="x")
    with pytest.raises(JobNotCancellable) as exc:
        job_cancel(job_id=job.pk)
    assert exc.value.status == S.FAILED


@pytest.mark.django_db
def test_resume_in_embedded_mode_requeues_everything_unfinished(user, master, sent):
    jobs = [
        job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}]) for _ in range(3)
    ]
    job_transition(job_id=jobs[0].pk, old=S.QUEUED, new=S.RUNNING, claimed_by="dead")
    job_transition(job_id=jobs[2].pk, old=S.QUEUED, new=S.CANCELLED)
    sent.clear()
    assert job_resume_stale(embedded=True) == [jobs[0].pk, jobs[1].pk]
    assert sent == [jobs[0].pk, jobs[1].pk]
    assert status(jobs[0]) == S.QUEUED  # released: the next delivery claims it at once


@pytest.mark.django_db
def test_resume_with_a_broker_only_takes_abandoned_jobs(user, master, sent, settings):
    jobs = [
        job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}]) for _ in range(4)
    ]
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    job_transition(job_id=jobs[0].pk, old=S.QUEUED, new=S.RUNNING, claimed_by="live")
    job_transition(
        job_id=jobs[1].pk, old=S.QUEUED, new=S.RUNNING, claimed_by="dead", heartbeat_at=old
    )
    Job.objects.filter(pk=jobs[2].pk).update(updated_at=old)  # queued, message lost long ago
    sent.clear()
    assert job_resume_stale(embedded=False) == [jobs[1].pk, jobs[2].pk]
    assert status(jobs[1]) == S.RUNNING  # the claim decides; resume only re-sends
