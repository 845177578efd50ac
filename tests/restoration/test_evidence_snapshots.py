"""Issue 11, item 1: evidence frozen at the moment of use (record version 2), revisions of
every catalogue write, and version 1 records that keep verifying under their own rule."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from archive import services
from archive.evidence import evidence_status
from archive.models import Citation, Revision, Source
from archive.revisions import revision_hash, revisions_of
from restoration.audit import artifact_verify
from restoration.hashing import RECORD_VERSION, StepRecord
from restoration.models import LogLeaf, Step
from restoration.selectors import lineage_ancestors, stored_step_record
from tests.restoration.lineage_support import T0, derive, master, raw_write

pytestmark = pytest.mark.django_db


@pytest.fixture
def cataloguer():
    return get_user_model().objects.create_user(username="cat", password="pw-cat-1")


@pytest.fixture
def evidence(cataloguer):
    source = services.source_create(
        user=cataloguer, title="Interview with Zhou Haiying", kind="interview", date="1987"
    )
    citation = services.citation_create(
        user=cataloguer,
        source=source,
        locator="p. 12",
        quote="his collar was dark blue",
        claim="the collar was dark blue",
        confidence="probable",
    )
    scan = master(1)
    reference = services.reference_create(
        user=cataloguer, artifact=scan, kind="costume", title="School uniform, 1925"
    )
    return source, citation, reference, scan


def test_a_step_holds_snapshots_of_its_evidence(evidence):
    source, citation, reference, scan = evidence
    made = derive(master(2), seed=3, citation_ids=[citation.pk], reference_ids=[reference.pk])
    step = made.generated_by
    assert (
        step.record_version == RECORD_VERSION == 3
    )  # version 3 (issue 22) keeps the evidence of version 2
    [c] = step.evidence["citations"]
    assert c["claim"] == "the collar was dark blue"
    assert c["quote"] == "his collar was dark blue"
    assert c["source"]["title"] == "Interview with Zhou Haiying"
    assert c["revision"] == 1 and c["source"]["revision"] == 1
    [r] = step.evidence["references"]
    assert r["sha256"] == scan.sha256 and r["title"] == "School uniform, 1925"
    record = stored_step_record(step, lineage_ancestors(artifact_id=made.pk).parts[step.pk])
    assert record.as_canonical_dict()["evidence"]["citations"][0]["claim"] == c["claim"]
    assert record.record_hash() == step.record_hash
    # logged in the same transaction
    assert LogLeaf.objects.filter(kind="step", record_id=step.pk, record_hash=step.record_hash)


def test_editing_evidence_after_use_keeps_what_the_step_relied_on(evidence, cataloguer):
    source, citation, reference, scan = evidence
    made = derive(master(2), seed=3, citation_ids=[citation.pk], reference_ids=[reference.pk])
    other = master(4)
    services.citation_update(
        citation=citation,
        user=cataloguer,
        claim="BRIGHT RED silk",
        quote="red",
        locator="p. 99",
        confidence="certain",
    )
    services.source_update(source=source, user=cataloguer, title="Another title")
    services.reference_update(reference=reference, user=cataloguer, title="Renamed", kind="other")
    Citation.objects.filter(pk=citation.pk)  # the catalogue says the new story now
    step = Step.objects.get(pk=made.generated_by_id)
    assert step.evidence["citations"][0]["claim"] == "the collar was dark blue"
    assert step.evidence["citations"][0]["source"]["title"] == "Interview with Zhou Haiying"
    assert step.evidence["references"][0]["title"] == "School uniform, 1925"
    report = artifact_verify(artifact_id=made.pk)
    assert report["ok"], report["problems"]
    status = evidence_status(step.evidence)
    assert status["citations"][0]["revised"] is True
    assert status["citations"][0]["current_revision"] == 2
    assert status["references"][0]["revised"] is True
    # who, when, before, after
    [created, changed] = revisions_of("citation", citation.pk)
    assert created.action == "create" and created.before is None
    assert changed.action == "update" and changed.actor == "cat"
    assert changed.before["claim"] == "the collar was dark blue"
    assert changed.after["claim"] == "BRIGHT RED silk"
    assert revision_hash(changed) == changed.record_hash
    assert LogLeaf.objects.filter(kind="revision", record_id=changed.pk).exists()
    # a re-pointed reference (an admin's edit) is a revision too; the snapshot keeps the hash
    services.reference_update(reference=reference, user=cataloguer, artifact=other)
    last = revisions_of("reference", reference.pk)[-1]
    assert (last.before["artifact"], last.after["artifact"]) == (scan.pk, other.pk)
    step.refresh_from_db()
    assert step.evidence["references"][0]["sha256"] == scan.sha256


def test_a_rewritten_snapshot_is_detected(evidence):
    _, citation, _, _ = evidence
    made = derive(master(2), seed=3, citation_ids=[citation.pk])
    step = made.generated_by
    evidence_json = dict(step.evidence)
    evidence_json["citations"] = [{**evidence_json["citations"][0], "claim": "BRIGHT RED silk"}]
    raw_write(
        "restoration_step",
        "UPDATE restoration_step SET evidence = %s WHERE id = %s",
        [json.dumps(evidence_json), step.pk],
    )
    report = artifact_verify(artifact_id=made.pk)
    assert not report["ok"]
    assert [p["kind"] for p in report["problems"]] == ["record_changed"]
    assert report["problems"][0]["step"] == step.pk


def test_version_1_records_keep_verifying_under_their_own_rule(evidence):
    """A step written before snapshots existed: version 1, no evidence key in its record."""
    _, citation, _, _ = evidence
    made = derive(master(2), seed=3, citation_ids=[citation.pk])
    step = made.generated_by
    graph = lineage_ancestors(artifact_id=made.pk)
    v2 = stored_step_record(step, graph.parts[step.pk])
    fields = {k: getattr(v2, k) for k in StepRecord.__dataclass_fields__}
    v1 = StepRecord(**{**fields, "record_version": 1, "evidence": None})
    assert "evidence" not in v1.as_canonical_dict()
    assert v1.as_canonical_dict()["record_version"] == 1
    assert v1.record_hash() != step.record_hash
    raw_write(
        "restoration_step",
        "UPDATE restoration_step SET record_version = 1, evidence = %s, record_hash = %s "
        "WHERE id = %s",
        [json.dumps({}), v1.record_hash(), step.pk],
    )
    # The record itself verifies under version 1's rule (no ``record_changed``); the log holds
    # the version 2 hash, so the log check of one artifact's verify names the rewrite.
    report = artifact_verify(artifact_id=made.pk)
    assert [(p["kind"], p.get("step")) for p in report["problems"]] == [
        ("record_rewritten", step.pk)
    ], report["problems"]
    with pytest.raises(ValueError):
        StepRecord(**{**fields, "record_version": 7}).as_canonical_dict()


def test_version_2_records_keep_verifying_under_their_own_rule(evidence):
    """A step written before identity checks (issue 22): version 2, evidence but no identity."""
    _, citation, _, _ = evidence
    made = derive(master(3), seed=4, citation_ids=[citation.pk])
    step = made.generated_by
    graph = lineage_ancestors(artifact_id=made.pk)
    v3 = stored_step_record(step, graph.parts[step.pk])
    fields = {k: getattr(v3, k) for k in StepRecord.__dataclass_fields__}
    v2 = StepRecord(**{**fields, "record_version": 2, "identity": None})
    assert "identity" not in v2.as_canonical_dict() and "identity" in v3.as_canonical_dict()
    assert v2.as_canonical_dict()["evidence"] == v3.as_canonical_dict()["evidence"]
    raw_write(
        "restoration_step",
        "UPDATE restoration_step SET record_version = 2, record_hash = %s WHERE id = %s",
        [v2.record_hash(), step.pk],
    )
    report = artifact_verify(artifact_id=made.pk)
    assert [(p["kind"], p.get("step")) for p in report["problems"]] == [
        ("record_rewritten", step.pk)
    ], report["problems"]


def test_every_catalogue_write_makes_a_revision(cataloguer):
    figure = services.figure_create(user=cataloguer, name="Lu Xun")
    services.figure_update(
        figure=figure, user=cataloguer, names=[{"name": "鲁迅", "language": "zh-Hans"}]
    )
    note = services.note_create(author=cataloguer, title="Collar", body="dark blue")
    services.note_update(note=note, user=cataloguer, body="dark navy")
    source = Source.objects.create(title="unrevised")  # not through a service: no revision
    assert revisions_of("source", source.pk) == []
    figure_revs = revisions_of("figure", figure.pk)
    assert [r.action for r in figure_revs] == ["create", "update"]
    assert figure_revs[1].after["names"] == [
        {"name": "鲁迅", "language": "zh-Hans", "kind": "variant"}
    ]
    note_id = note.pk
    services.catalogue_delete(record=note, user=cataloguer)
    note_revs = revisions_of("note", note_id)
    assert [r.action for r in note_revs] == ["create", "update", "delete"]
    assert note_revs[-1].after is None and note_revs[-1].before["body"] == "dark navy"
    assert Revision.objects.count() == LogLeaf.objects.filter(kind="revision").count() == 5


def test_a_failed_write_leaves_no_revision(cataloguer):
    source = services.source_create(user=cataloguer, title="A book")
    before = Revision.objects.count()
    with pytest.raises(Exception):  # noqa: B017 - the EDTF validation error
        services.source_update(source=source, user=cataloguer, date="not a date")
    assert Revision.objects.count() == before
    assert T0  # the shared clock of the lineage builders


def test_deleting_a_figure_revises_what_pointed_at_it_and_verify_stays_clean(cataloguer):
    import io

    from archive.models import ReferenceImage
    from restoration.audit import archive_verify_all
    from tests.conftest import image_bytes

    figure = services.figure_create(user=cataloguer, name="Someone")
    photo = services.photo_ingest(
        stream=io.BytesIO(image_bytes("PNG", seed=3)),
        filename="a.png",
        user=cataloguer,
        figure_ids=[figure.pk],
    ).photo
    reference = services.reference_create(
        user=cataloguer, artifact=master(9), figure=figure, title="ref"
    )
    services.catalogue_delete(record=figure, user=cataloguer)
    assert revisions_of("photo", photo.pk)[-1].after["figures"] == []
    assert revisions_of("reference", reference.pk)[-1].after["figure"] is None
    assert ReferenceImage.objects.get(pk=reference.pk).figure_id is None
    report = archive_verify_all()
    assert report["ok"], report["problems"]
