"""Identity on every step, through the database: a job step and a manual step record the check
in their hashed record (version 3), the API and the lineage show it, verify still passes, and a
restoration whose face became another person's is approved only with a written reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from archive.models import Photo, Revision
from archive.services import photo_ingest
from restoration.audit import artifact_verify
from restoration.engine import identity
from restoration.exports.c2pa import IDENTITY_LABEL
from restoration.hashing import RECORD_VERSION
from restoration.models import Step
from tests.faces.test_identity_engine import load, paste_face
from tests.restoration.test_c2pa import signing, signing_dir  # noqa: F401, F811 (fixtures)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(identity.available() is not None, reason=str(identity.available())),
]


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def client_of(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def curator(django_user_model):
    user = django_user_model.objects.create_user(username="curator", password="pw-curator-1")
    for name in ("restorer", "cataloguer"):
        user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture
def portrait(curator) -> Photo:
    result = photo_ingest(
        stream=io.BytesIO(png(load("old_a.png"))), filename="old_a.png", user=curator
    )
    return result.photo


def test_a_job_step_records_same_person_in_its_hashed_record(curator, portrait, monkeypatch):
    from restoration import runner
    from restoration.jobs import job_create

    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    job = job_create(user=curator, input_id=portrait.master_id, steps=[{"op": "denoise"}])
    assert runner.run_job(job.pk) == "succeeded"
    step = Step.objects.get(job=job)
    assert step.record_version == RECORD_VERSION == 3
    assert step.identity_verdict == "same"
    face = step.identity["faces"][0]
    assert face["verdict"] == "same" and face["distance"] < identity.SAME_BELOW
    api = client_of(curator).get(f"/api/v1/jobs/{job.pk}/").json()
    shown = api["steps"][0]["identity"]
    assert shown[0]["verdict"] == "same" and len(shown[0]["box_in"]) == 4
    lineage = client_of(curator).get(f"/api/v1/artifacts/{api['output']}/lineage/").json()
    made = [s for s in lineage["steps"] if s["id"] == step.pk][0]
    assert made["identity_verdict"] == "same" and made["identity"] == shown
    report = artifact_verify(artifact_id=api["output"])
    assert report["ok"], report["problems"]
    prov = client_of(curator).get(f"/api/v1/artifacts/{api['output']}/prov/?format=json")
    assert prov.status_code == 200 and "identityVerdict" in prov.content.decode()


def test_the_content_credentials_carry_an_identity_assertion_per_step(
    curator,
    portrait,
    monkeypatch,
    signing,  # noqa: F811 (the fixture)
):
    from restoration import runner
    from restoration.exports.c2pa import artifact_export_c2pa, c2pa_read
    from restoration.jobs import job_create

    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    job = job_create(
        user=curator, input_id=portrait.master_id, steps=[{"op": "denoise"}, {"op": "sharpen"}]
    )
    assert runner.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    data = artifact_export_c2pa(artifact_id=job.output_id, fmt="jpeg")
    read = c2pa_read(data=data, media_type="image/jpeg", trust_anchors=signing / "ca.pem")
    assert read["state"] == "Trusted"
    found = [a for a in read["manifest"]["assertions"] if a["label"].startswith(IDENTITY_LABEL)]
    steps = list(Step.objects.filter(job=job).order_by("job_index"))
    assert [a["data"]["step"] for a in found] == [s.pk for s in steps]
    assert all(a["data"]["faces"][0]["verdict"] == "same" for a in found)
    assert found[0]["data"]["record_hash"] == steps[0].record_hash


def test_a_swapped_face_is_flagged_and_needs_a_reason_to_be_approved(curator, portrait):
    client = client_of(curator)
    swapped = paste_face(load("old_a.png"), load("old_w_scratch_a.png"))
    made = client.post(
        "/api/v1/steps/manual/",
        {
            "input": portrait.master_id,
            "image": SimpleUploadedFile("retouched.png", png(swapped), "image/png"),
            "rationale": "retouched the face",
            "tool": "GIMP 2.10",
        },
        format="multipart",
    )
    assert made.status_code == 201, made.content
    step = made.json()
    assert step["identity_verdict"] == "different", step["identity"]
    assert step["identity"][0]["verdict"] == "different"
    assert step["identity_check"]["thresholds"]["version"] == identity.THRESHOLDS_VERSION
    url = f"/api/v1/photos/{portrait.pk}/approve/"
    refused = client.post(url, {"artifact": step["output"], "note": "best"}, format="json")
    assert refused.status_code == 400, refused.content
    assert "reason" in refused.json()["fields"]
    assert Photo.objects.get(pk=portrait.pk).approved_artifact_id is None
    unknown = client.post(url, {"artifact": step["output"], "figures": [3]}, format="json")
    assert unknown.status_code == 400 and "figures" in unknown.json()["fields"]
    reason = "the donor face is the same sitter from a sharper print (letter of 1931, p. 2)"
    approved = client.post(
        url, {"artifact": step["output"], "note": "best", "reason": reason}, format="json"
    )
    assert approved.status_code == 200, approved.content
    assert approved.json()["approved_artifact"] == step["output"]
    revision = Revision.objects.filter(record_type="photo", record_id=portrait.pk).last()
    assert revision is not None and revision.after["approved_identity_reason"] == reason
    page = client_of(curator)
    page.force_login(curator)
    html = page.get(f"/artifacts/{step['output']}/").content.decode()
    assert "different person" in html and "verdict-different" in html


def test_identity_checking_can_be_turned_off(curator, portrait, settings, monkeypatch):
    from restoration import runner
    from restoration.jobs import job_create

    settings.ARCHIVE_IDENTITY_CHECK = False
    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    job = job_create(user=curator, input_id=portrait.master_id, steps=[{"op": "grayscale"}])
    assert runner.run_job(job.pk) == "succeeded"
    step = Step.objects.get(job=job)
    assert step.identity == {} and step.identity_verdict == ""


def test_the_identity_panel_speaks_chinese(curator, portrait):
    from django.test import Client

    swapped = paste_face(load("old_a.png"), load("old_w_scratch_a.png"))
    step = (
        client_of(curator)
        .post(
            "/api/v1/steps/manual/",
            {
                "input": portrait.master_id,
                "image": SimpleUploadedFile("retouched.png", png(swapped), "image/png"),
                "rationale": "retouched the face",
            },
            format="multipart",
        )
        .json()
    )
    page = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    page.force_login(curator)
    html = page.get(f"/artifacts/{step['output']}/").content.decode()
    for text in ("身份：仍是同一个人吗？", "一张面孔被改成了另一个人", "面孔已改变：另一个人"):
        assert text in html, text
    assert "另一个人" in page.get(f"/photos/{portrait.pk}/").content.decode()
