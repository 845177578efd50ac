"""`animate` as a job (issue 12): a synthetic step whose output is a stored video artifact, its
C2PA MP4 export reads back Trusted with the generated-media source type."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restoration import runner
from restoration.engine.animate import landmarks as lm
from restoration.jobs import JobValidationError, job_create
from restoration.models import Job, Step
from tests.conftest import CORPUS

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(lm.available() is not None, reason=str(lm.available())),
]
PORTRAIT = CORPUS / "old_w_scratch_b.png"
STEPS = [{"op": "animate", "params": {"duration": 1, "fps": 6, "label": False, "smile": 0.8}}]


@pytest.fixture
def portrait(user):
    if not PORTRAIT.is_file():
        pytest.skip(f"{PORTRAIT} is absent")
    from archive.services import photo_ingest

    rgb = Image.open(PORTRAIT).convert("RGB")
    buf = io.BytesIO()
    rgb.save(buf, format="PNG")
    buf.seek(0)
    return photo_ingest(stream=buf, filename="portrait.png", user=user).artifact


@pytest.fixture
def signing(settings, tmp_path_factory) -> Path:
    from restoration.exports.c2pa import signing_material_create

    directory = tmp_path_factory.mktemp("c2pa")
    signing_material_create(
        cert_chain=directory / "chain.pem",
        private_key=directory / "leaf.key",
        trust_anchors=directory / "ca.pem",
    )
    settings.C2PA_CERT_CHAIN = directory / "chain.pem"
    settings.C2PA_PRIVATE_KEY = directory / "leaf.key"
    settings.C2PA_TRUST_ANCHORS = directory / "ca.pem"
    return directory


def test_an_animate_job_records_a_synthetic_step_and_a_trusted_video(user, portrait, sent, signing):
    """One job (a worker process renders it): the step, the stored video, its C2PA MP4."""
    from restoration.engine.video import read_frames
    from restoration.exports.c2pa import c2pa_read
    from restoration.exports.c2pa_video import artifact_export_c2pa_video
    from restoration.services import artifact_local_path, video_manifest

    job = job_create(user=user, input_id=portrait.pk, steps=STEPS)
    assert runner.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    step = Step.objects.get(job=job)
    assert step.kind == Step.Kind.SYNTHETIC and step.operation == "animate"
    # issue 22: the still's face against sampled frames, every one "same person"
    face = step.identity["faces"][0]
    assert face["verdict"] == "same", step.identity
    assert len(face["frames"]) == 6 and all(f["verdict"] == "same" for f in face["frames"])
    out = job.output
    assert out.media_type.startswith("video/")
    assert (out.width, out.height, out.frame_count, out.fps) == (256, 256, 6, "6/1") or (
        out.frame_count == 6 and str(out.fps) in ("6", "6/1")
    )
    assert out.duration == pytest.approx(1.0)
    assert len(video_manifest(out)) == 6
    facts = step.run_record["facts"]
    assert facts["synthetic"] is True and len(facts["landmarks"][0]["mesh"]) == 468
    with artifact_local_path(out) as path:
        frames = list(read_frames(path))
    still = np.asarray(Image.open(PORTRAIT).convert("RGB"))
    assert len(frames) == 6 and np.abs(frames[0].astype(int) - still).max() <= 1
    assert step.inputs.get().artifact == portrait

    data = artifact_export_c2pa_video(artifact_id=out.pk)
    assert data[4:8] == b"ftyp"  # an MP4
    read = c2pa_read(data=data, media_type="video/mp4", trust_anchors=signing / "ca.pem")
    assert read["state"] == "Trusted", read["results"]
    manifest = read["manifest"]
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    animate = [
        a
        for a in actions["data"]["actions"]
        if a.get("parameters", {}).get("operation") == "animate"
    ]
    assert animate and animate[0]["digitalSourceType"].endswith("/compositeSynthetic")
    synthetic = next(
        a for a in manifest["assertions"] if a["label"] == "org.photo-archive.synthetic"
    )
    assert "did not move like this" in synthetic["data"]["statement"]
    # a flipped byte in the pictures is detected
    tampered = bytearray(data)
    tampered[int(len(data) * 0.7)] ^= 0x01
    broken = c2pa_read(
        data=bytes(tampered), media_type="video/mp4", trust_anchors=signing / "ca.pem"
    )
    assert broken["state"] != "Trusted"


def test_animate_must_be_the_last_step_and_take_a_still(user, portrait, sent):
    with pytest.raises(JobValidationError) as caught:
        job_create(user=user, input_id=portrait.pk, steps=[*STEPS, {"op": "grayscale"}])
    assert "steps[0].op" in caught.value.message_dict
    with pytest.raises(JobValidationError) as caught:
        job_create(
            user=user, input_id=portrait.pk, steps=[{"op": "animate", "params": {"smile": 3}}]
        )
    assert any("smile" in k for k in caught.value.message_dict)
    assert Job.objects.count() == 0


def test_a_still_without_a_face_fails_the_job_with_the_reason(user, master, sent):
    job = job_create(user=user, input_id=master.pk, steps=STEPS)
    assert runner.run_job(job.pk) == "failed"
    job.refresh_from_db()
    assert "no face found" in job.error
    assert not Step.objects.filter(job=job).exists()


def test_synthetic_steps_get_their_own_time_limit(settings) -> None:
    """`animate` is kind `synthetic`: its step limit is JOB_TIME_LIMITS["synthetic"], not the
    classical fallback, and the run's limit is their sum plus the margin."""
    from restoration import jobstate

    assert "synthetic" in settings.JOB_TIME_LIMITS
    settings.JOB_TIME_LIMITS = {"classical": 100, "ai": 1000, "synthetic": 555}
    total, steps = jobstate.job_time_limits([*STEPS, {"op": "grayscale"}])
    assert steps == [555, 100]
    assert total == jobstate.RUN_MARGIN_S + 655


def test_the_default_label_is_burnt_in_in_the_requesters_language(user, portrait, sent):
    """The job is created in a request whose language is active (LocaleMiddleware): the default
    label is fixed then, in that language; a label the requester wrote is kept as written."""
    from django.utils import translation

    from restoration.engine.animate.op import DEFAULT_LABEL

    steps = [{"op": "animate", "params": {"duration": 1, "fps": 6}}]
    with translation.override("zh-hans"):
        job = job_create(user=user, input_id=portrait.pk, steps=steps)
        own = job_create(
            user=user,
            input_id=portrait.pk,
            steps=[{"op": "animate", "params": {"label_text": "Made for the exhibition"}}],
        )
    with translation.override("en"):
        english = job_create(user=user, input_id=portrait.pk, steps=steps)
    chinese = job.pipeline[0]["params"]["label_text"]
    assert chinese == "由静态照片生成的动画：此人并未这样动过"
    assert english.pipeline[0]["params"]["label_text"] == DEFAULT_LABEL
    assert own.pipeline[0]["params"]["label_text"] == "Made for the exhibition"
    job.refresh_from_db()  # stored so, for the worker that renders the clip later
    assert job.pipeline[0]["params"]["label_text"] == chinese


def test_an_animation_made_through_the_api_gets_the_requesters_language(user, portrait, sent):
    """Issue 22: through the API too, from Accept-Language, else the language the user chose
    in the pages (kept on their preferences), else the site's default."""
    from django.contrib.auth.models import Group
    from django.test import Client
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user.groups.add(Group.objects.get(name="restorer"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    body = {"input": portrait.pk, "steps": [{"op": "animate", "params": {"duration": 1}}]}
    asked = client.post(
        "/api/v1/jobs/", body, format="json", HTTP_ACCEPT_LANGUAGE="zh-Hans,zh;q=0.9"
    )
    assert asked.status_code == 202, asked.content
    job = Job.objects.get(pk=asked.json()["id"])
    assert job.pipeline[0]["params"]["label_text"] == "由静态照片生成的动画：此人并未这样动过"
    # No Accept-Language (a script): the language the user chose in the pages
    page = Client()
    page.force_login(user)
    page.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    plain = client.post("/api/v1/jobs/", body, format="json")
    assert plain.status_code == 202, plain.content
    job = Job.objects.get(pk=plain.json()["id"])
    assert job.pipeline[0]["params"]["label_text"] == "由静态照片生成的动画：此人并未这样动过"
