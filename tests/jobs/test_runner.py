"""The runner: steps recorded once, resumed after a crash, failures classified, cancellation."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import OperationalError, connection

from restoration import runner
from restoration.jobs import job_cancel, job_create, job_transition
from restoration.models import Artifact, Job, Step
from tests.conftest import stored_files

S = Job.Status
PIPELINE = [{"op": "grayscale"}, {"op": "rotate", "params": {"angle": 90}}]


def make_job(user, master, steps=PIPELINE) -> Job:
    return job_create(user=user, input_id=master.pk, steps=steps)


def orphans(storage_root) -> list[str]:
    """Stored objects no Artifact row points at."""
    known = set(Artifact.objects.values_list("sha256", flat=True))
    return [p.name for p in stored_files(storage_root / "objects") if p.name not in known]


@pytest.mark.django_db
def test_a_job_runs_each_step_once_and_ends_with_one_output(user, master, sent, isolated_storage):
    job = make_job(user, master)
    assert runner.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    steps = list(Step.objects.filter(job=job).order_by("job_index"))
    assert [(s.job_index, s.operation) for s in steps] == [(0, "grayscale"), (1, "rotate")]
    assert (job.status, job.progress, job.current_step, job.attempts) == (S.SUCCEEDED, 1.0, 2, 1)
    assert job.output == steps[1].outputs.get()
    # The chain: step 1 consumed step 0's output; dimensions rotated.
    assert steps[1].inputs.get().artifact == steps[0].outputs.get()
    assert (job.output.width, job.output.height) == (master.height, master.width)
    assert steps[0].kind == "classical" and steps[0].user == user
    assert steps[0].software["engine"] and steps[0].software["project"]
    assert steps[0].run_record["operation"] == "grayscale"
    assert "mad" in steps[0].change_summary or steps[0].change_summary == {}
    # A redelivered message finds the job ended: nothing new.
    assert runner.run_job(job.pk) == "skipped"
    assert Step.objects.filter(job=job).count() == 2
    assert orphans(isolated_storage) == []


@pytest.mark.django_db
def test_a_crash_before_the_record_is_redone_and_adopts_the_stored_bytes(
    user, master, sent, isolated_storage, monkeypatch
):
    """SIGKILL between storing step 1's file and recording it: the file is an orphan until
    the redo, which computes the same bytes, finds them stored and records them."""
    job = make_job(user, master)
    real = runner.step_record_or_discard

    def crash_on_second(**kwargs):
        if kwargs["job_index"] == 1:
            raise OperationalError("simulated crash after the file was stored")
        return real(**kwargs)

    monkeypatch.setattr(runner, "step_record_or_discard", crash_on_second)
    with pytest.raises(OperationalError):
        runner.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == S.QUEUED and "OperationalError" in job.error  # released for a retry
    first = Step.objects.get(job=job, job_index=0)
    assert len(orphans(isolated_storage)) == 1

    monkeypatch.setattr(runner, "step_record_or_discard", real)
    assert runner.run_job(job.pk) == "succeeded"
    assert Step.objects.get(job=job, job_index=0).pk == first.pk  # reused, not recomputed
    assert Step.objects.filter(job=job).count() == 2
    job.refresh_from_db()
    assert job.attempts == 2 and job.error == ""
    assert orphans(isolated_storage) == []


@pytest.mark.django_db
def test_an_abandoned_running_job_is_taken_over(user, master, sent, settings):
    job = make_job(user, master)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="dead", heartbeat_at=old)
    assert runner.run_job(job.pk) == "succeeded"
    assert Job.objects.get(pk=job.pk).attempts == 1


@pytest.mark.django_db
def test_a_live_claim_makes_the_delivery_wait(user, master, sent):
    job = make_job(user, master)
    job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="alive")
    with pytest.raises(runner.JobBusy):
        runner.run_job(job.pk)
    assert runner.should_retry(0, runner.JobBusy("x"))
    assert not Step.objects.filter(job=job).exists()


@pytest.mark.django_db
def test_a_step_recorded_by_another_worker_wins_the_race(user, master, sent, monkeypatch):
    """Two workers computed step 0; the unique (job, job_index) constraint keeps one."""
    job = make_job(user, master)
    real = runner.step_record_or_discard
    recorded = []

    def other_worker_first(**kwargs):
        if not recorded:
            recorded.append(
                real(**{**kwargs, "started_at": kwargs["started_at"] - dt.timedelta(1)})
            )
        return real(**kwargs)

    monkeypatch.setattr(runner, "step_record_or_discard", other_worker_first)
    assert runner.run_job(job.pk) == "succeeded"
    step0 = Step.objects.get(job=job, job_index=0)
    assert step0.pk == recorded[0].pk
    assert Step.objects.get(job=job, job_index=1).inputs.get().artifact == step0.outputs.get()


@pytest.mark.django_db
def test_bad_input_fails_without_retry(user, master, sent, isolated_storage):
    job = make_job(user, master)
    (isolated_storage / master.storage_key).chmod(0o644)
    (isolated_storage / master.storage_key).unlink()
    assert runner.run_job(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == S.FAILED and "missing from storage" in job.error


@pytest.mark.django_db
def test_an_engine_refusal_fails_the_job_with_its_reason(user, master, sent):
    job = make_job(user, master, steps=[{"op": "crop", "params": {"rect": [0, 0, 10, 10]}}])
    Job.objects.filter(pk=job.pk).update(
        pipeline=[{"op": "crop", "params": {"rect": {"x": 90, "y": 0, "width": 50, "height": 5}}}]
    )
    assert runner.run_job(job.pk) == "failed"
    job.refresh_from_db()
    assert "step 1 (crop)" in job.error and "leaves the 96x64 image" in job.error
    assert not runner.should_retry(0, ValueError("bug"))


@pytest.mark.django_db
def test_transient_errors_retry_a_bounded_number_of_times(settings):
    settings.JOB_MAX_RETRIES = 2
    assert runner.should_retry(1, OperationalError("db restarting"))
    assert not runner.should_retry(2, OperationalError("db restarting"))


@pytest.mark.django_db
def test_crash_loops_end_after_max_attempts(user, master, sent, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    job = make_job(user, master)
    Job.objects.filter(pk=job.pk).update(attempts=3, error="worker died")
    assert runner.run_job(job.pk) == "skipped"
    job.refresh_from_db()
    assert job.status == S.FAILED and "gave up after 3 attempts" in job.error


@pytest.mark.django_db
def test_a_dead_message_fails_the_job_with_the_reason(user, master, sent):
    from restoration.actors import job_dead

    job = make_job(user, master)
    trace = "Traceback ...\ndramatiq.middleware.time_limit.TimeLimitExceeded: \n"
    job_dead.fn({"args": [job.pk], "options": {"traceback": trace}}, {"retries": 0})
    job.refresh_from_db()
    assert job.status == S.FAILED and "TimeLimitExceeded" in job.error
    job_dead.fn({"args": [job.pk]}, {"retries": 5})  # ended: untouched
    assert Job.objects.get(pk=job.pk).error == job.error


@pytest.mark.django_db
def test_a_dead_duplicate_does_not_fail_a_job_a_live_worker_runs(user, master, sent):
    from restoration.actors import job_dead

    job = make_job(user, master)
    job_transition(job_id=job.pk, old=S.QUEUED, new=S.RUNNING, claimed_by="alive")
    job_dead.fn({"args": [job.pk], "options": {"traceback": "JobBusy: x"}}, {"retries": 100})
    assert Job.objects.get(pk=job.pk).status == S.RUNNING


def test_only_dead_messages_reach_job_dead():
    """Retried attempts must not fail the job: job_run reports to job_dead only when dramatiq
    gives the message up (on_retry_exhausted), not after each failed attempt (on_failure)."""
    from restoration.actors import job_run

    assert job_run.options.get("on_retry_exhausted") == "job_dead"
    assert "on_failure" not in job_run.options


@pytest.mark.django_db
def test_cancel_before_the_claim(user, master, sent):
    job = make_job(user, master)
    job_cancel(job_id=job.pk)
    assert runner.run_job(job.pk) == "skipped"
    assert not Step.objects.filter(job=job).exists()


@pytest.mark.django_db(transaction=True)
def test_progress_per_tile_and_cancel_between_tiles(user, master, sent, slow_op, settings):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memory"):
        pytest.skip("the monitor thread needs a database other threads can share (PostgreSQL)")
    settings.JOB_LEASE_SECONDS = 1  # monitor beats every 0.25 s
    job = make_job(
        user, master, steps=[{"op": "grayscale"}, {"op": slow_op, "params": {"tiles": 200}}]
    )
    outcome: list[str] = []
    thread = threading.Thread(
        target=lambda: (outcome.append(runner.run_job(job.pk)), connection.close())
    )
    thread.start()
    seen = 0.0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and seen <= 0.6:
        seen = Job.objects.get(pk=job.pk).progress
        time.sleep(0.05)
    assert 0.5 < seen < 1.0  # step 2 of 2 is partly done: per-tile progress reached the row
    job_cancel(job_id=job.pk)
    thread.join(10)
    job.refresh_from_db()
    assert outcome == ["cancelled"] and job.status == S.CANCELLED
    assert list(Step.objects.filter(job=job).values_list("job_index", flat=True)) == [0]


@pytest.mark.django_db
def test_per_operation_time_limit(user, master, sent, slow_op, settings):
    settings.JOB_TIME_LIMITS = {"classical": 0, "ai": 0}
    job = make_job(user, master, steps=[{"op": slow_op, "params": {"tiles": 5}}])
    assert runner.run_job(job.pk) == "failed"
    assert "exceeded its time limit of 0 s" in Job.objects.get(pk=job.pk).error


@pytest.mark.django_db
def test_extra_inputs_and_outputs_are_their_own_artifacts(user, master, sent):
    """color_transfer's reference is an input with its role (and cites the ReferenceImage);
    descratch's mask is an output artifact with role `mask`; the job output is the image."""
    import io

    from archive.services import reference_create
    from tests.conftest import image_bytes

    reference = reference_create(
        user=user, stream=io.BytesIO(image_bytes("PNG", size=(40, 30), seed=5)), filename="r.png"
    )
    job = make_job(
        user,
        master,
        steps=[
            {"op": "color_transfer", "params": {"reference": reference.artifact_id}},
            {"op": "descratch"},
        ],
    )
    assert runner.run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    transfer, descratch = Step.objects.filter(job=job).order_by("job_index")
    roles = sorted(transfer.inputs.values_list("role", "artifact_id"))
    assert roles == sorted([("image", master.pk), ("reference", reference.artifact_id)])
    assert list(transfer.references.all()) == [reference]
    outputs = dict(descratch.produced.values_list("role", "artifact__role"))
    assert outputs == {"image": "image", "mask": "mask"}
    job.refresh_from_db()
    assert job.output == descratch.produced.get(role="image").artifact


@pytest.mark.django_db
def test_hint_citations_end_up_on_the_step(user, master, sent):
    from archive.models import Citation, Source

    citation = Citation.objects.create(
        source=Source.objects.create(title="Interview, 1987"), locator="p. 12"
    )
    hints = [
        {"x": 10, "y": 10, "color": "#203a80", "citation": citation.pk},
        {"x": 60, "y": 40, "color": "#c0a070"},
    ]
    job = make_job(
        user,
        master,
        steps=[{"op": "grayscale"}, {"op": "colorize_hints", "params": {"hints": hints}}],
    )
    assert runner.run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    step = Step.objects.get(job=job, job_index=1)
    assert list(step.citations.all()) == [citation]
    assert not Step.objects.get(job=job, job_index=0).citations.exists()
