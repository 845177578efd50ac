"""The admin ingests through the one ingest: same checks, duplicates answered on the form."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.models import Photo
from archive.services import photo_ingest
from restoration.models import Artifact, Step
from tests.archive.test_admin import INLINE, admin_client_logged  # noqa: F401 (fixture)
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db


def test_the_admin_answers_a_duplicate_on_the_form(admin_client_logged, isolated_storage):  # noqa: F811
    data = image_bytes("PNG", seed=31)
    first = photo_ingest(stream=io.BytesIO(data), filename="a.png")
    response = admin_client_logged.post(
        "/admin/archive/photo/add/",
        {"image": SimpleUploadedFile("b.png", data, "image/png"), "title": "again", **INLINE},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert f"already in the archive as artifact {first.artifact.pk}" in page
    assert f"photo {first.photo.pk}" in page
    assert (Photo.objects.count(), Artifact.objects.count(), Step.objects.count()) == (1, 1, 1)
