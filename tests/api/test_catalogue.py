"""Catalogue routes: CRUD, names in any script, citations on any record, photo ingest by
multipart upload (duplicates, bad files, size limit), filters, search, ordering, pagination."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.models import Figure, Photo
from restoration.models import Artifact, Step
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db


def upload(data: bytes, name: str = "scan.png", media: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, media)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_figure_with_names_in_any_script_is_found_by_each(clients, world):
    c = clients["cataloguer"]
    created = c.post(
        "/api/v1/figures/",
        {
            "name": "Qiu Jin",
            "birth_date": "1875~",
            "names": [
                {"name": "秋瑾", "language": "zh-Hans", "kind": "preferred"},
                {"name": "Qiū Jǐn", "language": "zh-Latn-pinyin", "kind": "romanisation"},
                {"name": "鑑湖女俠", "language": "zh-Hant", "kind": "courtesy"},
            ],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["birth_earliest"] == "1874-01-01" or body["birth_earliest"].startswith("187")
    assert [n["name"] for n in body["names"]] == ["秋瑾", "Qiū Jǐn", "鑑湖女俠"]
    for term in ("秋瑾", "Qiū Jǐn", "鑑湖", "qiu jin"):
        found = [f["id"] for f in results(c.get("/api/v1/figures/", {"search": term}))]
        assert found == [body["id"]], term
    # The existing figure, by its Chinese pen name and by its pinyin display name.
    assert [f["id"] for f in results(c.get("/api/v1/figures/", {"search": "鲁迅"}))] == [
        world.figure.pk
    ]
    assert [f["id"] for f in results(c.get("/api/v1/figures/", {"search": "Lu Xun"}))] == [
        world.figure.pk
    ]
    assert [f["id"] for f in results(c.get("/api/v1/figures/", {"name": "周樹人"}))] == [
        world.figure.pk
    ]
    # A photo is found by the name of a figure it shows, in any script.
    assert [p["id"] for p in results(c.get("/api/v1/photos/", {"search": "鲁迅"}))] == [
        world.photo.pk
    ]


def test_figure_update_replaces_names_and_validates_edtf(clients, world):
    c = clients["cataloguer"]
    url = f"/api/v1/figures/{world.figure.pk}/"
    response = c.patch(url, {"names": [{"name": "魯迅", "language": "zh-Hant"}]}, format="json")
    assert response.status_code == 200
    assert [n["name"] for n in response.json()["names"]] == ["魯迅"]
    bad = c.patch(url, {"death_date": "someday"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_edtf"
    assert "death_date" in bad.json()["fields"]
    assert "EDTF" in bad.json()["fields"]["death_date"][0]


def test_citations_attach_to_any_record_and_show_on_it(clients, world):
    c = clients["cataloguer"]
    for kind, pk in (
        ("photo", world.photo.pk),
        ("source", world.source.pk),
        ("note", world.note.pk),
        ("reference", world.reference.pk),
        ("citation", world.citation.pk),
    ):
        response = c.post(
            "/api/v1/citations/",
            {
                "source": world.source.pk,
                "locator": "p. 9",
                "confidence": "certain",
                "target": {"type": kind, "id": pk},
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["target"] == {"type": kind, "id": pk}
    photo = c.get(f"/api/v1/photos/{world.photo.pk}/").json()
    assert len(photo["citations"]) == 1
    figure = c.get(f"/api/v1/figures/{world.figure.pk}/").json()
    assert figure["citations"] == [world.citation.pk]
    filtered = results(
        c.get("/api/v1/citations/", {"target_type": "photo", "target_id": world.photo.pk})
    )
    assert [x["target"]["id"] for x in filtered] == [world.photo.pk]
    detached = c.patch(f"/api/v1/citations/{world.citation.pk}/", {"target": None}, format="json")
    assert detached.status_code == 200 and detached.json()["target"] is None
    bad = c.post(
        "/api/v1/citations/",
        {"source": world.source.pk, "target": {"type": "planet", "id": 1}},
        format="json",
    )
    assert bad.status_code == 400 and "target.type" in bad.json()["fields"]


def test_photo_ingest_by_multipart_upload(clients, world, isolated_storage):
    c = clients["cataloguer"]
    response = c.post(
        "/api/v1/photos/",
        {
            "image": upload(image_bytes("JPEG", seed=77), "portrait.jpg", "image/jpeg"),
            "title": "Studio portrait",
            "figures": [world.figure.pk],
            "date": "1927-04~",
            "carrier": "glass_plate",
            "accession_number": "ACC-777",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    master = Artifact.objects.get(pk=body["master_artifact"])
    assert body["master"]["sha256"] == master.sha256
    assert (body["title"], body["carrier"], body["figures"]) == (
        "Studio portrait",
        "glass_plate",
        [world.figure.pk],
    )
    assert Step.objects.filter(kind="ingest", produced__artifact=master).exists()
    # The same bytes again: reported with the existing ids, not stored twice.
    again = c.post(
        "/api/v1/photos/",
        {"image": upload(image_bytes("JPEG", seed=77), "copy.jpg", "image/jpeg"), "title": "Copy"},
        format="multipart",
    )
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate"
    assert (again.json()["photo"], again.json()["master_artifact"]) == (body["id"], master.pk)
    assert Photo.objects.filter(master=master).count() == 1
    # A duplicate of a restricted photo does not reveal its ids to whoever may not see it.
    secret_bytes = image_bytes("PNG", seed=2)
    hidden = c.post("/api/v1/photos/", {"image": upload(secret_bytes, "x.png")}, format="multipart")
    assert hidden.status_code == 409
    assert (hidden.json()["photo"], hidden.json()["master_artifact"]) == (None, None)


@pytest.mark.parametrize(
    ("data", "name", "field", "code"),
    [
        (b"", "empty.png", "image", None),
        (b"not an image at all", "notes.png", "image", "not_an_image"),
        (image_bytes("PNG", seed=5)[:200], "cut.png", "image", None),
    ],
)
def test_bad_uploads_are_400_with_the_reason(clients, data, name, field, code, world):
    response = clients["cataloguer"].post(
        "/api/v1/photos/", {"image": upload(data, name), "title": "x"}, format="multipart"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"status", "code", "message", "fields"}
    assert field in body["fields"]
    if code:
        assert body["code"] == code
    assert Photo.objects.count() == 2  # the world's two photos, nothing new


def test_ingest_metadata_errors_name_the_field(clients, world):
    c = clients["cataloguer"]
    bad_carrier = c.post(
        "/api/v1/photos/",
        {"image": upload(image_bytes("PNG", seed=8)), "carrier": "vinyl"},
        format="multipart",
    )
    assert bad_carrier.status_code == 400 and "carrier" in bad_carrier.json()["fields"]
    bad_date = c.post(
        "/api/v1/photos/",
        {"image": upload(image_bytes("PNG", seed=8)), "date": "last spring"},
        format="multipart",
    )
    assert bad_date.status_code == 400 and "EDTF" in bad_date.json()["message"]
    no_file = c.post("/api/v1/photos/", {"title": "no file"}, format="multipart")
    assert no_file.status_code == 400 and "image" in no_file.json()["fields"]


def test_upload_size_limit_is_413(clients, world, settings):
    settings.ARCHIVE_MAX_UPLOAD_BYTES = 1000
    data = image_bytes("PNG", seed=9, size=(200, 200))
    response = clients["cataloguer"].post(
        "/api/v1/photos/", {"image": upload(data)}, format="multipart"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    # Under the envelope allowance, the service's own streaming limit answers the same way.
    settings.ARCHIVE_MAX_UPLOAD_BYTES = len(data) - 10
    response = clients["cataloguer"].post(
        "/api/v1/photos/", {"image": upload(data)}, format="multipart"
    )
    assert response.status_code == 413


def test_photo_metadata_update_keeps_the_master(clients, world):
    c = clients["cataloguer"]
    url = f"/api/v1/photos/{world.photo.pk}/"
    response = c.patch(
        url, {"place": "Shanghai", "figures": [world.figure.pk], "date": "1930"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["place"], body["date_earliest"], body["master_artifact"]) == (
        "Shanghai",
        "1930-01-01",
        world.photo.master_id,
    )
    assert (
        c.patch(url, {"master": 99}, format="json").json()["master_artifact"]
        == world.photo.master_id
    )


def test_delete_of_a_record_a_step_relies_on_is_409(clients, world):
    from tests.restoration.lineage_support import derive

    derive(world.photo.master, seed=50, citation_ids=[world.citation.pk])
    response = clients["cataloguer"].delete(f"/api/v1/citations/{world.citation.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    source = clients["cataloguer"].delete(f"/api/v1/sources/{world.source.pk}/")
    assert source.status_code == 409


def test_reference_upload_records_an_ingest_step(clients, world):
    c = clients["cataloguer"]
    response = c.post(
        "/api/v1/references/",
        {
            "image": upload(image_bytes("PNG", seed=31)),
            "figure": world.figure.pk,
            "kind": "relative",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    artifact = Artifact.objects.get(pk=response.json()["artifact"])
    assert Step.objects.filter(kind="ingest", produced__artifact=artifact).count() == 1
    neither = c.post("/api/v1/references/", {"title": "nothing"}, format="json")
    assert neither.status_code == 400 and "image" in neither.json()["fields"]


def test_filters_ordering_and_pagination(clients, world):
    c = clients["cataloguer"]
    for i in range(5):
        made = c.post(
            "/api/v1/sources/",
            {"title": f"Book {i}", "date": f"19{20 + i}", "kind": "book"},
            format="json",
        )
        assert made.status_code == 201, made.content
    page = c.get("/api/v1/sources/", {"kind": "book", "ordering": "-title", "page_size": 2})
    body = page.json()
    assert body["count"] == 5 and len(body["results"]) == 2 and body["next"]
    assert [s["title"] for s in body["results"]] == ["Book 4", "Book 3"]
    window = c.get("/api/v1/sources/", {"date_from": "1921-06-01", "date_to": "1922-12-31"}).json()
    assert sorted(s["title"] for s in window["results"]) == ["Book 1", "Book 2"]
    born = c.get("/api/v1/figures/", {"born_from": "1880-01-01", "born_to": "1882-01-01"}).json()
    assert [f["id"] for f in born["results"]] == [world.figure.pk]
    bad = c.get("/api/v1/sources/", {"date_from": "not-a-date"})
    assert bad.status_code == 400 and "date_from" in bad.json()["fields"]
    beyond = c.get("/api/v1/sources/", {"page": 99})
    assert beyond.status_code == 404 and beyond.json()["code"] == "not_found"
    assert c.get("/api/v1/figures/", {"ordering": "no_such_field"}).status_code == 200


def test_a_writer_who_cannot_see_restricted_records_may_still_create_one(clients, world):
    c = clients["cataloguer"]
    created = c.post(
        "/api/v1/figures/", {"name": "Private person", "restricted": True}, format="json"
    )
    assert created.status_code == 201 and created.json()["restricted"] is True
    assert c.get(f"/api/v1/figures/{created.json()['id']}/").status_code == 404
    photo = c.post(
        "/api/v1/photos/",
        {"image": upload(image_bytes("PNG", seed=88)), "title": "Private", "restricted": True},
        format="multipart",
    )
    assert photo.status_code == 201 and photo.json()["restricted"] is True
    hide = c.patch(f"/api/v1/photos/{world.photo.pk}/", {"restricted": True}, format="json")
    assert hide.status_code == 200 and hide.json()["restricted"] is True
    assert c.get(f"/api/v1/photos/{world.photo.pk}/").status_code == 404


def test_repeated_name_variants_are_one_name(clients, world):
    twice = [{"name": "秋瑾", "language": "zh-Hans"}, {"name": "秋瑾", "language": "zh-Hans"}]
    created = clients["cataloguer"].post(
        "/api/v1/figures/", {"name": "Qiu Jin", "names": twice}, format="json"
    )
    assert created.status_code == 201, created.content
    assert [n["name"] for n in created.json()["names"]] == ["秋瑾"]


def test_a_name_variant_needs_its_name_even_in_a_patch(clients, world):
    response = clients["cataloguer"].patch(
        f"/api/v1/figures/{world.figure.pk}/", {"names": [{"language": "en"}]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"names[0].name": ["This field is required."]}


def test_a_film_patch_keeps_hidden_figures_and_checks_its_fields(clients, world, users, tmp_path):
    """Issue 25 (drift between photos and films): a cataloguer's PATCH of a film's figures
    dropped the restricted figures they cannot see, and `original_fps: "fast"` was stored."""
    from archive.films import film_ingest
    from tests.film import support

    path = support.write(tmp_path / "reel.mkv", 4)
    with open(path, "rb") as fh:
        film = film_ingest(stream=fh, filename="reel.mkv", user=users["admin"]).film
    film.figures.set([world.figure, world.secret_figure])
    cataloguer = clients["cataloguer"]
    other = Figure.objects.create(name="Another")
    r = cataloguer.patch(f"/api/v1/films/{film.pk}/", {"figures": [other.pk]}, format="json")
    assert r.status_code == 200, r.content
    assert set(film.figures.values_list("pk", flat=True)) == {other.pk, world.secret_figure.pk}
    bad = cataloguer.patch(
        f"/api/v1/films/{film.pk}/", {"title": "g", "original_fps": "fast"}, format="json"
    )
    assert bad.status_code == 400, bad.content
    film.refresh_from_db()
    assert film.original_fps != "fast" and film.title != "g"
    good = cataloguer.patch(f"/api/v1/films/{film.pk}/", {"original_fps": "18"}, format="json")
    assert good.status_code == 200 and good.json()["original_fps"] == "18/1"  # as at ingest
    # every write of a film makes a revision, as for photos (it was written only "when the
    # revision log knows films", by reading a private dict); the refused PATCH made none
    from archive.models import Revision

    revisions = Revision.objects.filter(record_type="film", record_id=film.pk).order_by("number")
    assert [r.action for r in revisions] == ["create", "update", "update"]
    assert (
        revisions.last().before["original_fps"] == ""
        and revisions.last().after["original_fps"] == "18/1"
    )
