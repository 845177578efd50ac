"""Jobs with an AI step go to the GPU queue when ``ARCHIVE_GPU_QUEUE`` is set (issue 15, the
deployment guide's GPU workers); everything else, and everything when it is empty, to
``JOBS_QUEUE``. Checked on the message the broker holds, without a GPU."""

from __future__ import annotations

import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.message import Message

from tests.interop.conftest import ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(monkeypatch, settings):
    """A broker of the test's own, whatever broker the suite runs on."""
    stub = StubBroker()
    stub.declare_queue(settings.JOBS_QUEUE)
    monkeypatch.setattr("restoration.dispatch.current_broker", lambda: stub)
    return stub


def _queued(broker: StubBroker) -> dict[str, list[Message]]:
    out: dict[str, list[Message]] = {}
    for name, queue in broker.queues.items():
        while not queue.empty():
            out.setdefault(name, []).append(Message.decode(queue.get_nowait()))
    return out


def _job(user, master, pipeline):
    from restoration.models import Job

    return Job.objects.create(input=master, pipeline=pipeline, requester=user, time_limit_s=77)


@pytest.mark.parametrize("gpu_queue", ["gpu", ""])
def test_ai_jobs_land_on_the_gpu_queue_and_others_on_the_jobs_queue(
    roles, broker, settings, gpu_queue
):
    from restoration.jobs import enqueue, job_queue

    settings.ARCHIVE_GPU_QUEUE = gpu_queue
    master = ingest(roles["restorer"], size=(64, 48), seed=51).master
    ai = _job(roles["restorer"], master, [{"op": "grayscale"}, {"op": "sr", "params": {}}])
    classical = _job(roles["restorer"], master, [{"op": "grayscale"}, {"op": "clahe"}])
    assert enqueue(ai.pk) and enqueue(classical.pk)
    queued = _queued(broker)
    jobs_queue = settings.JOBS_QUEUE
    if gpu_queue:
        assert job_queue(ai.pipeline) == "gpu" and job_queue(classical.pipeline) == jobs_queue
        assert [(m.actor_name, m.args) for m in queued["gpu"]] == [("job_run", (ai.pk,))]
        assert [m.args for m in queued[jobs_queue]] == [(classical.pk,)]
        assert queued["gpu"][0].options["time_limit"] == 77_000  # the job's own limit travels
    else:  # one queue, as before
        assert job_queue(ai.pipeline) == jobs_queue
        assert [m.args for m in queued[jobs_queue]] == [(ai.pk,), (classical.pk,)]
        assert "gpu" not in queued


def test_a_gpu_worker_consumes_the_gpu_queue_only(roles, broker, settings):
    """What `rundramatiq --queues gpu` does: a worker whitelisting the GPU queue runs the AI
    job's message and leaves the classical one to the other workers."""
    import dramatiq

    from restoration.jobs import enqueue

    settings.ARCHIVE_GPU_QUEUE = "gpu"
    master = ingest(roles["restorer"], size=(64, 48), seed=52).master
    ai = _job(roles["restorer"], master, [{"op": "face_restore"}])
    classical = _job(roles["restorer"], master, [{"op": "grayscale"}])
    enqueue(ai.pk)
    enqueue(classical.pk)
    ran: list[int] = []

    @dramatiq.actor(actor_name="job_run", broker=broker, queue_name=settings.JOBS_QUEUE)
    def fake_job_run(job_id: int) -> None:  # the real actor's name, recording instead
        ran.append(job_id)

    worker = dramatiq.Worker(broker, queues={"gpu"}, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        broker.join("gpu", timeout=10_000)
        worker.join()
    finally:
        worker.stop()
    assert ran == [ai.pk]
    assert broker.queues[settings.JOBS_QUEUE].qsize() == 1  # the classical job still waits
