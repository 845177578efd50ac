"""The job state module: one event per transition (in the same transaction), the lease
predicate and the heartbeat field, time limits fixed at creation, the history shown by the API
and the job page."""

from __future__ import annotations

import datetime as dt

import pytest

from restoration import jobstate, runner
from restoration.jobs import job_cancel, job_create
from restoration.jobstate import (
    InvalidTransition,
    job_heartbeat,
    job_transition,
    lease_expired,
    lease_expired_q,
)
from restoration.models import Job, JobEvent

S = Job.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def job(user, master, sent):
    return job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}])


def history(job: Job) -> list[tuple[str, str, str, str]]:
    return [
        (e.from_status, e.to_status, e.actor, e.worker)
        for e in JobEvent.objects.filter(job=job).order_by("at", "id")
    ]


def test_creation_is_the_first_event(job):
    event = JobEvent.objects.get(job=job)
    assert (event.from_status, event.to_status, event.actor) == ("", S.QUEUED, "restorer")
    assert event.at == job.created_at and event.reason == "submitted"


def test_each_transition_writes_exactly_one_event(job):
    assert job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="w1")
    assert job_transition(
        job_id=job.pk,
        old=S.RUNNING,
        new=S.FAILED,
        expect={"claimed_by": "w1"},
        error="step 1 (grayscale): out of memory",
    )
    assert history(job) == [
        ("", S.QUEUED, "restorer", ""),
        (S.QUEUED, S.RUNNING, "", "w1"),
        (S.RUNNING, S.FAILED, "", "w1"),
    ]
    last = JobEvent.objects.filter(job=job).latest("id")
    job.refresh_from_db()
    assert last.reason == "step 1 (grayscale): out of memory"
    assert last.at == job.ended_at == job.updated_at  # one instant: the change and its event


def test_a_lost_or_refused_transition_writes_no_event(job):
    before = history(job)
    assert job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="a")
    # Lost races: wrong old status, wrong claimant.
    assert not job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="b")
    assert not job_transition(
        job_id=job.pk, old=S.RUNNING, new=S.SUCCEEDED, expect={"claimed_by": "b"}
    )
    assert not job_transition(
        job_id=job.pk, old=S.RUNNING, new=S.CANCELLED, where=lease_expired_q(jobstate.now())
    )
    with pytest.raises(InvalidTransition):
        job_transition(job_id=job.pk, old=S.RUNNING, new=S.RUNNING + "x")
    assert len(history(job)) == len(before) + 1


def test_the_event_and_the_change_commit_together(job, monkeypatch):
    """If the event cannot be written, the status change is rolled back with it."""

    def refuse(self, *args, **kwargs):
        raise RuntimeError("event table unavailable")

    monkeypatch.setattr(JobEvent, "save", refuse)
    with pytest.raises(RuntimeError):
        job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="w")
    job.refresh_from_db()
    assert (job.status, job.claimed_by, job.heartbeat_at) == (S.QUEUED, "", None)


def test_events_are_append_only(job):
    from restoration.models import AppendOnlyError

    event = JobEvent.objects.get(job=job)
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        JobEvent.objects.filter(job=job).update(reason="rewritten")


def test_cancel_records_who_asked(job, user):
    job_cancel(job_id=job.pk, user=user)
    event = JobEvent.objects.filter(job=job).latest("id")
    assert (event.from_status, event.to_status, event.actor) == (S.QUEUED, S.CANCELLED, "restorer")
    assert event.reason == "cancelled by restorer"


def test_lease_predicate_and_its_query_agree(user, master, sent, settings):
    settings.JOB_LEASE_SECONDS = 30
    at = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    cases = {
        "queued": (S.QUEUED, None, False),
        "fresh": (S.RUNNING, at - dt.timedelta(seconds=29), False),
        "just_expired": (S.RUNNING, at - dt.timedelta(seconds=30), True),
        "old": (S.RUNNING, at - dt.timedelta(hours=1), True),
        "no_heartbeat": (S.RUNNING, None, True),
        "ended": (S.FAILED, at - dt.timedelta(hours=1), False),
    }
    ids = {}
    for name, (status, beat, _) in cases.items():
        job = job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}])
        Job.objects.filter(pk=job.pk).update(status=status, heartbeat_at=beat)
        ids[name] = job.pk
    expired_by_query = set(Job.objects.filter(lease_expired_q(at)).values_list("id", flat=True))
    for name, (_, _, expired) in cases.items():
        job = Job.objects.get(pk=ids[name])
        assert lease_expired(job, at) is expired, name
        assert (job.pk in expired_by_query) is expired, name
    # The lease is the heartbeat, not any other write: touching updated_at does not renew it.
    Job.objects.filter(pk=ids["old"]).update(updated_at=at)
    assert lease_expired(Job.objects.get(pk=ids["old"]), at)


def test_the_heartbeat_renews_the_lease_of_the_holder_only(job, settings):
    settings.JOB_LEASE_SECONDS = 30
    old = jobstate.now() - dt.timedelta(minutes=5)
    job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="w", heartbeat_at=old)
    assert lease_expired(Job.objects.get(pk=job.pk), jobstate.now())
    events = len(history(job))
    beat = job_heartbeat(job_id=job.pk, worker="w", progress=0.5, current_step=0)
    assert beat.held and not beat.cancel_requested
    job.refresh_from_db()
    assert job.progress == 0.5 and not lease_expired(job, jobstate.now())
    assert not job_heartbeat(job_id=job.pk, worker="other", progress=0.9, current_step=0).held
    job_cancel(job_id=job.pk)  # live lease: the flag only
    assert job_heartbeat(job_id=job.pk, worker="w", progress=0.6, current_step=0).cancel_requested
    assert len(history(job)) == events  # heartbeats are not transitions


def test_the_runner_monitor_beats_through_the_heartbeat_field(job):
    job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="w")
    Job.objects.filter(pk=job.pk).update(heartbeat_at=None)
    monitor = runner._Monitor(job_id=job.pk, tag="w", steps=1, interval=1.0)
    monitor.beat()
    assert Job.objects.get(pk=job.pk).heartbeat_at is not None and not monitor.lost
    takeover = runner._Monitor(job_id=job.pk, tag="not-me", steps=1, interval=1.0)
    takeover.beat()
    assert takeover.lost


def test_a_claim_takes_over_an_expired_lease_and_says_so(job, settings):
    stale = jobstate.now() - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 5)
    job_transition(
        job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="dead", heartbeat_at=stale
    )
    claimed = runner.claim(job.pk, "alive")
    assert claimed is not None and claimed.claimed_by == "alive"
    takeover = JobEvent.objects.filter(job=job).latest("id")
    assert (takeover.from_status, takeover.to_status, takeover.worker) == (
        S.RUNNING,
        S.RUNNING,
        "alive",
    )
    assert "lease of dead expired" in takeover.reason


def test_time_limits_are_fixed_when_the_job_is_created(user, master, settings, monkeypatch):
    from restoration.jobs import enqueue

    settings.JOB_TIME_LIMITS = {"classical": 100, "ai": 1000}
    job = job_create(
        user=user,
        input_id=master.pk,
        steps=[{"op": "grayscale"}, {"op": "rotate", "params": {"angle": 90}}],
    )
    job.refresh_from_db()
    assert job.step_time_limits == [100, 100]
    assert job.time_limit_s == jobstate.RUN_MARGIN_S + 200
    # Later settings do not change an accepted job; its message carries the stored limit.
    settings.JOB_TIME_LIMITS = {"classical": 1, "ai": 1}
    sent: list[tuple] = []
    monkeypatch.setattr(
        "restoration.dispatch.send",
        lambda name, args, **options: sent.append((name, tuple(args), options)),
    )
    assert enqueue(job.pk)
    limit_ms = (jobstate.RUN_MARGIN_S + 200) * 1000
    assert sent == [
        ("job_run", (job.pk,), {"queue": settings.JOBS_QUEUE, "time_limit_ms": limit_ms})
    ]


@pytest.mark.django_db(transaction=True)  # the run's monitor thread reads the committed job
def test_a_run_leaves_its_whole_history(user, master, sent):
    job = job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}])
    assert runner.run_job(job.pk) == "succeeded"
    steps = [(e.from_status, e.to_status) for e in JobEvent.objects.filter(job=job)]
    assert steps == [("", S.QUEUED), (S.QUEUED, S.RUNNING), (S.RUNNING, S.SUCCEEDED)]
    claim, done = JobEvent.objects.filter(job=job).order_by("id")[1:]
    assert claim.worker == done.worker == runner.worker_tag()


def test_the_api_shows_the_history(job, user, client):
    from tests.api.conftest import client_for

    job_cancel(job_id=job.pk, user=user)
    user.is_superuser = True  # sees every job, whatever the roles do
    user.save()
    body = client_for(user).get(f"/api/v1/jobs/{job.pk}/").json()
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in body["events"]] == [
        ("", "queued", "restorer"),
        ("queued", "cancelled", "restorer"),
    ]
    assert body["events"][1]["reason"] == "cancelled by restorer"
    assert body["time_limit_s"] == Job.objects.get(pk=job.pk).time_limit_s


def test_the_schema_documents_the_history():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    job = schema["components"]["schemas"]["Job"]["properties"]
    assert job["events"]["type"] == "array"
    event = schema["components"]["schemas"]["JobEvent"]["properties"]
    assert set(event) == {"at", "from_status", "to_status", "actor", "worker", "reason"}


def test_the_job_page_shows_the_history_as_a_table(job, user, client):
    job_cancel(job_id=job.pk, user=user)
    user.is_superuser = True
    user.save()
    client.force_login(user)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert '<table class="job-events">' in page
    assert page.count('class="job-event"') == 2
    assert "cancelled by restorer" in page
    status = client.get(f"/jobs/{job.pk}/status.json").json()
    assert status["events_html"].count('class="job-event"') == 2


def test_the_job_admin_shows_the_history(job, client, django_user_model):
    django_user_model.objects.create_superuser("boss", "b@example.org", "pw-boss-1")
    client.login(username="boss", password="pw-boss-1")
    job_cancel(job_id=job.pk)
    page = client.get(f"/admin/restoration/job/{job.pk}/change/").content.decode()
    assert "submitted" in page and "cancelled" in page
