"""Lineage rows cannot be changed or deleted, through the ORM or (PostgreSQL) raw SQL, and
removing catalogue records never removes lineage."""

from __future__ import annotations

import io

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from archive.models import Citation, Photo, Source
from archive.services import photo_ingest
from restoration.audit import artifact_verify
from restoration.models import AppendOnlyError, Artifact, Step, StepInput, StepOutput
from tests.conftest import image_bytes
from tests.restoration.lineage_support import derive, master

pytestmark = pytest.mark.django_db


def test_orm_refuses_updates_and_deletes():
    scan = master(1)
    out = derive(scan, 2)
    step = out.generated_by
    for model in (Artifact, Step, StepInput, StepOutput):
        with pytest.raises(AppendOnlyError):
            model.objects.all().delete()
        with pytest.raises(AppendOnlyError):
            model.objects.all().update(pk=1)
    step.rationale = "changed"
    with pytest.raises(AppendOnlyError):
        step.save()
    with pytest.raises(AppendOnlyError):
        out.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL trigger")
def test_trigger_refuses_raw_sql_on_every_lineage_table():
    source = Source.objects.create(title="s")
    citation = Citation.objects.create(source=source)
    derive(master(1), 2, citation_ids=[citation.pk])
    tables = ["artifact", "step", "stepinput", "stepoutput", "stepcitation"]
    for table in tables:
        for sql in (f"UPDATE restoration_{table} SET id = id", f"DELETE FROM restoration_{table}"):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                connection.cursor().execute(sql)


def test_deleting_a_photo_keeps_its_lineage():
    result = photo_ingest(
        stream=io.BytesIO(image_bytes("PNG", seed=7)), filename="scan.png", title="t"
    )
    derived = derive(result.artifact, 8)
    result.photo.delete()
    assert not Photo.objects.exists()
    assert Artifact.objects.filter(pk=result.artifact.pk).exists()
    assert artifact_verify(artifact_id=derived.pk)["ok"] is True


def test_a_cited_source_cannot_be_deleted_from_under_a_step():
    source = Source.objects.create(title="Interview")
    citation = Citation.objects.create(source=source)
    derive(master(1), 2, citation_ids=[citation.pk])
    with pytest.raises(ProtectedError):
        citation.delete()
