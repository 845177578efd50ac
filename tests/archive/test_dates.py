"""EDTF dates: open intervals have no bound on the open side, bounds outside Python's dates
are a clear 400 ("date out of range"), and no date string reaches a 500 in the API, the admin
form, the pages or ``import_photos``."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from archive.dates import EdtfBounds, edtf_bounds
from archive.models import Figure, Photo
from tests.api.conftest import client_for, ingest, make_user
from tests.conftest import image_bytes

OPEN = [
    ("../1985", None, dt.date(1985, 12, 31)),
    ("9999-12-31/..", dt.date(9999, 12, 31), None),
    ("1920/..", dt.date(1920, 1, 1), None),
    ("../..", None, None),
    ("[..1760-12-03]", None, dt.date(1760, 12, 3)),
    ("1927-04-28", dt.date(1927, 4, 28), dt.date(1927, 4, 28)),
    ("192X", dt.date(1920, 1, 1), dt.date(1929, 12, 31)),
    ("0001-01-01", dt.date(1, 1, 1), dt.date(1, 1, 1)),
]
OUT_OF_RANGE = ["0000", "-0050", "Y170000002", "Y-170000002", "9999-12-31/", "/0001"]
INVALID = ["..", "someday", "1985/1980", "{1760-12-03, 1760-12-05..}", "1" * 5000]


@pytest.mark.parametrize(("value", "lower", "upper"), OPEN)
def test_open_sides_have_no_bound(value, lower, upper):
    assert edtf_bounds(value) == EdtfBounds(lower, upper)


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_bounds_beyond_python_dates_are_out_of_range(value):
    with pytest.raises(ValidationError) as caught:
        edtf_bounds(value)
    assert caught.value.code == "date_out_of_range"
    assert "date out of range" in caught.value.messages[0]


@pytest.mark.parametrize("value", INVALID)
def test_invalid_dates_are_validation_errors(value):
    with pytest.raises(ValidationError) as caught:
        edtf_bounds(value)
    assert caught.value.code == "invalid_edtf"


@pytest.fixture
def cataloguer_user(django_user_model):
    return make_user(django_user_model, "cataloguer")


@pytest.fixture
def cataloguer(cataloguer_user):
    return client_for(cataloguer_user)


@pytest.mark.django_db
def test_api_stores_open_dates_and_refuses_overflow(cataloguer, cataloguer_user, client):
    c = cataloguer
    photo = ingest(89, title="Dated")
    created = c.post(
        "/api/v1/figures/",
        {"name": "Open ended", "birth_date": "../1985", "death_date": "9999-12-31/.."},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["birth_earliest"], body["birth_latest"]) == (None, "1985-12-31")
    assert (body["death_earliest"], body["death_latest"]) == ("9999-12-31", None)
    url = f"/api/v1/figures/{body['id']}/"
    for value in OUT_OF_RANGE:
        bad = c.patch(url, {"birth_date": value}, format="json")
        assert bad.status_code == 400, (value, bad.content)
        assert "date out of range" in bad.json()["fields"]["birth_date"][0]
    patched = c.patch(f"/api/v1/photos/{photo.pk}/", {"date": "../1985"}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["date_latest"] == "1985-12-31"
    bad_photo = c.patch(f"/api/v1/photos/{photo.pk}/", {"date": "Y170000002"}, format="json")
    assert bad_photo.status_code == 400 and "date" in bad_photo.json()["fields"]
    # The figure page shows the open dates.
    client.force_login(cataloguer_user)
    page = client.get(f"/figures/{body['id']}/")
    assert page.status_code == 200 and "1985" in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "status"), [("../1985", 201), ("9999-12-31/..", 201), ("Y170000002", 400)]
)
def test_photo_ingest_with_open_or_overflowing_dates(cataloguer, value, status):
    response = cataloguer.post(
        "/api/v1/photos/",
        {
            "image": SimpleUploadedFile("d.png", image_bytes("PNG", seed=90), "image/png"),
            "date": value,
        },
        format="multipart",
    )
    assert response.status_code == status, response.content
    if status == 400:
        assert "date out of range" in response.json()["message"]


@pytest.mark.django_db
def test_admin_form_takes_open_dates_and_refuses_overflow(client, django_user_model):
    django_user_model.objects.create_superuser("archivist", "a@example.org", "pw-archivist-1")
    client.login(username="archivist", password="pw-archivist-1")
    base = {
        "name": "Form figure",
        "names-TOTAL_FORMS": "0",
        "names-INITIAL_FORMS": "0",
        "archive-citation-target_type-target_id-TOTAL_FORMS": "0",
        "archive-citation-target_type-target_id-INITIAL_FORMS": "0",
    }
    ok = client.post(
        "/admin/archive/figure/add/",
        {**base, "birth_date": "../1985", "death_date": "9999-12-31/.."},
    )
    assert ok.status_code == 302, ok.content.decode()[:3000]
    figure = Figure.objects.get(name="Form figure")
    assert (figure.birth_earliest, figure.death_latest) == (None, None)
    bad = client.post("/admin/archive/figure/add/", {**base, "birth_date": "Y170000002"})
    assert bad.status_code == 200 and "date out of range" in bad.content.decode()
    assert client.get(f"/figures/{figure.pk}/").status_code == 200


@pytest.mark.django_db
def test_import_photos_takes_open_dates_and_reports_overflow(tmp_path, django_user_model):
    from django.contrib.auth.models import Group

    importer = django_user_model.objects.create_user(username="importer", password="pw-imp-1")
    importer.groups.add(Group.objects.get(name="cataloguer"))
    box = tmp_path / "box"
    box.mkdir()
    for seed, name in enumerate(("open.png", "far.png", "over.png"), start=91):
        (box / name).write_bytes(image_bytes("PNG", seed=seed))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "filename,date\nopen.png,../1985\nfar.png,9999-12-31/..\nover.png,Y170000002\n"
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 file"):
        call_command(
            "import_photos",
            str(box),
            "--manifest",
            str(manifest),
            "--user",
            "importer",
            stdout=out,
            stderr=io.StringIO(),
        )
    assert "date out of range" in out.getvalue()
    dates = dict(Photo.objects.values_list("date", "date_latest"))
    assert dates == {"../1985": dt.date(1985, 12, 31), "9999-12-31/..": None}
