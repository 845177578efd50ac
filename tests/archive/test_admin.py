from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.models import Photo
from archive.services import figure_create
from restoration.models import Artifact, Step
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db
# The citations inline's management form, as the admin page posts it.
INLINE = {
    "archive-citation-target_type-target_id-TOTAL_FORMS": "0",
    "archive-citation-target_type-target_id-INITIAL_FORMS": "0",
}


@pytest.fixture
def admin_client_logged(client, django_user_model):
    django_user_model.objects.create_superuser("archivist", "a@example.org", "pw-archivist-1")
    client.login(username="archivist", password="pw-archivist-1")
    return client


def test_archivist_adds_a_photo_by_uploading_its_master(admin_client_logged, isolated_storage):
    figure = figure_create(name="Qiu Jin", names=[{"name": "秋瑾", "language": "zh-Hans"}])
    response = admin_client_logged.post(
        "/admin/archive/photo/add/",
        {
            "image": SimpleUploadedFile("plate.png", image_bytes("PNG", seed=4), "image/png"),
            "title": "秋瑾 in Tokyo",
            "figures": [figure.pk],
            "date": "1905~",
            "carrier": "glass_plate",
            "accession_number": "QJ-1905-1",
            **INLINE,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    photo = Photo.objects.get()
    assert photo.title == "秋瑾 in Tokyo" and list(photo.figures.all()) == [figure]
    assert Step.objects.get().kind == "ingest"
    for url in (
        "/admin/archive/photo/",
        f"/admin/archive/photo/{photo.pk}/change/",
        "/admin/archive/figure/?q=秋瑾",
        f"/admin/archive/figure/{figure.pk}/change/",
        "/admin/restoration/step/",
        f"/admin/restoration/artifact/{photo.master_id}/change/",
    ):
        assert admin_client_logged.get(url).status_code == 200, url
    assert "Qiu Jin" in admin_client_logged.get("/admin/archive/figure/?q=秋瑾").content.decode()


def test_admin_refuses_a_fake_image_with_the_reason(admin_client_logged, isolated_storage):
    response = admin_client_logged.post(
        "/admin/archive/photo/add/",
        {
            "image": SimpleUploadedFile("fake.jpg", b"not really", "image/jpeg"),
            "title": "x",
            "carrier": "print",
            **INLINE,
        },
    )
    assert response.status_code == 200
    assert "not an image" in response.content.decode()
    assert Artifact.objects.count() == 0 and Photo.objects.count() == 0
