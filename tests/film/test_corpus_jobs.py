"""The real clip of the corpus (film/abomb.mp4: 360 frames, every 5th a duplicate) through the
jobs, chunked: the plumbing with the real operations of restoration.engine.film."""

from __future__ import annotations

import pytest

from archive.films import film_ingest
from restoration import runner
from restoration.jobs import job_create
from restoration.models import Artifact, FilmChunk, Job, Step


@pytest.mark.django_db(transaction=True)
def test_abomb_dedupe_then_scene_detect_chunked(corpus, django_user_model, settings, monkeypatch):
    settings.ARCHIVE_FILM_CHUNK_FRAMES = 120
    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    user = django_user_model.objects.create_user(username="r")
    with open(corpus / "film" / "abomb.mp4", "rb") as fh:
        film = film_ingest(stream=fh, filename="abomb.mp4", title="A-bomb", user=user).film
    master = film.master
    assert master.frame_count == 360 and master.fps == "29/1"
    assert master.info["codec"] == "h264" and not master.info["vfr"]
    job = job_create(
        user=user,
        input_id=master.pk,
        steps=[{"op": "dedupe"}, {"op": "scene_detect"}],
    )
    assert runner.run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    job.refresh_from_db()
    dedupe, scenes = Step.objects.filter(job=job).order_by("job_index")
    assert FilmChunk.objects.filter(job=job, job_index=0).count() == 3
    deduped = dedupe.output("image") or Artifact.objects.get(produced_by__step=dedupe)
    # 360 frames with every 5th repeated: about 277 unique ones remain.
    assert 270 <= deduped.frame_count <= 290, deduped.frame_count
    assert dedupe.change_summary["frames_out"] == deduped.frame_count
    out = Artifact.objects.get(pk=job.output_id)
    assert out.media_type == "video/x-matroska" and out.frame_count == deduped.frame_count
    # scene_detect passes the frames through: same bytes, the same artifact; its shots are
    # on its step, where the next steps (and the film page's timeline) find them.
    assert scenes.operation == "scene_detect" and out.pk == deduped.pk
    from restoration.film_jobs import film_shots

    assert scenes.run_record["shots"][0] == 0 and film_shots(out) == tuple(
        scenes.run_record["shots"]
    )
