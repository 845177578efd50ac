"""Operations run in engine worker processes: a crash, an out-of-memory, a time-out or a cancel
ends one worker and fails (or cancels) one job with the reason; the caller carries on."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from django.db import connection

from restoration import runner
from restoration.executor import (
    OperationCancelled,
    OperationFailed,
    OpRequest,
    Watch,
    WorkerPool,
)
from restoration.jobs import job_cancel, job_create
from restoration.models import Job, Step

S = Job.Status


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(size=1, memory_mb=256)
    yield pool
    pool.close()


def _run(pool, op, params, *, limit=60.0, cancel=lambda: False, image=None):
    image = np.zeros((32, 48, 3), np.uint8) if image is None else image
    watch = Watch(report=lambda f: None, should_cancel=cancel, limit_s=limit, budget_mb=256)
    run = pool.run(OpRequest(op=op, params=params, image=image), watch)
    summary = run.summary()
    return run.result, summary


def test_an_operation_runs_in_another_process_and_returns_its_result_and_summary(pool):
    import os

    result, summary = _run(pool, "grayscale", {})
    assert result.image.shape == (32, 48) and result.record["operation"] == "grayscale"
    assert summary["version"] and result.device == "cpu"
    worker = pool.acquire()
    try:
        assert worker.pid != os.getpid() and worker.alive()
    finally:
        pool.release(worker)


def test_a_crash_in_native_code_fails_the_operation_and_the_worker_is_replaced(pool):
    with pytest.raises(OperationFailed, match=r"the operation crashed \(signal 11, SIGSEGV\)"):
        _run(pool, "test_crash", {})
    result, _ = _run(pool, "grayscale", {})  # a fresh worker answers the next request
    assert result.image.ndim == 2


def test_an_allocation_beyond_the_budget_fails_with_the_budget(pool):
    with pytest.raises(OperationFailed, match=r"exceeded its 256 MiB memory budget"):
        _run(pool, "test_allocate", {"mb": 2048})
    result, _ = _run(pool, "test_allocate", {"mb": 32})  # within the budget: fine
    assert result.record["facts"]["touched"] == 32 * 1024 * 1024


def test_the_time_limit_stops_one_long_library_call(pool):
    started = time.monotonic()
    with pytest.raises(OperationFailed, match=r"exceeded its time limit of 1 s"):
        _run(pool, "test_sleep", {"seconds": 120}, limit=1)
    assert time.monotonic() - started < 5


def test_cancel_stops_one_long_library_call_within_two_seconds(pool):
    _run(pool, "grayscale", {})  # warm: the measurement below is the cancel, not a boot
    asked: list[float] = []

    def cancel() -> bool:
        if not asked:
            asked.append(time.monotonic() + 0.5)
        return time.monotonic() > asked[0]

    with pytest.raises(OperationCancelled):
        _run(pool, "test_sleep", {"seconds": 120}, cancel=cancel)
    assert time.monotonic() - asked[0] < 2.0


def test_a_200000_by_1_scan_is_descratched_not_crashed(pool):
    """Kernel sizes scale with the long side and are bounded by the short one (it used to
    segfault OpenCV with a 3500-pixel structuring element)."""
    line = np.random.default_rng(1).integers(0, 255, (1, 200_000, 3), dtype=np.uint8)
    for image in (line, line.transpose(1, 0, 2).copy()):
        result, _ = _run(pool, "descratch", {}, image=image)
        assert result.image.shape == image.shape


# --- through the job runner ------------------------------------------------------------------


def _job(user, master, steps) -> Job:
    return job_create(user=user, input_id=master.pk, steps=steps)


# transaction=True: the runner's monitor thread has its own connection and must see the job.
@pytest.mark.django_db(transaction=True)
def test_a_crashing_step_fails_its_job_once_with_the_reason(user, master, sent):
    job = _job(user, master, [{"op": "grayscale"}, {"op": "test_crash"}])
    assert runner.run_job(job.pk) == "failed"  # not raised: a crash is not transient
    job.refresh_from_db()
    assert job.status == S.FAILED and job.attempts == 1
    assert "step 2 (test_crash): the operation crashed (signal 11, SIGSEGV)" in job.error
    assert list(Step.objects.filter(job=job).values_list("job_index", flat=True)) == [0]


@pytest.mark.django_db(transaction=True)
def test_a_step_over_the_memory_budget_fails_its_job(user, master, sent, settings):
    settings.ARCHIVE_WORKER_MEMORY_MB = 200
    job = _job(user, master, [{"op": "test_allocate", "params": {"mb": 4096}}])
    assert runner.run_job(job.pk) == "failed"
    job.refresh_from_db()
    assert "exceeded its 200 MiB memory budget" in job.error and job.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_cancel_of_a_running_job_takes_effect_within_two_seconds(user, master, sent, settings):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memory"):
        pytest.skip("the monitor thread needs a database other threads can share (PostgreSQL)")
    settings.JOB_LEASE_SECONDS = 4  # the monitor polls the cancel flag every half second
    job = _job(user, master, [{"op": "test_sleep", "params": {"seconds": 300}}])
    outcome: list[str] = []
    thread = threading.Thread(
        target=lambda: (outcome.append(runner.run_job(job.pk)), connection.close())
    )
    thread.start()
    deadline = time.monotonic() + 60
    while Job.objects.get(pk=job.pk).status != S.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # inside the one long call now
    asked = time.monotonic()
    job_cancel(job_id=job.pk, user=user)
    thread.join(30)
    assert outcome == ["cancelled"]
    assert time.monotonic() - asked < 2.0 + 0.5  # 2 s, plus the join's own scheduling
    job = Job.objects.get(pk=job.pk)
    assert job.status == S.CANCELLED and job.error == f"cancelled by {user.username}"
    # The worker writes the transition; the history still names who asked for it.
    last = job.events.order_by("at", "id").last()
    assert (last.to_status, last.actor) == (S.CANCELLED, user.username)


# --- admission ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_pipeline_over_the_memory_budget_is_refused_naming_the_step(user, sent, settings):
    """A 2500x2500 scan upscaled x8 needs ~17 GiB: refused before anything is queued, with the
    step (the second: the first step's output shape is carried along) and the figure."""
    from restoration.jobs import JobValidationError
    from restoration.models import Artifact

    settings.ARCHIVE_WORKER_MEMORY_MB = 4096
    scan = Artifact.objects.create(
        sha256="ab" * 32, size=1, media_type="image/png", width=2500, height=2500, role="image"
    )
    with pytest.raises(JobValidationError) as refused:
        job_create(
            user=user,
            input_id=scan.pk,
            steps=[{"op": "grayscale"}, {"op": "upscale", "params": {"scale": 8}}],
        )
    message = refused.value.message_dict["steps[1]"][0]
    assert "upscale on a 2500x2500 image would need about" in message
    assert "memory budget of 4,096 MiB (ARCHIVE_WORKER_MEMORY_MB)" in message
    assert not Job.objects.exists() and sent == []


@pytest.mark.django_db
def test_colorize_hints_at_its_largest_solve_is_refused_on_a_big_scan(user, sent, settings):
    from restoration.jobs import JobValidationError
    from restoration.models import Artifact

    settings.ARCHIVE_WORKER_MEMORY_MB = 4096
    scan = Artifact.objects.create(
        sha256="cd" * 32, size=1, media_type="image/png", width=3000, height=3000, role="image"
    )
    hints = [{"x": 10, "y": 10, "color": "#804020"}]
    steps = [{"op": "colorize_hints", "params": {"hints": hints, "solve_pixels": 4_000_000}}]
    with pytest.raises(JobValidationError, match="colorize_hints on a 3000x3000 image"):
        job_create(user=user, input_id=scan.pk, steps=steps)
    steps[0]["params"]["solve_pixels"] = 250_000  # the default fits
    assert job_create(user=user, input_id=scan.pk, steps=steps).pk
