"""Faces across the archive: indexed after ingest, found by photo, by face and for a figure,
restricted photos never appear (results or counts), a confirmation is a revisioned fact."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import skimage.data
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.models import FaceIdentification, Revision
from archive.services import figure_create, photo_ingest
from restoration.engine import identity
from restoration.faces import faces_index_artifact
from restoration.models import Face, FaceIndexRun
from tests.faces.test_identity_engine import load
from tests.faces.test_identity_steps import client_of, png

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(identity.available() is not None, reason=str(identity.available())),
]


def variant(image: np.ndarray, k: int) -> np.ndarray:
    """Another print of the same photograph: a different crop, scale, tone and grain."""
    h, w = image.shape[:2]
    crop = image[k * 4 : h - k * 3, k * 3 : w - k * 4]
    scaled = cv2.resize(crop, None, fx=0.9 + 0.1 * k, fy=0.9 + 0.1 * k)
    rng = np.random.default_rng(k)
    toned = np.clip(scaled * (0.85 + 0.05 * k) + rng.normal(0, 4, scaled.shape), 0, 255)
    return toned.astype(np.uint8)


@pytest.fixture
def people(django_user_model):
    cataloguer = django_user_model.objects.create_user(username="cat", password="pw-cat-1")
    cataloguer.groups.add(Group.objects.get(name="cataloguer"))
    viewer = django_user_model.objects.create_user(username="viewer", password="pw-viewer-1")
    viewer.groups.add(Group.objects.get(name="viewer"))
    admin = django_user_model.objects.create_superuser(username="root", password="pw-root-1")
    return {"cataloguer": cataloguer, "viewer": viewer, "admin": admin}


@pytest.fixture
def archive(people, settings):
    """A dozen photos: two prints of old_a's sitter, one restricted third print, and nine of
    other people (the corpus portraits, the astronaut and variants of them)."""
    settings.ARCHIVE_FACE_INDEX = True
    admin = people["admin"]
    others = [load("old_w_scratch_a.png"), load("old_w_scratch_b.png"), skimage.data.astronaut()]
    images = {
        "first": load("old_a.png"),
        "second": variant(load("old_a.png"), 2),
        **{f"other{n}": variant(img, k) for n, img in enumerate(others) for k in (1, 2, 3)},
    }
    photos = {}
    for name, image in images.items():
        photos[name] = photo_ingest(
            stream=io.BytesIO(png(image)), filename=f"{name}.png", user=admin, title=name
        ).photo
    secret = photo_ingest(
        stream=io.BytesIO(png(variant(load("old_a.png"), 1))),
        filename="secret.png",
        user=admin,
        metadata={"restricted": True},
    ).photo
    photos["secret"] = secret
    for photo in photos.values():  # what the background worker does after each ingest
        faces_index_artifact(artifact_id=photo.master_id)
    return photos


def test_every_ingested_still_is_indexed_once(archive):
    first = archive["first"]
    assert FaceIndexRun.objects.filter(artifact_id=first.master_id).count() == 1
    faces = Face.objects.filter(artifact_id=first.master_id)
    assert faces.count() == 1 and faces[0].embedding is not None
    again = faces_index_artifact(artifact_id=first.master_id)
    assert again is not None and Face.objects.filter(artifact_id=first.master_id).count() == 1


def test_a_second_photo_of_the_same_person_ranks_first_and_restricted_never_shows(archive, people):
    first, second, secret = archive["first"], archive["second"], archive["secret"]
    viewer = client_of(people["viewer"])
    answer = viewer.post(
        "/api/v1/faces/search/", {"artifact": first.master_id}, format="json"
    ).json()
    matches = answer["matches"]
    assert matches[0]["artifact"] == second.master_id, matches
    assert matches[0]["verdict"] == "same"
    shown = {m["artifact"] for m in matches}
    assert secret.master_id not in shown and first.master_id not in shown
    admin = client_of(people["admin"])
    full = admin.post("/api/v1/faces/search/", {"artifact": first.master_id}, format="json")
    assert secret.master_id in {m["artifact"] for m in full.json()["matches"]}
    # an upload finds the same faces, the restricted one never
    upload = viewer.post(
        "/api/v1/faces/search/",
        {"image": SimpleUploadedFile("q.png", png(variant(load("old_a.png"), 3)), "image/png")},
        format="multipart",
    ).json()["matches"]
    assert {first.master_id, second.master_id} <= {m["artifact"] for m in upload[:2]}
    assert secret.master_id not in {m["artifact"] for m in upload}
    listed = viewer.get(f"/api/v1/faces/?artifact={secret.master_id}").json()
    assert listed["count"] == 0


def test_a_confirmed_face_is_a_revisioned_fact_and_the_figure_finds_its_other_photos(
    archive, people
):
    first, second = archive["first"], archive["second"]
    figure = figure_create(name="Li Dazhao", user=people["admin"])
    face = Face.objects.get(artifact_id=first.master_id)
    cataloguer = client_of(people["cataloguer"])
    refused = cataloguer.post(f"/api/v1/faces/{face.pk}/confirm/", {"figure": figure.pk})
    assert refused.status_code == 400 and "rationale" in refused.json()["fields"]
    made = cataloguer.post(
        f"/api/v1/faces/{face.pk}/confirm/",
        {"figure": figure.pk, "rationale": "captioned in the 1927 yearbook, p. 4"},
        format="json",
    )
    assert made.status_code == 200, made.content
    assert made.json()["figures"] == [figure.pk]
    fact = FaceIdentification.objects.get(face=face, figure=figure)
    assert Revision.objects.filter(record_type="face", record_id=fact.pk).count() == 1
    viewer_cant = client_of(people["viewer"]).post(
        f"/api/v1/faces/{face.pk}/confirm/", {"figure": figure.pk, "rationale": "x"}
    )
    assert viewer_cant.status_code == 403
    faces = client_of(people["viewer"]).get(f"/api/v1/figures/{figure.pk}/faces/").json()
    assert [c["face"] for c in faces["confirmed"]] == [face.pk]
    assert faces["matches"][0]["artifact"] == second.master_id
    assert archive["secret"].master_id not in {m["artifact"] for m in faces["matches"]}


def test_face_search_can_be_turned_off(archive, people, settings):
    settings.ARCHIVE_FACE_INDEX = False
    answer = client_of(people["viewer"]).post(
        "/api/v1/faces/search/", {"artifact": archive["first"].master_id}, format="json"
    )
    assert answer.status_code == 404


def test_a_restoration_of_a_confirmed_face_is_checked_against_the_figures_other_faces(
    archive, people, monkeypatch
):
    """Faces confirmed as a figure on other photographs: a later step's output face is compared
    with them too, and a swap says it no longer matches them."""
    from archive.services import face_confirm
    from restoration import runner
    from restoration.jobs import job_create
    from restoration.manual import step_record_manual
    from restoration.models import Step

    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    admin = people["admin"]
    figure = figure_create(name="Li Dazhao", user=admin)
    first, second = archive["first"], archive["second"]
    for photo in (first, second):
        face = Face.objects.get(artifact_id=photo.master_id)
        face_confirm(face_id=face.pk, figure=figure, user=admin, rationale="captioned print")
    job = job_create(user=admin, input_id=second.master_id, steps=[{"op": "denoise"}])
    assert runner.run_job(job.pk) == "succeeded"
    entry = Step.objects.get(job=job).identity["faces"][0]
    against = entry["confirmed"]["figures"][0]
    assert against["figure"] == figure.pk and against["faces"] == 2 and against["matches"]

    class Upload(io.BytesIO):
        name = "swap.png"

    from tests.faces.test_identity_engine import paste_face

    swapped = step_record_manual(
        input_artifact_id=second.master_id,
        image=Upload(png(paste_face(variant(load("old_a.png"), 2), load("old_w_scratch_a.png")))),
        rationale="retouched",
        user=admin,
    )
    entry = swapped.identity["faces"][0]
    assert entry["verdict"] == "different"
    assert entry["confirmed"]["figures"][0]["matches"] is False


def test_the_backfill_indexes_what_was_not_indexed_once(people, settings):
    """manage.py faces_index: artifacts ingested while indexing was off, then turned on."""
    from django.core.management import call_command

    settings.ARCHIVE_FACE_INDEX = False
    photo = photo_ingest(
        stream=io.BytesIO(png(load("old_a.png"))), filename="a.png", user=people["admin"]
    ).photo
    assert not FaceIndexRun.objects.exists()
    settings.ARCHIVE_FACE_INDEX = True
    out = io.StringIO()
    call_command("faces_index", stdout=out)
    assert "indexed 1 artifact(s): 1 face(s), 0 failure(s)" in out.getvalue()
    assert Face.objects.filter(artifact_id=photo.master_id).count() == 1
    again = io.StringIO()
    call_command("faces_index", stdout=again)
    assert "indexed 0 artifact(s)" in again.getvalue()
