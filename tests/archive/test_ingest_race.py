"""20 uploads of the same bytes at the same moment, through the API, each thread on its own
database connection: exactly one 201, nineteen 409s naming the winner, one of everything."""

from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from archive.models import Photo
from restoration.models import Artifact, Step, StepOutput
from tests.api.conftest import client_for
from tests.conftest import image_bytes, stored_files

N = 20


@pytest.mark.django_db(transaction=True)
def test_parallel_identical_uploads_give_one_201(django_user_model, isolated_storage):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memory"):
        pytest.skip("in-memory SQLite shares one cache between threads; run on PostgreSQL")
    admin = django_user_model.objects.create_superuser(username="admin", password="pw-admin-1")
    data = image_bytes("PNG", size=(300, 200), seed=42)
    barrier = threading.Barrier(N)
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def upload(i: int) -> None:
        client = client_for(admin)
        try:
            barrier.wait()
            response = client.post(
                "/api/v1/photos/",
                {"image": SimpleUploadedFile(f"scan{i}.png", data), "title": f"try {i}"},
                format="multipart",
            )
            answers.append((response.status_code, response.json()))
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    codes = sorted(code for code, _ in answers)
    assert codes == [201] + [409] * (N - 1), codes
    photo = Photo.objects.get()
    artifact = Artifact.objects.get()
    assert photo.master == artifact
    winner = next(body for code, body in answers if code == 201)
    assert winner["id"] == photo.pk and winner["master_artifact"] == artifact.pk
    for code, body in answers:
        if code == 409:
            assert body["code"] == "duplicate"
            assert (body["photo"], body["master_artifact"]) == (photo.pk, artifact.pk)
    assert Step.objects.count() == 1 and StepOutput.objects.count() == 1
    objects = [p for p in stored_files(isolated_storage / "objects") if not p.name.startswith(".")]
    assert [p.name for p in objects] == [artifact.sha256]
    assert not list((isolated_storage.parent / "tmp").glob("upload-*"))  # no spooled leftovers


@pytest.mark.django_db(transaction=True)
def test_parallel_identical_reference_and_photo_ingests_share_one_artifact(
    django_user_model, isolated_storage
):
    """The same race below the API, photos and references mixed: one artifact, one ingest
    step, one photo; every reference points at the one artifact."""
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memory"):
        pytest.skip("in-memory SQLite shares one cache between threads; run on PostgreSQL")
    import io

    from archive.models import ReferenceImage
    from archive.services import photo_ingest, reference_create

    user = django_user_model.objects.create_user(username="u", password="pw-u-1")
    data = image_bytes("PNG", size=(120, 90), seed=43)
    barrier = threading.Barrier(10)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            if i % 2:
                reference_create(user=user, stream=io.BytesIO(data), filename=f"r{i}.png")
                outcomes.append("reference")
            else:
                result = photo_ingest(stream=io.BytesIO(data), filename=f"p{i}.png", user=user)
                outcomes.append("duplicate" if result.duplicate else "photo")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    artifact = Artifact.objects.get()
    assert Step.objects.count() == 1
    assert ReferenceImage.objects.filter(artifact=artifact).count() == 5
    # A reference may have won the race: then every photo upload is a duplicate.
    assert outcomes.count("photo") == Photo.objects.count() <= 1
