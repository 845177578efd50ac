"""A film job with an AI step (``per_frame`` of ``sr``, ``interpolate`` with RIFE) goes to the
GPU queue when ``ARCHIVE_GPU_QUEUE`` is set, its job message and every chunk message alike;
classical film jobs, and everything when the setting is empty, go to ``JOBS_QUEUE``. Checked
on the messages the broker holds (as tests/interop/test_gpu_queue.py), without a GPU."""

from __future__ import annotations

from fractions import Fraction

import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.message import Message

from archive.films import film_ingest
from restoration import film_jobs
from restoration.models import Job
from tests.film import support

pytestmark = pytest.mark.django_db

AI_PIPELINES = [
    [{"op": "per_frame", "params": {"op": "sr", "params": {}}}],
    [
        {"op": "deflicker", "params": {}},
        {"op": "interpolate", "params": {"fps": "24/1", "method": "rife"}},
    ],
]
CLASSICAL_PIPELINES = [
    [{"op": "per_frame", "params": {"op": "clahe", "params": {}}}],
    [{"op": "interpolate", "params": {"fps": "24/1", "method": "dis"}}],
]


@pytest.fixture
def broker(monkeypatch, settings):
    """A broker of the test's own for both actors, whatever broker the suite runs on."""
    stub = StubBroker()
    stub.declare_queue(settings.JOBS_QUEUE)
    monkeypatch.setattr("restoration.dispatch.current_broker", lambda: stub)
    return stub


@pytest.fixture
def master(tmp_path, django_user_model):
    user = django_user_model.objects.create_user(username="restorer")
    path = support.write(tmp_path / "reel.mkv", 4, fps=Fraction(16), seed=5)
    with open(path, "rb") as fh:
        film = film_ingest(stream=fh, filename="reel.mkv", title="Reel", user=user).film
    return film.master, user


def _queued(broker: StubBroker) -> dict[str, list[tuple[str, tuple]]]:
    out: dict[str, list[tuple[str, tuple]]] = {}
    for name, queue in broker.queues.items():
        while not queue.empty():
            message = Message.decode(queue.get_nowait())
            out.setdefault(name, []).append((message.actor_name, tuple(message.args)))
    return out


@pytest.mark.parametrize("gpu_queue", ["gpu", ""])
def test_film_chunks_follow_the_job_to_the_gpu_queue(master, broker, settings, gpu_queue):
    from restoration.jobs import enqueue

    settings.ARCHIVE_GPU_QUEUE = gpu_queue
    artifact, user = master
    jobs = [
        Job.objects.create(input=artifact, pipeline=p, requester=user, time_limit_s=60)
        for p in AI_PIPELINES + CLASSICAL_PIPELINES
    ]
    for job in jobs:
        assert enqueue(job.pk)
        film_jobs._enqueue_chunks(job.pk, 0, [0, 2])  # what the coordinator sends
    queued = _queued(broker)

    def sent(job: Job) -> list[tuple[str, tuple]]:
        return [
            ("job_run", (job.pk,)),
            ("film_chunk_run", (job.pk, 0, 0)),
            ("film_chunk_run", (job.pk, 0, 2)),
        ]

    ai, classical = jobs[: len(AI_PIPELINES)], jobs[len(AI_PIPELINES) :]
    if gpu_queue:
        assert queued["gpu"] == [m for job in ai for m in sent(job)]
        assert queued[settings.JOBS_QUEUE] == [m for job in classical for m in sent(job)]
    else:  # one queue, as before
        assert queued[settings.JOBS_QUEUE] == [m for job in jobs for m in sent(job)]
        assert "gpu" not in queued
