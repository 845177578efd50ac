"""A film step's identity: sampled output frames against the input frames at the same point in
the film (a real film step, chunked, through the job runner), and the face index of a film."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from archive.films import film_ingest
from restoration import film_jobs, runner
from restoration.engine import identity
from restoration.engine.video import VideoWriter
from restoration.faces import faces_index_artifact
from restoration.jobs import job_create
from restoration.models import Face, Step
from tests.faces.test_identity_engine import load

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(identity.available() is not None, reason=str(identity.available())),
]


@pytest.fixture
def portrait_film(tmp_path, django_user_model):
    """Two seconds of a portrait with film grain: a face on every frame."""
    user = django_user_model.objects.create_user(username="restorer")
    still = load("old_w_scratch_b.png")  # 256x256, a 98 px face
    rng = np.random.default_rng(5)
    path = tmp_path / "portrait.mkv"
    with VideoWriter(path, width=256, height=256, fps=Fraction(12), codec="ffv1") as writer:
        for _ in range(24):
            grain = rng.normal(0, 6, still.shape)
            writer.write(np.clip(still + grain, 0, 255).astype(np.uint8))
    with open(path, "rb") as fh:
        film = film_ingest(stream=fh, filename="portrait.mkv", title="Portrait", user=user).film
    return film, user


def test_a_film_step_checks_the_face_on_sampled_frames(portrait_film, monkeypatch, settings):
    film, user = portrait_film
    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    monkeypatch.setattr(film_jobs, "_enqueue_chunks", lambda *a: None)
    job = job_create(user=user, input_id=film.master_id, steps=[{"op": "temporal_denoise"}])
    assert runner.run_job(job.pk) == "succeeded", job.error
    step = Step.objects.get(job=job)
    faces = step.identity["faces"]
    assert step.identity["frames_sampled"] == settings.ARCHIVE_IDENTITY_VIDEO_SAMPLES
    assert len(faces) == settings.ARCHIVE_IDENTITY_VIDEO_SAMPLES  # one face per sampled pair
    assert [f["frame_in"] for f in faces] == [0, 5, 9, 14, 18, 23]
    assert all(f["verdict"] == "same" for f in faces), faces
    assert step.identity_verdict == "same"


def test_a_film_is_indexed_by_face_on_sampled_frames(portrait_film, settings):
    film, _user = portrait_film
    settings.ARCHIVE_FACE_INDEX = True
    run = faces_index_artifact(artifact_id=film.master_id)
    assert run is not None and run.faces == settings.ARCHIVE_IDENTITY_VIDEO_SAMPLES
    frames = list(Face.objects.filter(artifact_id=film.master_id).values_list("frame", flat=True))
    assert frames == [0, 5, 9, 14, 18, 23]
