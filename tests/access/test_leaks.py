"""Issue 11, item 3: each visibility leak that was found, closed (one test each)."""

from __future__ import annotations

import io

import pytest
from django.contrib.contenttypes.models import ContentType

from access.visibility import artifact_is_visible
from archive import services
from archive.models import Citation, Note, Photo, ReferenceImage
from tests.api.conftest import client_for
from tests.conftest import image_bytes
from tests.restoration.lineage_support import derive

pytestmark = pytest.mark.django_db


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_citations_on_hidden_notes_references_and_citations_are_not_listed(users, world):
    on_note = Citation.objects.create(source=world.source, claim="n", target=world.secret_note)
    hidden_ref = ReferenceImage.objects.create(
        artifact=world.derived, figure=world.secret_figure, title="ref of the hidden one"
    )
    on_ref = Citation.objects.create(source=world.source, claim="r", target=hidden_ref)
    on_citation = Citation.objects.create(
        source=world.source, claim="c", target=world.secret_citation
    )
    note_of_secret_photo = Note.objects.create(title="x", body="y", photo=world.secret_photo)
    on_photo_note = Citation.objects.create(
        source=world.source, claim="p", target=note_of_secret_photo
    )
    hidden = {on_note.pk, on_ref.pk, on_citation.pk, on_photo_note.pk}
    viewer = client_for(users["viewer"])
    listed = _ids(viewer.get("/api/v1/citations/", {"page_size": 200}))
    assert not hidden & listed
    assert world.citation.pk in listed
    for pk in hidden:
        assert viewer.get(f"/api/v1/citations/{pk}/").status_code == 404
    auditor = client_for(users["auditor"])
    assert hidden <= _ids(auditor.get("/api/v1/citations/", {"page_size": 200}))


@pytest.mark.parametrize("path", ["note_of_restricted_photo", "photo_restricted_later"])
def test_prov_of_a_public_artifact_never_shows_a_hidden_citation(users, world, path):
    photo = world.photo
    if path == "note_of_restricted_photo":
        note = Note.objects.create(title="n", body="b", photo=world.secret_photo)
        citation = Citation.objects.create(
            source=world.source, claim="SECRET CLAIM", quote="SECRET QUOTE", target=note
        )
        made = derive(photo.master, seed=61, citation_ids=[citation.pk])
    else:
        # ordinary roles: a restorer cites a public photo's citation (through the API), then a
        # cataloguer restricts the photo
        other = services.photo_ingest(
            stream=io.BytesIO(image_bytes("PNG", seed=60)), filename="p.png", title="Public"
        ).photo
        citation = services.citation_create(
            source=world.source, claim="SECRET CLAIM", quote="SECRET QUOTE", target=other
        )
        made = derive(photo.master, seed=61, citation_ids=[citation.pk])
        cataloguer = client_for(users["cataloguer"])
        r = cataloguer.patch(f"/api/v1/photos/{other.pk}/", {"restricted": True}, format="json")
        assert r.status_code == 200, r.content
    viewer = client_for(users["viewer"])
    for fmt in ("json", "provn", "jsonld"):
        r = viewer.get(f"/api/v1/artifacts/{made.pk}/prov/", {"format": fmt})
        assert r.status_code in (200, 404)
        assert b"SECRET" not in r.content
    r = viewer.get(f"/api/v1/artifacts/{made.pk}/lineage/")
    assert b"SECRET" not in r.content
    step = made.generated_by
    r = viewer.get(f"/api/v1/steps/{step.pk}/evidence/")
    assert b"SECRET" not in r.content
    # the auditor still sees the whole record
    r = client_for(users["auditor"]).get(f"/api/v1/steps/{step.pk}/evidence/")
    assert r.status_code == 200 and b"SECRET CLAIM" in r.content


def test_a_reference_upload_of_a_restricted_masters_bytes_names_nothing(users, world):
    cataloguer = client_for(users["cataloguer"])
    secret_bytes = image_bytes("PNG", seed=2)  # the restricted photo's master (see world)
    assert world.secret_photo.master.sha256
    r = cataloguer.post(
        "/api/v1/references/",
        {"image": io.BytesIO(secret_bytes), "title": "looks innocent"},
        format="multipart",
    )
    body = r.content.decode()
    master = world.secret_photo.master
    assert master.sha256 not in body
    assert f'"id": {master.pk}' not in body.replace(":", ": ").replace(":  ", ": ")
    assert str(master.size) not in body
    assert r.status_code == 409, body
    assert not ReferenceImage.objects.filter(artifact=master).exists()


def test_a_restricted_reference_does_not_hide_a_public_master(users, world):
    public_master = world.photo.master
    ReferenceImage.objects.create(artifact=public_master, restricted=True, title="sealed")
    viewer = client_for(users["viewer"])
    assert artifact_is_visible(public_master.pk, users["viewer"])
    assert viewer.get(f"/api/v1/artifacts/{public_master.pk}/").status_code == 200
    assert viewer.get(f"/api/v1/artifacts/{public_master.pk}/file/").status_code == 200
    from django.test import Client

    page = Client()
    page.force_login(users["viewer"])
    assert page.get(f"/artifacts/{public_master.pk}/preview.jpg").status_code == 200


def test_deleting_a_restricted_photo_keeps_its_master_hidden(users, world):
    master_id = world.secret_photo.master_id
    viewer = client_for(users["viewer"])
    assert viewer.get(f"/api/v1/artifacts/{master_id}/file/").status_code == 404
    # only an auditor-cataloguer can see (and so delete) it: the admin does
    admin = client_for(users["admin"])
    ref = world.secret_derived  # its lineage uses the master: delete only the record
    assert ref is not None
    Photo.objects.filter(pk=world.secret_photo.pk)  # still there
    services.catalogue_delete(record=world.secret_photo, user=users["admin"])
    assert not Photo.objects.filter(pk=world.secret_photo.pk).exists()
    assert viewer.get(f"/api/v1/artifacts/{master_id}/file/").status_code == 404
    assert viewer.get(f"/api/v1/artifacts/{master_id}/").status_code == 404
    assert not artifact_is_visible(world.secret_derived.pk, users["viewer"])
    assert admin.get(f"/api/v1/artifacts/{master_id}/").status_code == 200


def test_a_cataloguers_figure_edit_keeps_hidden_figure_links(users, world):
    photo = world.photo  # shows the public figure and the restricted one
    assert set(photo.figures.values_list("pk", flat=True)) == {
        world.figure.pk,
        world.secret_figure.pk,
    }
    cataloguer = client_for(users["cataloguer"])
    other = services.figure_create(name="Zhou Zuoren")
    r = cataloguer.patch(
        f"/api/v1/photos/{photo.pk}/", {"figures": [world.figure.pk, other.pk]}, format="json"
    )
    assert r.status_code == 200, r.content
    assert world.secret_figure.pk not in r.json()["figures"]
    assert set(photo.figures.values_list("pk", flat=True)) == {
        world.figure.pk,
        other.pk,
        world.secret_figure.pk,
    }
    # an auditor-level user edits exactly
    admin = client_for(users["admin"])
    r = admin.patch(f"/api/v1/photos/{photo.pk}/", {"figures": [other.pk]}, format="json")
    assert r.status_code == 200
    assert set(photo.figures.values_list("pk", flat=True)) == {other.pk}


def test_deleting_a_public_figure_never_removes_records_the_user_cannot_see(users, world):
    figure = services.figure_create(name="Public person")
    hidden_note = Note.objects.create(title="sealed", body="b", figure=figure, restricted=True)
    hidden_citation = Citation.objects.create(
        source=world.source, claim="sealed", target=figure, restricted=True
    )
    cataloguer = client_for(users["cataloguer"])
    r = cataloguer.delete(f"/api/v1/figures/{figure.pk}/")
    assert r.status_code == 409, r.content
    assert "sealed" not in r.content.decode()
    assert Note.objects.filter(pk=hidden_note.pk).exists()
    assert Citation.objects.filter(pk=hidden_citation.pk).exists()
    # with nothing hidden hanging off it, the delete goes through, with revisions
    plain = services.figure_create(name="Nobody")
    visible_note = Note.objects.create(title="ok", body="b", figure=plain)
    assert cataloguer.delete(f"/api/v1/figures/{plain.pk}/").status_code == 204
    assert not Note.objects.filter(pk=visible_note.pk).exists()
    from archive.revisions import revisions_of

    assert revisions_of("note", visible_note.pk)[-1].action == "delete"
    assert ContentType.objects.get_for_model(Note)


def test_hidden_evidence_is_withheld_by_kind_and_hash(users, world):
    """Defence in depth: were a visible lineage to hold evidence the reader may not see, the
    exports would show it withheld (kind and snapshot hash), naming nothing."""
    import hashlib
    import json as _json

    from access.visibility import evidence_for
    from restoration.exports.lineage_json import lineage_export
    from restoration.exports.prov import lineage_prov
    from restoration.hashing import canonical_json
    from restoration.selectors import lineage_ancestors

    citation = services.citation_create(
        source=world.source, claim="SECRET CLAIM", quote="SECRET QUOTE"
    )
    made = derive(world.photo.master, seed=81, citation_ids=[citation.pk])
    step = made.generated_by
    Citation.objects.filter(pk=citation.pk).update(restricted=True)
    viewer = users["viewer"]
    shown = evidence_for(step.evidence, viewer)
    [withheld] = shown["citations"]
    snapshot = step.evidence["citations"][0]
    assert withheld == {
        "withheld": True,
        "kind": "citation",
        "sha256": hashlib.sha256(canonical_json(snapshot)).hexdigest(),
    }
    assert evidence_for(step.evidence, users["auditor"]) == step.evidence
    graph = lineage_ancestors(artifact_id=made.pk)
    text = lineage_prov(graph=graph, fmt="json", evidence_view=lambda ev: evidence_for(ev, viewer))
    assert "SECRET" not in text and "pa:Withheld" in text
    bundle = lineage_export(
        graph=graph,
        withhold=lambda s: any(
            i.get("withheld") for v in evidence_for(s.evidence, viewer).values() for i in v
        ),
    )
    assert "SECRET" not in _json.dumps(bundle)
    assert bundle["steps"][-1]["record"] == {"withheld": True}
