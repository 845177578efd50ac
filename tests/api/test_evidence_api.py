"""Issue 11: the API's revisions, evidence-as-used, checkpoint and proof routes."""

from __future__ import annotations

import pytest

from archive import services
from restoration import ledger, merkle
from tests.api.conftest import client_for
from tests.restoration.lineage_support import derive

pytestmark = pytest.mark.django_db


def test_revisions_of_each_record_type(users, world, clients):
    cataloguer = clients["cataloguer"]
    source = cataloguer.post("/api/v1/sources/", {"title": "Diary"}, format="json").json()
    citation = cataloguer.post(
        "/api/v1/citations/",
        {"source": source["id"], "claim": "the collar was dark blue", "locator": "p. 12"},
        format="json",
    ).json()
    r = cataloguer.patch(
        f"/api/v1/citations/{citation['id']}/", {"claim": "BRIGHT RED silk"}, format="json"
    )
    assert r.status_code == 200
    r = clients["viewer"].get(f"/api/v1/citations/{citation['id']}/revisions/")
    assert r.status_code == 200, r.content
    revs = r.json()["revisions"]
    assert [v["action"] for v in revs] == ["create", "update"]
    assert revs[1]["actor"] == "cataloguer"
    assert revs[1]["before"]["claim"] == "the collar was dark blue"
    assert revs[1]["after"]["claim"] == "BRIGHT RED silk"
    assert revs[1]["changed"] == ["claim"]
    for route, record in [
        ("figures", world.figure),
        ("photos", world.photo),
        ("sources", world.source),
        ("references", world.reference),
        ("notes", world.note),
    ]:
        r = clients["viewer"].get(f"/api/v1/{route}/{record.pk}/revisions/")
        assert r.status_code == 200, (route, r.content)
    # hidden records: 404, as everywhere
    assert (
        clients["viewer"].get(f"/api/v1/photos/{world.secret_photo.pk}/revisions/").status_code
        == 404
    )
    assert (
        clients["auditor"].get(f"/api/v1/photos/{world.secret_photo.pk}/revisions/").status_code
        == 200
    )
    # the public photo's revision does not name its hidden figure
    r = clients["viewer"].get(f"/api/v1/photos/{world.photo.pk}/revisions/")
    assert r.json()["revisions"][0]["after"]["figures"] == [world.figure.pk]
    r = clients["auditor"].get(f"/api/v1/photos/{world.photo.pk}/revisions/")
    assert set(r.json()["revisions"][0]["after"]["figures"]) == {
        world.figure.pk,
        world.secret_figure.pk,
    }
    assert (
        clients["anonymous"].get(f"/api/v1/photos/{world.photo.pk}/revisions/").status_code == 401
    )


def test_a_step_says_its_evidence_was_revised(users, world, clients):
    made = derive(world.photo.master, seed=71, citation_ids=[world.citation.pk])
    step = made.generated_by
    services.citation_update(citation=world.citation, user=users["cataloguer"], claim="red")
    r = clients["viewer"].get(f"/api/v1/steps/{step.pk}/evidence/")
    assert r.status_code == 200, r.content
    [c] = r.json()["evidence"]["citations"]
    assert c["claim"] == "collar dark blue"  # what the step relied on
    assert c["revised"] is True and c["current_revision"] > c["revision"]


def test_checkpoint_and_inclusion_proof(users, world, clients):
    viewer = clients["viewer"]
    r = viewer.get("/api/v1/checkpoints/latest/")
    assert r.status_code == 404 and r.json()["status"] == 404
    step = world.derived.generated_by
    assert viewer.get(f"/api/v1/steps/{step.pk}/proof/").status_code == 409  # not signed yet
    ledger.checkpoint_make()
    cp = viewer.get("/api/v1/checkpoints/latest/").json()
    assert {"tree_size", "root", "signature", "public_key"} <= set(cp)
    assert ledger.checkpoint_signature_ok(cp)
    proof = viewer.get(f"/api/v1/steps/{step.pk}/proof/").json()
    assert proof["record_hash"] == step.record_hash
    assert merkle.verify_inclusion(
        proof["leaf_index"],
        proof["tree_size"],
        merkle.leaf_hash(merkle.leaf_data("step", step.pk, step.record_hash)),
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(cp["root"]),
    )
    secret_step = world.secret_derived.generated_by
    assert viewer.get(f"/api/v1/steps/{secret_step.pk}/proof/").status_code == 404
    assert (
        client_for(users["auditor"]).get(f"/api/v1/steps/{secret_step.pk}/proof/").status_code
        == 200
    )
    derive(world.photo.master, seed=72)
    size = ledger.log_size()
    r = viewer.get("/api/v1/checkpoints/consistency/", {"from": cp["tree_size"], "to": size})
    body = r.json()
    assert merkle.verify_consistency(
        cp["tree_size"],
        size,
        bytes.fromhex(cp["root"]),
        bytes.fromhex(body["to_root"]),
        [bytes.fromhex(h) for h in body["proof"]],
    )
    assert viewer.get("/api/v1/checkpoints/consistency/", {"from": "x"}).status_code == 400
    assert viewer.get("/api/v1/checkpoints/consistency/", {"from": size + 5}).status_code == 400


def test_admin_edits_make_revisions_and_the_admin_lists_them(users, world):
    from django.test import Client

    from archive.revisions import revisions_of

    admin = Client()
    admin.force_login(users["admin"])
    url = f"/admin/archive/source/{world.source.pk}/change/"
    page = admin.get(url)
    assert page.status_code == 200
    form = {
        "kind": world.source.kind,
        "title": "Diary of 1925 (corrected)",
        "author": "",
        "publisher": "",
        "date": "",
        "repository": "",
        "identifier": "",
        "url": "",
        "notes": "",
        "archive-citation-target_type-target_id-TOTAL_FORMS": "0",
        "archive-citation-target_type-target_id-INITIAL_FORMS": "0",
    }
    response = admin.post(url, form)
    assert response.status_code in (200, 302), response.content[:500]
    last = revisions_of("source", world.source.pk)[-1]
    assert last.action == "update" and last.actor == "admin"
    assert last.before["title"] == "Diary of 1925"
    assert last.after["title"] == "Diary of 1925 (corrected)"
    listing = admin.get("/admin/archive/revision/")
    assert listing.status_code == 200
    assert admin.get(f"/admin/archive/revision/{last.pk}/change/").status_code == 200
    assert admin.get("/admin/archive/revision/add/").status_code == 403
