"""Film steps through the jobs: validation, chunking by shot with overlap, joining, lineage,
audio, change summary, cancel. Operations run in engine worker processes as in production;
``test_film_mix`` (restoration/engine/film_testing.py) is a temporal 1:1 test operation."""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np
import pytest

from archive.films import film_ingest
from restoration import film_jobs, runner
from restoration.engine import video as V
from restoration.jobs import JobValidationError, job_create
from restoration.models import Artifact, FilmChunk, Job, Step
from restoration.services import video_manifest
from tests.film import support


def mix(frames: list[np.ndarray], radius: int) -> list[np.ndarray]:
    """What test_film_mix computes, in one go over the whole film."""
    out = []
    for i in range(len(frames)):
        near = frames[max(0, i - radius) : i + radius + 1]
        out.append(np.mean(np.stack(near), axis=0).round().astype(np.uint8))
    return out


def test_plan_chunks_cuts_at_shots_and_overlaps_by_the_window():
    plan = film_jobs.plan_chunks(100, shots=None, window=2, size=40)
    assert [(a, b) for _, _, a, b in plan] == [(0, 33), (33, 67), (67, 100)]
    assert plan[1][:2] == (31, 69)  # context on both sides
    shots = film_jobs.plan_chunks(100, shots=[0, 50, 60], window=3, size=60)
    assert [(a, b) for _, _, a, b in shots] == [(0, 50), (50, 100)]
    assert shots[0][:2] == (0, 50) and shots[1][:2] == (50, 100)  # no context across a cut
    assert film_jobs.plan_chunks(10, shots=None, window=1, size=40) == [(0, 10, 0, 10)]


@pytest.fixture
def film(tmp_path, user):
    path = support.write(tmp_path / "reel.mkv", 40, fps=Fraction(16), seed=3)
    with open(path, "rb") as fh:
        result = film_ingest(stream=fh, filename="reel.mkv", title="Reel", user=user)
    return result.film


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="restorer")


@pytest.mark.django_db(transaction=True)
def test_a_chunked_film_step_equals_one_run_and_is_recorded(film, user, settings, monkeypatch):
    settings.ARCHIVE_FILM_CHUNK_FRAMES = 16
    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    monkeypatch.setattr(film_jobs, "_enqueue_chunks", lambda *a: None)
    job = job_create(
        user=user,
        input_id=film.master_id,
        steps=[{"op": "test_film_mix", "params": {"radius": 2}}],
    )
    assert runner.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    chunks = list(FilmChunk.objects.filter(job=job).order_by("number"))
    assert len(chunks) == 3 and all(c.attempts == 1 for c in chunks)
    out = Artifact.objects.get(pk=job.output_id)
    assert out.media_type == "video/x-matroska" and out.frame_count == 40 and out.fps == "16/1"
    expected = mix(support.frames(40, seed=3), 2)
    assert video_manifest(out) == [V.frame_md5(f) for f in expected]
    step = Step.objects.get(job=job)
    assert step.operation == "test_film_mix" and step.kind == "classical"
    assert [i.artifact_id for i in step.inputs.all()] == [film.master_id]
    assert len(step.run_record["chunks"]) == 3
    summary = step.change_summary
    assert summary["frames_in"] == 40 and summary["frames_out"] == 40
    assert 0 < summary["frames_changed"] <= 40
    assert summary["psnr_db_mean"] and summary["ssim_mean"]
    assert summary["strip_sha256"]
    assert job.progress == 1.0


@pytest.mark.django_db
def test_pipelines_mixing_stills_and_films_are_refused(film, user, monkeypatch):
    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    with pytest.raises(JobValidationError) as info:
        job_create(user=user, input_id=film.master_id, steps=[{"op": "denoise"}])
    assert "per_frame" in info.value.message_dict["steps[0].op"][0]
    with pytest.raises(JobValidationError) as info:
        job_create(
            user=user,
            input_id=film.master_id,
            steps=[{"op": "test_film_mix", "params": {"radius": 99}}],
        )
    assert "steps[0].params.radius" in info.value.message_dict
    from archive.services import photo_ingest
    from tests.conftest import image_bytes

    photo = photo_ingest(stream=io.BytesIO(image_bytes("PNG")), filename="p.png", user=user)
    with pytest.raises(JobValidationError) as info:
        job_create(user=user, input_id=photo.artifact.pk, steps=[{"op": "test_film_mix"}])
    assert "film operation" in info.value.message_dict["steps[0].op"][0]


@pytest.mark.django_db(transaction=True)
def test_audio_is_carried_through_a_step_that_keeps_the_duration(tmp_path, user, monkeypatch):
    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    path = support.write(tmp_path / "talk.mp4", 16, codec="h264", audio=True)
    with open(path, "rb") as fh:
        film = film_ingest(stream=fh, filename="talk.mp4", user=user).film
    job = job_create(user=user, input_id=film.master_id, steps=[{"op": "test_film_mix"}])
    assert runner.run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    out = Artifact.objects.get(pk=Job.objects.get(pk=job.pk).output_id)
    assert [a["codec"] for a in out.info["audio"]] == ["aac"]
    assert "audio carried" in Step.objects.get(job=job).run_record["audio"]


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_film_step(film, user, monkeypatch):
    import threading
    import time

    from restoration.jobs import job_cancel

    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    job = job_create(
        user=user,
        input_id=film.master_id,
        steps=[{"op": "test_film_slow", "params": {"delay_s": 0.3}}],
    )
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(runner.run_job(job.pk)))
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if FilmChunk.objects.filter(job=job, frames_done__gt=0).exists():
            break
        time.sleep(0.1)
    job_cancel(job_id=job.pk, user=user)
    thread.join(timeout=60)
    assert result == ["cancelled"]
    assert not Step.objects.filter(job=job).exists()


@pytest.mark.django_db(transaction=True)
def test_access_copy_of_a_film_step_is_an_h264_mp4_with_content_credentials(
    film, user, settings, tmp_path, monkeypatch
):
    import c2pa

    from restoration.exports.c2pa import signing_material_create
    from restoration.exports.c2pa_video import artifact_export_c2pa_video

    directory = tmp_path / "c2pa"
    directory.mkdir()
    signing_material_create(
        cert_chain=directory / "chain.pem",
        private_key=directory / "leaf.key",
        trust_anchors=directory / "ca.pem",
    )
    settings.C2PA_CERT_CHAIN = directory / "chain.pem"
    settings.C2PA_PRIVATE_KEY = directory / "leaf.key"
    settings.C2PA_TRUST_ANCHORS = directory / "ca.pem"
    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    job = job_create(user=user, input_id=film.master_id, steps=[{"op": "test_film_mix"}])
    assert runner.run_job(job.pk) == "succeeded"
    data = artifact_export_c2pa_video(artifact_id=Job.objects.get(pk=job.pk).output_id)
    path = tmp_path / "access.mp4"
    path.write_bytes(data)
    facts = V.probe(path)
    assert facts.codec == "h264" and facts.frame_count == 40 and facts.fps == Fraction(16)
    with c2pa.Reader("video/mp4", io.BytesIO(data)) as reader:
        manifest = reader.json()
    assert "test_film_mix" in manifest
