"""Every role against every route: who may read, write, submit, retouch and verify.

One archive per role; the routes run in a fixed order (reads, writes, then deletes) and all
mismatches are reported together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.models import Source
from tests.api.conftest import ROLES, World
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db

READ = "read"
CATALOGUE = "catalogue"
RESTORE = "restore"
AUDIT = "audit"
OWN_JOB = "own_job"

# Which roles may do what; everyone else authenticated gets 403, anonymous 401.
ALLOWED = {
    READ: {"plain", "viewer", "cataloguer", "restorer", "auditor", "admin"},
    CATALOGUE: {"cataloguer", "admin"},
    RESTORE: {"restorer", "admin"},
    AUDIT: {"auditor", "admin"},
    OWN_JOB: {"restorer", "admin"},  # the world's job was submitted by "restorer"
}


@dataclass
class Route:
    method: str
    path: Callable[[World], str]
    rule: str
    ok: int = 200
    body: Callable[[World], Any] | None = None
    multipart: bool = False


def upload(seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"up{seed}.png", image_bytes("PNG", seed=seed), "image/png")


ROUTES: list[Route] = [
    # reads
    Route("get", lambda w: "/api/v1/figures/", READ),
    Route("get", lambda w: f"/api/v1/figures/{w.figure.pk}/", READ),
    Route("get", lambda w: "/api/v1/sources/", READ),
    Route("get", lambda w: f"/api/v1/sources/{w.source.pk}/", READ),
    Route("get", lambda w: "/api/v1/citations/", READ),
    Route("get", lambda w: f"/api/v1/citations/{w.citation.pk}/", READ),
    Route("get", lambda w: "/api/v1/references/", READ),
    Route("get", lambda w: f"/api/v1/references/{w.reference.pk}/", READ),
    Route("get", lambda w: "/api/v1/notes/", READ),
    Route("get", lambda w: f"/api/v1/notes/{w.note.pk}/", READ),
    Route("get", lambda w: "/api/v1/photos/", READ),
    Route("get", lambda w: f"/api/v1/photos/{w.photo.pk}/", READ),
    Route("get", lambda w: "/api/v1/artifacts/", READ),
    Route("get", lambda w: f"/api/v1/artifacts/{w.derived.pk}/", READ),
    Route("get", lambda w: f"/api/v1/artifacts/{w.derived.pk}/file/", READ),
    Route("get", lambda w: f"/api/v1/artifacts/{w.derived.pk}/lineage/", READ),
    Route("get", lambda w: f"/api/v1/artifacts/{w.derived.pk}/prov/?format=provn", READ),
    Route("get", lambda w: f"/api/v1/artifacts/{w.derived.pk}/export/?format=png", READ),
    Route("get", lambda w: "/api/v1/steps/", READ),
    Route("get", lambda w: f"/api/v1/steps/{w.derived.generated_by_id}/", READ),
    Route("get", lambda w: "/api/v1/jobs/", READ),
    Route("get", lambda w: f"/api/v1/jobs/{w.job.pk}/", READ),
    Route("get", lambda w: "/api/v1/operations/", READ),
    Route("get", lambda w: "/api/v1/operations/denoise/", READ),
    Route("get", lambda w: "/api/v1/models/", READ),
    # the last verify is a read; running one is the auditors'
    Route("get", lambda w: f"/api/v1/artifacts/{w.derived.pk}/verify/", READ),
    Route("post", lambda w: f"/api/v1/artifacts/{w.derived.pk}/verify/", AUDIT),
    # catalogue writes
    Route(
        "post",
        lambda w: "/api/v1/figures/",
        CATALOGUE,
        201,
        lambda w: {"name": "Qiu Jin", "names": [{"name": "秋瑾", "language": "zh-Hans"}]},
    ),
    Route(
        "patch",
        lambda w: f"/api/v1/figures/{w.figure.pk}/",
        CATALOGUE,
        200,
        lambda w: {"biography": "writer"},
    ),
    Route(
        "put",
        lambda w: f"/api/v1/sources/{w.source.pk}/",
        CATALOGUE,
        200,
        lambda w: {"title": "Diary of 1925 (2nd ed.)", "kind": "book"},
    ),
    Route("post", lambda w: "/api/v1/sources/", CATALOGUE, 201, lambda w: {"title": "A book"}),
    Route(
        "post",
        lambda w: "/api/v1/citations/",
        CATALOGUE,
        201,
        lambda w: {
            "source": w.source.pk,
            "locator": "p. 3",
            "target": {"type": "photo", "id": w.photo.pk},
        },
    ),
    Route(
        "patch",
        lambda w: f"/api/v1/citations/{w.citation.pk}/",
        CATALOGUE,
        200,
        lambda w: {"quote": "the collar was dark blue"},
    ),
    Route(
        "post",
        lambda w: "/api/v1/notes/",
        CATALOGUE,
        201,
        lambda w: {"title": "n", "body": "b", "figure": w.figure.pk},
    ),
    Route(
        "patch", lambda w: f"/api/v1/notes/{w.note.pk}/", CATALOGUE, 200, lambda w: {"body": "navy"}
    ),
    Route(
        "post",
        lambda w: "/api/v1/references/",
        CATALOGUE,
        201,
        lambda w: {"artifact": w.derived.pk, "title": "angle", "kind": "other_angle"},
    ),
    Route(
        "post",
        lambda w: "/api/v1/references/",
        CATALOGUE,
        201,
        lambda w: {"image": upload(41), "title": "uniform", "kind": "costume"},
        multipart=True,
    ),
    Route(
        "patch",
        lambda w: f"/api/v1/references/{w.reference.pk}/",
        CATALOGUE,
        200,
        lambda w: {"description": "taken the same day"},
    ),
    Route(
        "post",
        lambda w: "/api/v1/photos/",
        CATALOGUE,
        201,
        lambda w: {"image": upload(42), "title": "New scan", "figures": [w.figure.pk]},
        multipart=True,
    ),
    Route(
        "patch",
        lambda w: f"/api/v1/photos/{w.photo.pk}/",
        CATALOGUE,
        200,
        lambda w: {"place": "Shanghai"},
    ),
    # restorers
    Route(
        "post",
        lambda w: "/api/v1/jobs/",
        RESTORE,
        202,
        lambda w: {"input": w.photo.master_id, "steps": [{"op": "grayscale", "params": {}}]},
    ),
    Route(
        "post",
        lambda w: "/api/v1/steps/manual/",
        RESTORE,
        201,
        lambda w: {"input": w.derived.pk, "image": upload(43), "rationale": "retouched a crack"},
        multipart=True,
    ),
    Route("post", lambda w: f"/api/v1/jobs/{w.job.pk}/cancel/", OWN_JOB),
    # deletes last
    Route("delete", lambda w: f"/api/v1/notes/{w.note.pk}/", CATALOGUE, 204),
    Route("delete", lambda w: f"/api/v1/references/{w.reference.pk}/", CATALOGUE, 204),
    Route("delete", lambda w: f"/api/v1/citations/{w.citation.pk}/", CATALOGUE, 204),
    Route(
        "delete",
        lambda w: f"/api/v1/sources/{Source.objects.get(title='Spare').pk}/",
        CATALOGUE,
        204,
    ),
    Route("delete", lambda w: f"/api/v1/photos/{w.photo.pk}/", CATALOGUE, 204),
    Route("delete", lambda w: f"/api/v1/figures/{w.figure.pk}/", CATALOGUE, 204),
]


def expected(route: Route, role: str) -> int:
    if role == "anonymous":
        return 401
    return route.ok if role in ALLOWED[route.rule] else 403


@pytest.mark.parametrize("role", ROLES)
def test_every_route_for_role(role, clients, world, settings, tmp_path):
    from restoration.exports.c2pa import signing_material_create

    settings.C2PA_CERT_CHAIN = tmp_path / "chain.pem"
    settings.C2PA_PRIVATE_KEY = tmp_path / "leaf.key"
    settings.C2PA_TRUST_ANCHORS = tmp_path / "ca.pem"
    signing_material_create(
        cert_chain=settings.C2PA_CERT_CHAIN,
        private_key=settings.C2PA_PRIVATE_KEY,
        trust_anchors=settings.C2PA_TRUST_ANCHORS,
    )
    Source.objects.create(title="Spare")
    client = clients[role]
    wrong = []
    for route in ROUTES:
        path = route.path(world)
        kwargs: dict[str, Any] = {}
        if route.body is not None:
            kwargs = {
                "data": route.body(world),
                "format": "multipart" if route.multipart else "json",
            }
        response = getattr(client, route.method)(path, **kwargs)
        want = expected(route, role)
        if response.status_code != want:
            body = response.content[:300] if response.status_code != 204 else b""
            wrong.append(
                f"{route.method.upper()} {path}: {response.status_code} != {want} {body!r}"
            )
    assert not wrong, f"role {role}:\n" + "\n".join(wrong)


def test_anonymous_reads_the_public_catalogue_when_enabled(clients, world, settings):
    settings.ARCHIVE_PUBLIC_CATALOGUE = True
    anonymous = clients["anonymous"]
    listed = anonymous.get("/api/v1/figures/").json()
    assert [f["name"] for f in listed["results"]] == ["Lu Xun"]
    assert anonymous.get(f"/api/v1/figures/{world.secret_figure.pk}/").status_code == 404
    assert anonymous.get(f"/api/v1/artifacts/{world.derived.pk}/lineage/").status_code == 200
    assert anonymous.get(f"/api/v1/artifacts/{world.secret_derived.pk}/lineage/").status_code == 404
    # ...but still may not write.
    assert anonymous.post("/api/v1/figures/", {"name": "X"}, format="json").status_code == 401
    assert anonymous.post(f"/api/v1/artifacts/{world.derived.pk}/verify/").status_code == 401


def test_restorer_cannot_cancel_someone_elses_job(clients, users, world):
    other = users["restorer"].__class__.objects.create_user(username="restorer2", password="pw-2")
    from django.contrib.auth.models import Group

    other.groups.add(Group.objects.get(name="restorer"))
    from tests.api.conftest import client_for

    response = client_for(other).post(f"/api/v1/jobs/{world.job.pk}/cancel/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_drf_create_token_command_gives_a_working_token(users, world):
    from io import StringIO

    from django.core.management import call_command
    from rest_framework.test import APIClient

    out = StringIO()
    call_command("drf_create_token", "viewer", stdout=out)
    key = out.getvalue().split()[2]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/figures/").status_code == 200


def test_session_auth_works_for_the_pages(users, world, client):
    assert client.login(username="viewer", password="pw-viewer-1")
    assert client.get("/api/v1/figures/").status_code == 200
    # Session writes need the CSRF token like any form.
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.login(username="cataloguer", password="pw-cataloguer-1")
    response = csrf_client.post("/api/v1/figures/", {"name": "X"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]
