"""Issue 16: ``visible_citations`` is a correlated NOT EXISTS (checked for the rows asked for);
the artifact taint keeps the set-based ``_hidden_citations_sql``. The two must agree on every
citation, whatever it is attached to."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext

from access.visibility import _hidden_citations_sql, tainted_artifacts_sql, visible_citations
from archive.models import Citation, Note, ReferenceImage

pytestmark = pytest.mark.django_db


def test_the_correlated_rule_equals_the_set_rule(users, world):
    open_source, sealed_source = world.source, world.secret_source
    targets = [
        None,
        world.figure,
        world.secret_figure,
        world.photo,
        world.secret_photo,
        open_source,
        sealed_source,
        world.note,
        world.secret_note,
        Note.objects.create(title="on a sealed photo", body="x", photo=world.secret_photo),
        world.reference,
        ReferenceImage.objects.create(artifact=world.derived, figure=world.secret_figure),
        ReferenceImage.objects.create(artifact=world.secret_derived, title="tainted file"),
        world.citation,
        world.secret_citation,
        Citation.objects.create(source=sealed_source, locator="on a sealed source"),
        Citation.objects.create(
            source=open_source, locator="on a sealed photo", target=world.secret_photo
        ),
    ]
    for target, source, restricted in itertools.product(
        targets, (open_source, sealed_source), (False, True)
    ):
        Citation.objects.create(source=source, target=target, restricted=restricted, claim="x")
    viewer = users["viewer"]
    correlated = set(visible_citations(Citation.objects.all(), viewer).values_list("pk", flat=True))
    reference_files = ReferenceImage.objects.filter(artifact_id__in=tainted_artifacts_sql())

    by_set = set(
        Citation.objects.filter(restricted=False)
        .exclude(pk__in=RawSQL(*_hidden_citations_sql()))
        .exclude(
            target_type=ContentType.objects.get_for_model(ReferenceImage),
            target_id__in=reference_files.values("pk"),
        )
        .values_list("pk", flat=True)
    )
    assert correlated == by_set
    # The rule of one kind of target alone (what a prefetch through a record's citations uses).
    from access.visibility import citation_target_models

    for model in citation_target_models().values():
        one = visible_citations(Citation.objects.all(), viewer, target=model)
        of_kind = {
            c.pk
            for c in Citation.objects.filter(pk__in=correlated)
            if c.target_type_id == ContentType.objects.get_for_model(model).pk
        }
        assert set(one.values_list("pk", flat=True)) == of_kind, model
    assert 5 < len(correlated) < Citation.objects.count() // 4
    assert set(visible_citations(Citation.objects.all(), users["auditor"])) == set(
        Citation.objects.all()
    )
    for model in citation_target_models().values():  # ``target`` narrows for auditors too
        kind = ContentType.objects.get_for_model(model).pk
        assert set(
            visible_citations(Citation.objects.all(), users["auditor"], target=model)
        ) == set(Citation.objects.filter(target_type_id=kind))
    # The check is per row: a correlated EXISTS, not a NOT IN over every hidden citation.
    with CaptureQueriesContext(connection) as ctx:
        list(visible_citations(Citation.objects.filter(pk=world.citation.pk), viewer))
    sql = ctx.captured_queries[-1]["sql"].upper()
    assert "EXISTS" in sql
