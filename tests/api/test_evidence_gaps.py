"""Issue 11, the gaps left after the first pass: every catalogue write path makes a revision
(admin inline rows, the demo loader, import_photos, film ingest), inclusion proofs of revisions
and audit runs, a delete never shows a hidden record, a bundle GET never signs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from PIL import Image

from archive import services
from archive.models import Citation, Revision, Source
from archive.revisions import catalogue_check, revisions_of
from restoration import ledger, merkle
from restoration.audit import archive_verify_all, artifact_verify
from restoration.models import Checkpoint
from tests.api.conftest import client_for
from tests.restoration.lineage_support import derive

pytestmark = pytest.mark.django_db


def _admin(users) -> Client:
    client = Client()
    client.force_login(users["admin"])
    return client


# --- 1. every write path makes a revision ----------------------------------------------------


def test_citations_added_changed_and_deleted_in_admin_inline_rows_are_revised(users, world):
    admin = _admin(users)
    note = world.note
    kept = services.citation_create(source=world.source, target=note, locator="p. 1", user=None)
    dropped = services.citation_create(source=world.source, target=note, locator="p. 2", user=None)
    prefix = "archive-citation-target_type-target_id"
    form = {
        "title": note.title,
        "body": note.body,
        "figure": note.figure_id,
        "photo": "",
        f"{prefix}-TOTAL_FORMS": "3",
        f"{prefix}-INITIAL_FORMS": "2",
        f"{prefix}-0-id": kept.pk,
        f"{prefix}-0-source": world.source.pk,
        f"{prefix}-0-locator": "p. 1, corrected",
        f"{prefix}-0-quote": "",
        f"{prefix}-0-claim": "BRIGHT RED silk",
        f"{prefix}-0-confidence": kept.confidence,
        f"{prefix}-1-id": dropped.pk,
        f"{prefix}-1-source": world.source.pk,
        f"{prefix}-1-locator": "p. 2",
        f"{prefix}-1-confidence": dropped.confidence,
        f"{prefix}-1-DELETE": "on",
        f"{prefix}-2-source": world.source.pk,
        f"{prefix}-2-locator": "p. 3 (new row)",
        f"{prefix}-2-confidence": kept.confidence,
    }
    response = admin.post(f"/admin/archive/note/{note.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    changed = revisions_of("citation", kept.pk)
    assert [r.action for r in changed] == ["create", "update"]
    assert changed[-1].before["claim"] == "" and changed[-1].after["claim"] == "BRIGHT RED silk"
    assert changed[-1].actor == "admin"
    assert [r.action for r in revisions_of("citation", dropped.pk)] == ["create", "delete"]
    added = Citation.objects.get(locator="p. 3 (new row)")
    assert [r.action for r in revisions_of("citation", added.pk)] == ["create"]
    assert catalogue_check() == []


def _png(path: Path, seed: int) -> Path:
    import numpy as np

    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(path)
    return path


def test_the_demo_loader_writes_through_the_services(tmp_path):
    from archive.demo import CORPUS_SOURCE_TITLE, load_demo

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _png(corpus / "old_a.png", 1)
    load_demo(corpus, tmp_path / "no-models")
    source = Source.objects.get(title=CORPUS_SOURCE_TITLE)
    assert [r.action for r in revisions_of("source", source.pk)] == ["create"]
    [citation] = Citation.objects.filter(source=source)
    assert [r.action for r in revisions_of("citation", citation.pk)] == ["create"]
    assert catalogue_check() == []


def test_import_photos_and_film_ingest_make_revisions(tmp_path, users):
    box = tmp_path / "box"
    box.mkdir()
    _png(box / "a.png", 2)
    call_command("import_photos", str(box), "--user", "admin", stdout=io.StringIO())
    [photo_rev] = Revision.objects.filter(record_type="photo")
    assert photo_rev.action == "create" and photo_rev.actor == "admin"

    from archive.films import film_ingest
    from tests.film import support

    path = support.write(tmp_path / "reel.mkv", 4)
    with open(path, "rb") as fh:
        film = film_ingest(stream=fh, filename="reel.mkv", user=users["admin"]).film
    assert film is not None
    [film_rev] = revisions_of("film", film.pk)
    assert film_rev.action == "create" and film_rev.after["master"] == film.master_id
    r = client_for(users["viewer"]).get(f"/api/v1/films/{film.pk}/revisions/")
    assert r.status_code == 200 and len(r.json()["revisions"]) == 1
    assert catalogue_check() == []


# --- 2. proofs of revisions and audit runs ----------------------------------------------------


def test_inclusion_proofs_of_revisions_and_audit_runs(users, world, clients):
    viewer, auditor = clients["viewer"], client_for(users["auditor"])
    revision = revisions_of("photo", world.photo.pk)[-1]
    hidden_rev = revisions_of("photo", world.secret_photo.pk)[-1]
    run = artifact_verify(artifact_id=world.derived.pk)
    secret_run = artifact_verify(artifact_id=world.secret_derived.pk)
    whole = archive_verify_all()
    # logged, but no checkpoint yet: a conflict, not a 404 (which would mean hidden)
    r = viewer.get(f"/api/v1/revisions/{revision.pk}/proof/")
    assert r.status_code == 409 and r.json()["code"] == "not_checkpointed", r.content
    ledger.checkpoint_make()
    cp = viewer.get("/api/v1/checkpoints/latest/").json()
    for path, kind, rid, rhash in [
        (f"/api/v1/revisions/{revision.pk}/proof/", "revision", revision.pk, revision.record_hash),
        (f"/api/v1/audits/{run['audit_run']}/proof/", "audit", run["audit_run"], None),
    ]:
        proof = viewer.get(path).json()
        assert proof["kind"] == kind and proof["record_id"] == rid
        if rhash is not None:
            assert proof["record_hash"] == rhash
        assert merkle.verify_inclusion(
            proof["leaf_index"],
            proof["tree_size"],
            merkle.leaf_hash(merkle.leaf_data(kind, rid, proof["record_hash"])),
            [bytes.fromhex(h) for h in proof["audit_path"]],
            bytes.fromhex(cp["root"]),
        )
    # hidden records' revisions and hidden artifacts' audits: 404 to a viewer, 200 to an auditor
    for path in (
        f"/api/v1/revisions/{hidden_rev.pk}/proof/",
        f"/api/v1/audits/{secret_run['audit_run']}/proof/",
        f"/api/v1/audits/{whole['audit_run']}/proof/",
        "/api/v1/revisions/999999/proof/",
    ):
        assert viewer.get(path).status_code == 404, path
    for path in (
        f"/api/v1/revisions/{hidden_rev.pk}/proof/",
        f"/api/v1/audits/{secret_run['audit_run']}/proof/",
        f"/api/v1/audits/{whole['audit_run']}/proof/",
    ):
        assert auditor.get(path).status_code == 200, path


def test_audit_runs_older_than_the_log_are_logged_by_the_migration(world):
    """A run recorded before the log existed (no record hash, no leaf) is appended under the
    hash of the run as stored; verify then names its deletion like any other."""
    import importlib

    from django.apps import apps

    from restoration.models import AuditRun, LogLeaf

    migration = importlib.import_module("restoration.migrations.0006_evidence")
    run = artifact_verify(artifact_id=world.derived.pk)
    # as a run from before the log: no hash, no leaf (a fresh row, as the old code wrote it)
    old = AuditRun.objects.get(pk=run["audit_run"])
    old.pk = None
    old.record_hash = ""
    old.save()
    assert not LogLeaf.objects.filter(kind="audit", record_id=old.pk).exists()
    size = ledger.log_size()
    migration.log_old_audit_runs(apps, None)
    old.refresh_from_db()
    assert old.record_hash == ledger.audit_run_hash(old)
    leaf = LogLeaf.objects.get(kind="audit", record_id=old.pk)
    assert leaf.index == size and ledger.log_size() == size + 1
    assert not ledger.log_check(None)
    migration.log_old_audit_runs(apps, None)  # a second run appends nothing
    assert ledger.log_size() == size + 1
    AuditRun.objects.filter(pk=old.pk).delete()
    kinds = {p.kind for p in ledger.log_check(None)}
    assert "audit_run_deleted" in kinds


# --- 4. a delete never shows a hidden record --------------------------------------------------


def test_deleting_a_restricted_figure_keeps_its_references_hidden(users, world, clients):
    from archive.models import ReferenceImage

    sealed = services.reference_create(
        user=None, artifact=world.secret_derived, figure=world.secret_figure, title="sealed"
    )
    cited = services.citation_create(source=world.source, target=sealed, claim="sealed claim")
    viewer = clients["viewer"]
    assert viewer.get(f"/api/v1/references/{sealed.pk}/").status_code == 404
    # the auditor can see and delete the figure (its notes go with it; the reference stays)
    services.catalogue_delete(record=world.secret_figure, user=users["admin"])
    sealed.refresh_from_db()
    assert sealed.figure_id is None and sealed.restricted
    assert viewer.get(f"/api/v1/references/{sealed.pk}/").status_code == 404
    assert viewer.get(f"/api/v1/citations/{cited.pk}/").status_code == 404
    assert viewer.get(f"/api/v1/artifacts/{sealed.artifact_id}/").status_code == 404
    listed = {r["id"] for r in viewer.get("/api/v1/references/").json()["results"]}
    assert sealed.pk not in listed
    last = revisions_of("reference", sealed.pk)[-1]
    assert last.before["restricted"] is False and last.after["restricted"] is True
    assert ReferenceImage.objects.filter(pk=world.reference.pk, restricted=False).exists()
    assert catalogue_check() == []


# --- 5. a GET never signs ---------------------------------------------------------------------


def test_the_bundle_get_does_not_sign_a_checkpoint(users, world, clients):
    viewer = clients["viewer"]
    assert not Checkpoint.objects.exists()
    r = viewer.get(f"/api/v1/artifacts/{world.derived.pk}/bundle/")
    assert r.status_code == 409, r.content
    assert r.json()["code"] == "not_checkpointed" and "checkpoint make" in r.json()["message"]
    assert not Checkpoint.objects.exists()
    # hidden stays hidden whatever the log's state
    assert viewer.get(f"/api/v1/artifacts/{world.secret_derived.pk}/bundle/").status_code == 404
    ledger.checkpoint_make()
    r = viewer.get(f"/api/v1/artifacts/{world.derived.pk}/bundle/")
    assert r.status_code == 200 and Checkpoint.objects.count() == 1


def test_a_step_proof_before_any_checkpoint_is_a_conflict(world, clients):
    step = world.derived.generated_by
    r = clients["viewer"].get(f"/api/v1/steps/{step.pk}/proof/")
    assert r.status_code == 409 and r.json()["code"] == "not_checkpointed"
    derive(world.photo.master, seed=99)
