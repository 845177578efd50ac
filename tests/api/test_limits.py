"""Inputs that used to be 500s answer a clear 4xx in the JSON error shape: JSON nested too
deep, ids beyond the database's bigint, and Django's own request limits (too many fields or
files: 400; a body over the limit: 413)."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory

from config.errors import bad_request
from restoration import imagefile
from restoration.models import Job
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db

SHAPE = {"status", "code", "message", "fields"}
HUGE = "12345678901234567890123"  # 23 digits: past 2**63 - 1


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == SHAPE and body["status"] == status and body["message"]
    return body


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# --- nesting ------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [100_000, 2_000, 40])
def test_json_nested_too_deep_is_400(clients, world, levels):
    c = clients["cataloguer"]
    body = error(c.post("/api/v1/figures/", deep(levels), content_type="application/json"), 400)
    assert body["code"] == "nesting_too_deep" and "nesting too deep" in body["message"]
    # Nested inside an object, to the jobs route.
    wrapped = '{"input": 1, "steps": ' + deep(levels) + "}"
    job = clients["restorer"].post("/api/v1/jobs/", wrapped, content_type="application/json")
    assert error(job, 400)["code"] == "nesting_too_deep"


def test_views_with_their_own_parser_list_are_covered_too(clients, world):
    """The photo routes list DRF's plain JSONParser; a RecursionError in the JSON decoder is
    still a 400 (api.errors), never a 500."""
    response = clients["cataloguer"].patch(
        f"/api/v1/photos/{world.photo.pk}/", deep(100_000), content_type="application/json"
    )
    assert error(response, 400)["code"] == "nesting_too_deep"


def test_reasonable_nesting_still_parses(clients, world):
    hints = [{"points": [[1, 1], [2, 2]], "color": "#112233"}]
    response = clients["restorer"].post(
        "/api/v1/jobs/",
        {
            "input": world.photo.master_id,
            "steps": [{"op": "grayscale"}, {"op": "colorize_hints", "params": {"hints": hints}}],
        },
        format="json",
    )
    assert response.status_code == 202, response.content


# --- ids beyond 2**63 - 1 -----------------------------------------------------------------


def test_hint_citation_out_of_range_is_400(clients, world):
    steps = [
        {"op": "grayscale"},
        {
            "op": "colorize_hints",
            "params": {"hints": [{"x": 1, "y": 1, "color": "#112233", "citation": int(HUGE)}]},
        },
    ]
    for citation in (int(HUGE), HUGE):
        steps[1]["params"]["hints"][0]["citation"] = citation
        response = clients["restorer"].post(
            "/api/v1/jobs/", {"input": world.photo.master_id, "steps": steps}, format="json"
        )
        body = error(response, 400)
        messages = body["fields"]["steps[1].params.hints[0].citation"]
        assert "id out of range" in messages[0], messages
    assert Job.objects.count() == 2  # the world's jobs only


@pytest.mark.parametrize("value", [int(HUGE), HUGE, 2**63])
def test_job_input_and_reference_out_of_range_are_400(clients, world, value):
    c = clients["restorer"]
    bad_input = c.post(
        "/api/v1/jobs/", {"input": value, "steps": [{"op": "grayscale"}]}, format="json"
    )
    assert "input" in error(bad_input, 400)["fields"]
    transfer = {"op": "color_transfer", "params": {"reference": value}}
    bad_reference = c.post(
        "/api/v1/jobs/", {"input": world.photo.master_id, "steps": [transfer]}, format="json"
    )
    assert error(bad_reference, 400)["fields"]


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/photos/{HUGE}/",
        f"/api/v1/figures/{HUGE}/",
        f"/api/v1/artifacts/{HUGE}/",
        f"/api/v1/artifacts/{HUGE}/lineage/",
        f"/api/v1/jobs/{HUGE}/",
        f"/api/v1/steps/{HUGE}/",
    ],
)
def test_path_ids_out_of_range_are_404(clients, world, path):
    assert error(clients["admin"].get(path), 404)["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/photos/", "figure"),
        ("/api/v1/citations/", "source"),
        ("/api/v1/figures/", "id"),
    ],
)
def test_filter_ids_out_of_range_are_never_500(clients, world, path, param):
    response = clients["admin"].get(path, {param: HUGE})
    assert response.status_code in (200, 400), response.content[:300]


def test_manual_step_ids_out_of_range_are_400(clients, world):
    response = clients["restorer"].post(
        "/api/v1/steps/manual/",
        {
            "input": HUGE,
            "image": SimpleUploadedFile("r.png", image_bytes("PNG", seed=61), "image/png"),
            "rationale": "x",
            "citations": [HUGE],
        },
        format="multipart",
    )
    assert error(response, 400)["fields"]


# --- Django's own request limits ----------------------------------------------------------


def test_too_many_fields_is_400_json(clients, world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    fields = {f"f{i}": "x" for i in range(10)}
    multipart = clients["cataloguer"].post(
        "/api/v1/photos/",
        {"image": SimpleUploadedFile("a.png", image_bytes("PNG", seed=62), "image/png"), **fields},
        format="multipart",
    )
    body = error(multipart, 400)
    assert body["code"] == "too_many_fields" and "too many fields" in body["message"]
    form = clients["cataloguer"].post(
        "/api/v1/figures/",
        "&".join(f"f{i}=x" for i in range(10)),
        content_type="application/x-www-form-urlencoded",
    )
    assert error(form, 400)["code"] == "too_many_fields"


def test_too_many_files_is_400_json(clients, world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    files = {
        f"image{i}": SimpleUploadedFile(f"{i}.png", image_bytes("PNG", seed=63 + i), "image/png")
        for i in range(4)
    }
    response = clients["cataloguer"].post("/api/v1/photos/", files, format="multipart")
    body = error(response, 400)
    assert body["code"] == "too_many_files" and "too many files" in body["message"]


def test_body_over_the_limit_is_413_json(clients, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    c = clients["cataloguer"]
    big_json = c.post(
        "/api/v1/figures/", json.dumps({"name": "x" * 2000}), content_type="application/json"
    )
    body = error(big_json, 413)
    assert body["code"] == "too_large"
    big_form = c.post(
        "/api/v1/figures/", "name=" + "x" * 2000, content_type="application/x-www-form-urlencoded"
    )
    assert error(big_form, 413)["code"] == "too_large"
    big_field = c.post(
        "/api/v1/photos/",
        {
            "image": SimpleUploadedFile("b.png", image_bytes("PNG", seed=70), "image/png"),
            "title": "t" * 2000,
        },
        format="multipart",
    )
    assert error(big_field, 413)["code"] == "too_large"
    # Uploaded files are not "data": they have their own, larger limit.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    ok = c.post(
        "/api/v1/photos/",
        {
            "image": SimpleUploadedFile(
                "c.png", image_bytes("PNG", seed=71, size=(200, 200)), "image/png"
            )
        },
        format="multipart",
    )
    assert ok.status_code == 201, ok.content


def test_django_limits_outside_drf_views_answer_json_under_api():
    """Django's own 400 handler (a limit hit while Django read the body itself)."""
    factory = RequestFactory()
    too_many = bad_request(factory.post("/api/v1/figures/"), TooManyFieldsSent("x"))
    assert too_many.status_code == 400
    assert json.loads(too_many.content)["code"] == "too_many_fields"
    too_big = bad_request(factory.post("/api/v1/photos/"), RequestDataTooBig("x"))
    assert too_big.status_code == 413 and json.loads(too_big.content)["code"] == "too_large"
    page = bad_request(factory.post("/figures/"), TooManyFieldsSent("x"))
    assert page.status_code == 400 and not page["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_a_decode_that_waited_too_long_is_503_not_400(clients, world, monkeypatch):
    monkeypatch.setattr(imagefile.DECODES, "wait_s", 0.2)
    held = imagefile.DECODES.limit_bytes  # another request holds the whole budget
    with imagefile.DECODES.reserve(held, "another upload"):
        answer = clients["cataloguer"].post(
            "/api/v1/photos/",
            {"image": SimpleUploadedFile("a.png", image_bytes("PNG", seed=91)), "title": "a"},
            format="multipart",
        )
    assert answer.status_code == 503, answer.content
    assert "busy decoding other large images" in answer.content.decode()
