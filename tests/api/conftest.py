"""Fixtures for the API tests: one user per role (groups from the roles migration), token
clients, and a small archive with public and restricted records and their lineage."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from archive.models import Citation, Figure, Note, Photo, ReferenceImage, Source
from archive.services import figure_create, photo_ingest
from restoration.models import Artifact, Job
from tests.conftest import image_bytes
from tests.restoration.lineage_support import derive

ROLES = ("anonymous", "plain", "viewer", "cataloguer", "restorer", "auditor", "admin")


@pytest.fixture(autouse=True)
def _no_job_enqueue(monkeypatch):
    """Jobs are rows first: the API tests check the rows, not a worker."""
    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)


@pytest.fixture(autouse=True)
def _fast_throttle_cache(settings):
    settings.ARCHIVE_JOB_SUBMIT_RATE = "1000/min"
    from django.core.cache import cache

    cache.clear()


def make_user(django_user_model: Any, role: str) -> Any:
    if role == "anonymous":
        return None
    if role == "admin":
        return django_user_model.objects.create_superuser(username="admin", password="pw-admin-1")
    user = django_user_model.objects.create_user(username=role, password=f"pw-{role}-1")
    if role != "plain":
        user.groups.add(Group.objects.get(name=role))
    return user


def client_for(user: Any) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def users(django_user_model) -> dict[str, Any]:
    return {role: make_user(django_user_model, role) for role in ROLES}


@pytest.fixture
def clients(users) -> dict[str, APIClient]:
    return {role: client_for(user) for role, user in users.items()}


@dataclass
class World:
    figure: Figure
    secret_figure: Figure
    source: Source
    secret_source: Source
    citation: Citation
    secret_citation: Citation
    photo: Photo
    secret_photo: Photo
    derived: Artifact  # from the public master
    secret_derived: Artifact  # from the restricted master
    cited_derived: Artifact  # public master, but the step cited a restricted citation
    note: Note
    secret_note: Note
    reference: ReferenceImage
    job: Job
    secret_job: Job


def ingest(seed: int, **kwargs: Any) -> Photo:
    result = photo_ingest(
        stream=io.BytesIO(image_bytes("PNG", seed=seed)), filename=f"s{seed}.png", **kwargs
    )
    assert result.photo is not None
    return result.photo


@pytest.fixture
def world(db, users) -> World:
    figure = figure_create(
        name="Lu Xun",
        names=[
            {"name": "鲁迅", "language": "zh-Hans", "kind": "pen"},
            {"name": "周樹人", "language": "zh-Hant", "kind": "birth"},
        ],
        birth_date="1881-09-25",
    )
    secret_figure = figure_create(
        name="Hidden Person", names=[{"name": "秘人", "language": "zh-Hans"}], restricted=True
    )
    source = Source.objects.create(title="Diary of 1925", kind="letter")
    secret_source = Source.objects.create(title="Sealed letters", restricted=True)
    citation = Citation.objects.create(
        source=source, locator="p. 12", claim="collar dark blue", target=figure
    )
    secret_citation = Citation.objects.create(source=source, locator="p. 13", restricted=True)
    photo = ingest(
        1,
        title="Portrait 1930",
        figure_ids=[figure.pk, secret_figure.pk],
        metadata={"accession_number": "ACC-001"},
    )
    secret_photo = ingest(
        2,
        title="Sealed portrait",
        figure_ids=[secret_figure.pk],
        metadata={"restricted": True, "accession_number": "SEC-002"},
    )
    derived = derive(photo.master, seed=11)
    secret_derived = derive(secret_photo.master, seed=12)
    cited_derived = derive(photo.master, seed=13, citation_ids=[secret_citation.pk])
    note = Note.objects.create(title="Collar", body="dark blue", figure=figure)
    secret_note = Note.objects.create(title="About the hidden one", body="x", figure=secret_figure)
    reference = ReferenceImage.objects.create(artifact=derived, figure=figure, title="other angle")
    job = Job.objects.create(
        input=photo.master, pipeline=[{"op": "denoise", "params": {}}], requester=users["restorer"]
    )
    secret_job = Job.objects.create(
        input=secret_photo.master,
        pipeline=[{"op": "denoise", "params": {}}],
        requester=users["restorer"],
    )
    return World(
        figure=figure,
        secret_figure=secret_figure,
        source=source,
        secret_source=secret_source,
        citation=citation,
        secret_citation=secret_citation,
        photo=photo,
        secret_photo=secret_photo,
        derived=derived,
        secret_derived=secret_derived,
        cited_derived=cited_derived,
        note=note,
        secret_note=secret_note,
        reference=reference,
        job=job,
        secret_job=secret_job,
    )
