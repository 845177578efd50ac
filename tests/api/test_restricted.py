"""A restricted record is a 404 to whoever lacks the permission, everywhere it could leak:
detail routes, lists, search, filters, lineage, PROV, verify, exports, jobs and steps."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

HIDDEN_FROM = ("plain", "viewer", "cataloguer", "restorer")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    body = response.json()
    return [r["id"] for r in (body["results"] if isinstance(body, dict) else body)]


@pytest.mark.parametrize("role", HIDDEN_FROM)
def test_detail_routes_answer_404(role, clients, world):
    c = clients[role]
    for path in (
        f"/api/v1/figures/{world.secret_figure.pk}/",
        f"/api/v1/sources/{world.secret_source.pk}/",
        f"/api/v1/citations/{world.secret_citation.pk}/",
        f"/api/v1/photos/{world.secret_photo.pk}/",
        f"/api/v1/notes/{world.secret_note.pk}/",  # public note about a restricted figure
        f"/api/v1/jobs/{world.secret_job.pk}/",
        f"/api/v1/steps/{world.secret_derived.generated_by_id}/",
    ):
        response = c.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    for artifact in (world.secret_photo.master, world.secret_derived, world.cited_derived):
        for tail in ("", "file/", "lineage/", "prov/", "prov/?format=jsonld", "export/"):
            path = f"/api/v1/artifacts/{artifact.pk}/{tail}"
            assert c.get(path).status_code == 404, path
        # Reading the last verify is a read like the others: 404. Running one is refused by
        # role before any lookup: 403 whether the artifact exists or not.
        assert c.get(f"/api/v1/artifacts/{artifact.pk}/verify/").status_code == 404
        assert c.post(f"/api/v1/artifacts/{artifact.pk}/verify/").status_code == 403


@pytest.mark.parametrize("role", HIDDEN_FROM)
def test_lists_leave_restricted_records_out(role, clients, world):
    c = clients[role]
    assert ids(c.get("/api/v1/figures/")) == [world.figure.pk]
    assert ids(c.get("/api/v1/photos/")) == [world.photo.pk]
    assert world.secret_source.pk not in ids(c.get("/api/v1/sources/"))
    assert world.secret_citation.pk not in ids(c.get("/api/v1/citations/"))
    assert world.secret_note.pk not in ids(c.get("/api/v1/notes/"))
    assert ids(c.get("/api/v1/jobs/")) == [world.job.pk]
    artifacts = set(ids(c.get("/api/v1/artifacts/")))
    assert artifacts == {world.photo.master_id, world.derived.pk}
    steps = set(ids(c.get("/api/v1/steps/")))
    assert world.secret_derived.generated_by_id not in steps
    assert world.cited_derived.generated_by_id not in steps
    # The public photo shows a restricted figure too: only the visible one is listed.
    photo = c.get(f"/api/v1/photos/{world.photo.pk}/").json()
    assert photo["figures"] == [world.figure.pk]
    # Filters do not reveal what the list hides.
    assert ids(c.get(f"/api/v1/photos/?figure={world.secret_figure.pk}")) == []
    assert ids(c.get("/api/v1/photos/?restricted=true")) == []


@pytest.mark.parametrize("role", HIDDEN_FROM)
def test_search_never_finds_restricted_records(role, clients, world):
    c = clients[role]
    assert ids(c.get("/api/v1/figures/", {"search": "秘人"})) == []
    assert ids(c.get("/api/v1/figures/", {"search": "Hidden"})) == []
    # A photo is not found through the name of a restricted figure it shows...
    assert ids(c.get("/api/v1/photos/", {"search": "秘人"})) == []
    assert ids(c.get("/api/v1/photos/", {"search": "SEC-002"})) == []
    assert ids(c.get("/api/v1/photos/", {"search": "Sealed"})) == []
    # ...nor a citation through a restricted source's title.
    assert ids(c.get("/api/v1/sources/", {"search": "Sealed"})) == []


def test_auditor_sees_everything(clients, world):
    c = clients["auditor"]
    assert set(ids(c.get("/api/v1/figures/", {"search": "秘人"}))) == {world.secret_figure.pk}
    assert set(ids(c.get("/api/v1/photos/", {"search": "秘人"}))) == {
        world.photo.pk,
        world.secret_photo.pk,
    }
    lineage = c.get(f"/api/v1/artifacts/{world.secret_derived.pk}/lineage/").json()
    assert world.secret_photo.master_id in lineage["masters"]
    assert (
        c.get(f"/api/v1/artifacts/{world.cited_derived.pk}/prov/?format=provn").status_code == 200
    )
    verify = c.post(f"/api/v1/artifacts/{world.secret_derived.pk}/verify/").json()
    assert verify["ok"] is True and verify["checked"] >= 3


def test_public_lineage_mentions_nothing_restricted(clients, world):
    c = clients["viewer"]
    lineage = c.get(f"/api/v1/artifacts/{world.derived.pk}/lineage/").json()
    assert {a["id"] for a in lineage["artifacts"]} == {world.photo.master_id, world.derived.pk}
    prov = c.get(f"/api/v1/artifacts/{world.derived.pk}/prov/?format=provn").content.decode()
    assert world.secret_photo.master.sha256 not in prov
    assert "Sealed" not in prov


def test_references_to_hidden_records_are_refused_like_missing_ones(clients, world):
    c = clients["cataloguer"]  # may write, may not see restricted records
    hidden = c.post(
        "/api/v1/citations/",
        {"source": world.source.pk, "target": {"type": "figure", "id": world.secret_figure.pk}},
        format="json",
    )
    missing = c.post(
        "/api/v1/citations/",
        {"source": world.source.pk, "target": {"type": "figure", "id": 999999}},
        format="json",
    )
    assert hidden.status_code == missing.status_code == 400
    assert list(hidden.json()["fields"]) == ["target"]
    note = c.post(
        "/api/v1/notes/",
        {"title": "t", "body": "b", "figure": world.secret_figure.pk},
        format="json",
    )
    assert note.status_code == 400 and "figure" in note.json()["fields"]
    job = clients["restorer"].post(
        "/api/v1/jobs/",
        {"input": world.secret_derived.pk, "steps": [{"op": "grayscale"}]},
        format="json",
    )
    assert job.status_code == 400 and "input" in job.json()["fields"]
