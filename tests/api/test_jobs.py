"""Jobs over the API: submit (202), validation naming each bad field, throttling, watching
progress and steps, cancelling; the operations and models listings; manual steps."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from restoration.models import Job, ModelWeights, Step
from tests.conftest import image_bytes
from tests.restoration.lineage_support import derive

pytestmark = pytest.mark.django_db


def submit(client, **body):
    return client.post("/api/v1/jobs/", body, format="json")


def test_submit_answers_202_with_the_queued_job(clients, world):
    response = submit(
        clients["restorer"],
        input=world.photo.master_id,
        steps=[{"op": "denoise", "params": {}}, {"op": "grayscale"}],
        on_behalf_of="Museum X",
    )
    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["status"], job["progress"], job["steps"], job["output"], job["error"]) == (
        "queued",
        0.0,
        [],
        None,
        "",
    )
    assert [s["op"] for s in job["pipeline"]] == ["denoise", "grayscale"]
    assert Job.objects.get(pk=job["id"]).requester.username == "restorer"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": [{"op": "denoise"}]}, "input"),
        ({"input": "x", "steps": [{"op": "denoise"}]}, "input"),
        ({"input": 1, "steps": []}, "steps"),
        ({"input": 1, "steps": [{"op": "teleport"}]}, "steps[0].op"),
        ({"input": 1, "steps": [{"params": {}}]}, "steps[0].op"),
        (
            {"input": 1, "steps": [{"op": "denoise", "params": {"strength": 1e9}}]},
            "steps[0].params.strength",
        ),
        ({"input": 1, "steps": [{"op": "denoise", "params": {"nonsense": 1}}]}, "steps[0].params"),
        ({"input": 1, "steps": [{"op": "sr", "params": {"model": "nope"}}]}, "steps[0]"),
        ({"input": 999999, "steps": [{"op": "denoise"}]}, "input"),
        ({"input": 1, "steps": "denoise"}, "steps"),
    ],
)
def test_invalid_pipelines_are_400_naming_the_field(clients, world, body, field):
    if body.get("input") == 1:
        body["input"] = world.photo.master_id
    response = submit(clients["restorer"], **body)
    assert response.status_code == 400, response.content
    error = response.json()
    assert any(name.startswith(field) for name in error["fields"]), error
    assert error["message"]
    assert Job.objects.count() == 2  # the world's jobs only


def test_job_submission_is_throttled(clients, world, settings):
    settings.ARCHIVE_JOB_SUBMIT_RATE = "2/min"
    body = {"input": world.photo.master_id, "steps": [{"op": "grayscale"}]}
    codes = [submit(clients["restorer"], **body).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    response = submit(clients["restorer"], **body)
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    # Reads are not throttled.
    assert clients["restorer"].get("/api/v1/jobs/").status_code == 200


def test_watching_a_job_shows_progress_steps_and_output(clients, world):
    out = derive(world.photo.master, seed=61, operation="denoise", job_id=world.job.pk, job_index=0)
    Job.objects.filter(pk=world.job.pk).update(status="succeeded", progress=1.0, output=out)
    job = clients["viewer"].get(f"/api/v1/jobs/{world.job.pk}/").json()
    assert (job["status"], job["progress"], job["output"]) == ("succeeded", 1.0, out.pk)
    (step,) = job["steps"]
    assert {"id", "operation", "parameters", "started_at", "ended_at", "output"} <= set(step)
    assert (step["operation"], step["output"]) == ("denoise", out.pk)


def test_cancel(clients, world):
    url = f"/api/v1/jobs/{world.job.pk}/cancel/"
    first = clients["restorer"].post(url)
    assert first.status_code == 200 and first.json()["status"] == "cancelled"
    assert clients["restorer"].post(url).status_code == 200  # cancelling twice is a no-op
    Job.objects.filter(pk=world.secret_job.pk).update(status="succeeded")
    done = clients["admin"].post(f"/api/v1/jobs/{world.secret_job.pk}/cancel/")
    assert done.status_code == 409 and done.json()["code"] == "not_cancellable"


def test_operations_list_schema_and_availability(clients, world):
    ops = {o["name"]: o for o in clients["viewer"].get("/api/v1/operations/").json()}
    assert {
        "denoise",
        "descratch",
        "clahe",
        "sharpen",
        "upscale",
        "grayscale",
        "crop",
        "rotate",
    } <= set(ops)
    assert (
        ops["denoise"]["available"] is True and ops["denoise"]["params_schema"]["type"] == "object"
    )
    if "sr" in ops and not ModelWeights.objects.filter(purpose="sr").exists():
        assert ops["sr"]["available"] is False and ops["sr"]["reason"]
    assert clients["viewer"].get("/api/v1/operations/teleport/").status_code == 404


def test_models_listing(clients, world, tmp_path):
    path = tmp_path / "x4.pth"
    path.write_bytes(b"w")
    ModelWeights.objects.create(
        name="RealESRGAN_x4plus",
        sha256="a" * 64,
        architecture="ESRGAN",
        purpose="sr",
        scale=4,
        license="permissive",
        path=str(path),
    )
    (model,) = clients["viewer"].get("/api/v1/models/").json()["results"]
    assert {"id", "name", "sha256", "architecture", "purpose", "scale", "license"} <= set(model)
    assert "path" not in model  # where the file lives on the server is not the client's business
    assert clients["viewer"].get("/api/v1/models/", {"purpose": "colorize"}).json()["count"] == 0


def test_manual_step_is_recorded_with_its_justification(clients, world):
    response = clients["restorer"].post(
        "/api/v1/steps/manual/",
        {
            "input": world.derived.pk,
            "image": SimpleUploadedFile(
                "retouched.png", image_bytes("PNG", seed=71, size=(16, 12)), "image/png"
            ),
            "rationale": "filled the crack across the collar by hand",
            "tool": "GIMP 2.10",
            "citations": [world.citation.pk],
            "references": [world.reference.pk],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    step = response.json()
    assert (step["kind"], step["citations"], step["references"]) == (
        "manual",
        [world.citation.pk],
        [world.reference.pk],
    )
    assert step["inputs"] == [{"artifact": world.derived.pk, "role": "image", "position": 0}]
    assert Step.objects.get(pk=step["id"]).rationale.startswith("filled")
    lineage = clients["viewer"].get(f"/api/v1/artifacts/{step['output']}/lineage/").json()
    assert world.photo.master_id in lineage["masters"]


def test_manual_step_refusals(clients, world):
    c = clients["restorer"]
    png = image_bytes("PNG", seed=72, size=(16, 12))
    no_reason = c.post(
        "/api/v1/steps/manual/",
        {
            "input": world.derived.pk,
            "image": SimpleUploadedFile("r.png", png, "image/png"),
            "rationale": "",
        },
        format="multipart",
    )
    assert no_reason.status_code == 400 and "rationale" in no_reason.json()["fields"]
    hidden_input = c.post(
        "/api/v1/steps/manual/",
        {
            "input": world.secret_derived.pk,
            "image": SimpleUploadedFile("r.png", png, "image/png"),
            "rationale": "x",
        },
        format="multipart",
    )
    assert hidden_input.status_code == 400 and "input" in hidden_input.json()["fields"]
    hidden_citation = c.post(
        "/api/v1/steps/manual/",
        {
            "input": world.derived.pk,
            "image": SimpleUploadedFile("r.png", png, "image/png"),
            "rationale": "x",
            "citations": [world.secret_citation.pk],
        },
        format="multipart",
    )
    assert hidden_citation.status_code == 400 and "citations" in str(
        hidden_citation.json()["fields"]
    )


def test_export_with_content_credentials(clients, world, settings, tmp_path):
    url = f"/api/v1/artifacts/{world.derived.pk}/export/"
    settings.C2PA_CERT_CHAIN = tmp_path / "chain.pem"
    settings.C2PA_PRIVATE_KEY = tmp_path / "leaf.key"
    settings.C2PA_TRUST_ANCHORS = tmp_path / "ca.pem"
    unconfigured = clients["viewer"].get(url)
    assert unconfigured.status_code == 422 and unconfigured.json()["code"] == "c2pa_not_configured"

    from restoration.exports.c2pa import c2pa_read, signing_material_create

    signing_material_create(
        cert_chain=settings.C2PA_CERT_CHAIN,
        private_key=settings.C2PA_PRIVATE_KEY,
        trust_anchors=settings.C2PA_TRUST_ANCHORS,
    )
    for fmt, media in (("jpeg", "image/jpeg"), ("png", "image/png")):
        response = clients["viewer"].get(url, {"format": fmt})
        assert response.status_code == 200, response.content[:300]
        assert response["Content-Type"] == media
        read = c2pa_read(
            data=response.content, media_type=media, trust_anchors=settings.C2PA_TRUST_ANCHORS
        )
        assert read["state"] in {"Trusted", "Valid"}
    bad = clients["viewer"].get(url, {"format": "gif"})
    assert bad.status_code == 400 and "format" in bad.json()["fields"]


def test_manual_step_of_an_unchanged_image_names_the_image(clients, world, isolated_storage):
    from restoration.storage import object_key

    same = (isolated_storage / object_key(world.derived.sha256)).read_bytes()
    response = clients["restorer"].post(
        "/api/v1/steps/manual/",
        {
            "input": world.derived.pk,
            "image": SimpleUploadedFile("same.png", same, "image/png"),
            "rationale": "x",
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unchanged" and "image" in response.json()["fields"]
