"""A full disk: every upload answers 507 in the JSON error shape (the pages: a 507 page) and
a job fails with "storage is full", leaving no object file, temp file or record behind.

The disk is really full where it matters: the storage's temporary file is opened on
``/dev/full``, whose every write the kernel refuses with ENOSPC; the hard-link shortcut (an
upload spooled to a named temporary file) is refused with ENOSPC too, as a full directory does.
"""

from __future__ import annotations

import errno
import io
import os
import sqlite3
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from api.errors import InsufficientStorage, translate
from archive.models import Photo, ReferenceImage
from restoration import storage
from restoration.models import Artifact, Job, Step
from restoration.storage import StorageFull, is_disk_full, store_object
from tests.api import conftest as api_fixtures
from tests.conftest import image_bytes
from tests.jobs import conftest as job_fixtures

# The API's and the job tests' fixtures, used here too.
users, clients, world = api_fixtures.users, api_fixtures.clients, api_fixtures.world
master, sent = job_fixtures.master, job_fixtures.sent

pytestmark = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")


def fill_disk(monkeypatch, *, links_too: bool = True) -> list[Path]:
    """From now on every new file in the object store lands on /dev/full (and, with
    ``links_too``, hard links fail too); returns the placeholders the storage believed it had
    created (they must all be gone afterwards)."""
    placeholders: list[Path] = []

    def temp_on_dev_full(directory: Path) -> tuple[int, str]:
        fd, name = storage.tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
        os.close(fd)
        placeholders.append(Path(name))
        return os.open("/dev/full", os.O_WRONLY), name

    def no_room_to_link(source, target, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(storage, "_temp_file", temp_on_dev_full)
    if links_too:
        monkeypatch.setattr(storage.os, "link", no_room_to_link)
    return placeholders


@pytest.fixture
def full_disk(monkeypatch):
    return fill_disk(monkeypatch)


def leftovers(root: Path) -> list[Path]:
    """Object files and temporary files (previews excluded: regenerable, not records)."""
    return sorted(
        p for p in root.rglob("*") if p.is_file() and "previews" not in p.relative_to(root).parts
    )


@pytest.mark.django_db
def test_store_object_raises_storage_full_and_keeps_nothing(full_disk, isolated_storage):
    data = image_bytes("PNG", seed=301)
    with pytest.raises(StorageFull, match="storage is full"):
        store_object("ab" * 32, io.BytesIO(data))
    assert full_disk and not any(p.exists() for p in full_disk)
    assert leftovers(isolated_storage) == []
    assert not isinstance(StorageFull("x"), OSError)  # the runner must not retry it


@pytest.mark.django_db
def test_the_link_shortcut_falls_back_and_reports_storage_full(
    full_disk, isolated_storage, tmp_path
):
    import tempfile

    with tempfile.NamedTemporaryFile(dir=tmp_path) as spooled:
        spooled.write(image_bytes("PNG", seed=302))
        spooled.flush()
        with pytest.raises(StorageFull):
            store_object("cd" * 32, spooled)
    assert leftovers(isolated_storage) == []


def test_is_disk_full_knows_every_layer():
    assert is_disk_full(StorageFull("k"))
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(ValueError("x"))
    cause = sqlite3.OperationalError("database or disk is full")
    cause.sqlite_errorcode = 13  # what sqlite3 sets for SQLITE_FULL
    try:
        try:
            raise cause
        except sqlite3.OperationalError as exc:
            raise OperationalError(str(exc)) from exc
    except OperationalError as wrapped:
        assert is_disk_full(wrapped)
    assert isinstance(translate(OSError(errno.ENOSPC, "full")), InsufficientStorage)


# --- through the API ----------------------------------------------------------------------


def storage_full_error(response) -> dict:
    assert response.status_code == 507, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "code", "message", "fields"}
    assert body["status"] == 507 and body["code"] == "storage_full"
    assert "storage is full" in body["message"]
    return body


@pytest.mark.django_db
def test_photo_ingest_on_a_full_disk_is_507_and_writes_nothing(
    clients, world, full_disk, isolated_storage
):
    before = (Photo.objects.count(), Artifact.objects.count(), Step.objects.count())
    files_before = leftovers(isolated_storage)
    response = clients["cataloguer"].post(
        "/api/v1/photos/",
        {
            "image": SimpleUploadedFile("full.png", image_bytes("PNG", seed=303), "image/png"),
            "title": "no room",
        },
        format="multipart",
    )
    storage_full_error(response)
    assert (Photo.objects.count(), Artifact.objects.count(), Step.objects.count()) == before
    assert leftovers(isolated_storage) == files_before
    assert not any(p.exists() for p in full_disk)


@pytest.mark.django_db
def test_no_room_for_the_preview_still_ingests(clients, world, monkeypatch, isolated_storage):
    """The master fits (hard-linked from the spooled upload) but its preview does not: a
    preview is a convenience, so the ingest succeeds without one."""
    previews_before = set((isolated_storage / "previews").rglob("*.jpg"))
    placeholders = fill_disk(monkeypatch, links_too=False)
    response = clients["cataloguer"].post(
        "/api/v1/photos/",
        {"image": SimpleUploadedFile("p.png", image_bytes("PNG", seed=308), "image/png")},
        format="multipart",
    )
    assert response.status_code == 201, response.content[:300]
    assert placeholders and not any(p.exists() for p in placeholders)
    assert set((isolated_storage / "previews").rglob("*.jpg")) == previews_before


@pytest.mark.django_db
def test_reference_upload_on_a_full_disk_is_507(clients, world, full_disk, isolated_storage):
    before = (ReferenceImage.objects.count(), Artifact.objects.count())
    files_before = leftovers(isolated_storage)
    response = clients["cataloguer"].post(
        "/api/v1/references/",
        {
            "image": SimpleUploadedFile("ref.png", image_bytes("PNG", seed=304), "image/png"),
            "figure": world.figure.pk,
            "kind": "relative",
        },
        format="multipart",
    )
    storage_full_error(response)
    assert (ReferenceImage.objects.count(), Artifact.objects.count()) == before
    assert leftovers(isolated_storage) == files_before


@pytest.mark.django_db
def test_manual_step_on_a_full_disk_is_507(clients, world, full_disk, isolated_storage):
    steps_before = Step.objects.count()
    files_before = leftovers(isolated_storage)
    response = clients["restorer"].post(
        "/api/v1/steps/manual/",
        {
            "input": world.derived.pk,
            "image": SimpleUploadedFile(
                "retouched.png", image_bytes("PNG", seed=305, size=(16, 12)), "image/png"
            ),
            "rationale": "filled the crack by hand",
        },
        format="multipart",
    )
    storage_full_error(response)
    assert Step.objects.count() == steps_before
    assert leftovers(isolated_storage) == files_before


@pytest.mark.django_db
def test_an_upload_spool_on_a_full_disk_is_507(clients, world, monkeypatch):
    """Wherever the disk fills up first (here: Django's own upload handling), the answer is
    the same 507."""
    from rest_framework.request import Request

    def no_room(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Request, "_load_data_and_files", no_room)
    response = clients["cataloguer"].post(
        "/api/v1/photos/",
        {"image": SimpleUploadedFile("a.png", image_bytes("PNG", seed=306), "image/png")},
        format="multipart",
    )
    assert storage_full_error(response)["message"]


# --- the pages ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_manual_step_page_on_a_full_disk_is_a_507_page(client, monkeypatch, isolated_storage):
    from django.urls import reverse

    from tests.web.support import PASSWORD, build_catalogue, scan_bytes

    catalogue = build_catalogue()
    assert client.login(username=catalogue.restorer.username, password=PASSWORD)
    steps_before = Step.objects.count()
    files_before = leftovers(isolated_storage)
    fill_disk(monkeypatch)
    response = client.post(
        reverse("web:manual-new", args=[catalogue.photo.master_id]),
        {
            "image": SimpleUploadedFile("r.png", scan_bytes(12), content_type="image/png"),
            "rationale": "Removed the crease by hand.",
        },
    )
    assert response.status_code == 507
    assert "Storage is full" in response.content.decode()
    assert Step.objects.count() == steps_before
    assert leftovers(isolated_storage) == files_before


@pytest.mark.django_db
def test_admin_photo_upload_on_a_full_disk_is_a_507_page(
    client, django_user_model, full_disk, isolated_storage
):
    django_user_model.objects.create_superuser("archivist", "a@example.org", "pw-archivist-1")
    client.login(username="archivist", password="pw-archivist-1")
    response = client.post(
        "/admin/archive/photo/add/",
        {
            "image": SimpleUploadedFile("plate.png", image_bytes("PNG", seed=307), "image/png"),
            "title": "no room",
            "carrier": "print",
            "archive-citation-target_type-target_id-TOTAL_FORMS": "0",
            "archive-citation-target_type-target_id-INITIAL_FORMS": "0",
        },
    )
    import re

    errors = re.findall(r'<ul class="errorlist.*?</ul>', response.content.decode(), re.S)
    assert response.status_code == 507, errors
    assert Photo.objects.count() == 0 and Artifact.objects.count() == 0
    assert leftovers(isolated_storage) == []


# --- jobs ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_whose_output_meets_a_full_disk_fails_with_the_reason(
    user, master, sent, isolated_storage, full_disk
):
    from restoration import runner
    from restoration.jobs import job_create

    files_before = leftovers(isolated_storage)
    job = job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}])
    assert runner.run_job(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "storage is full" in job.error
    assert Step.objects.filter(job=job).count() == 0
    assert leftovers(isolated_storage) == files_before
