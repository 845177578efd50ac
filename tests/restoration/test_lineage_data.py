"""Issue 16: the API's lineage is read as rows (``lineage_data``), not model instances; it must
be exactly ``LineageGraph.as_dict()``, which the pages, verify and the exports read."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from archive import services
from restoration.models import Artifact
from restoration.selectors import ids_in, lineage_ancestors, lineage_data, lineage_descendants
from restoration.services import output_from_array, step_record_or_discard
from tests.restoration.lineage_support import T0, array, derive, master

pytestmark = pytest.mark.django_db


def _two_outputs(parent: Artifact, seed: int) -> tuple[Artifact, Artifact]:
    """One step making an image and a mask beside it (sibling outputs)."""
    image, mask = output_from_array(array(seed)), output_from_array(array(seed + 1), role="mask")
    step_record_or_discard(
        kind="classical",
        operation="scratch_mask",
        operation_version="1.0",
        parameters={"threshold": [0.25, None, "ü"], "nested": {"b": 1, "a": [True]}},
        inputs=[derive_input(parent)],
        outputs=[image, mask],
        started_at=T0,
        ended_at=T0 + dt.timedelta(microseconds=123456),
        software={"project": "test"},
        seed=7,
        rationale="mask the scratches",
    )
    return Artifact.objects.get(sha256=image.sha256), Artifact.objects.get(sha256=mask.sha256)


def derive_input(artifact: Artifact):  # type: ignore[no-untyped-def]
    from restoration.services import NewInput

    return NewInput(role="image", artifact=artifact, position=0)


@pytest.fixture
def graph_ends() -> dict[str, Artifact]:
    """Masters, a chain, a step with two outputs, several inputs per role, a diamond, cited
    and referenced evidence, and an unrelated chain."""
    user = get_user_model().objects.create_user(username="cat16", password="pw-cat-16")
    source = services.source_create(user=user, title="Interview", kind="interview", date="1987")
    citation = services.citation_create(
        user=user, source=source, locator="p. 12", claim="the collar was dark blue"
    )
    scan, other = master(1), master(2)
    reference = services.reference_create(user=user, artifact=other, kind="costume", title="Ref")
    image, mask = _two_outputs(derive(scan, 3), 4)
    cleaned = derive([("image", image), ("mask", mask)], 6, operation="descratch")
    final = derive(
        [("image", cleaned), ("reference", other), ("reference", scan)],
        7,
        operation="color_transfer",
        citation_ids=[citation.pk],
        reference_ids=[reference.pk],
    )
    derive(master(8), 9)  # unrelated
    return {"scan": scan, "other": other, "image": image, "mask": mask, "final": final}


def test_lineage_data_is_as_dict_in_both_directions(graph_ends):
    for artifact in graph_ends.values():
        up = lineage_ancestors(artifact_id=artifact.pk).as_dict()
        assert lineage_data(artifact_id=artifact.pk) == up
        down = lineage_descendants(artifact_id=artifact.pk).as_dict()
        assert lineage_data(artifact_id=artifact.pk, direction="descendants") == down
    data = lineage_data(artifact_id=graph_ends["final"].pk)
    # the graph holds what it should (so the equality above is not between two empty answers)
    assert {a["id"] for a in data["artifacts"]} >= {a.pk for a in graph_ends.values()}
    assert sorted(data["masters"]) == sorted([graph_ends["scan"].pk, graph_ends["other"].pk])
    last = data["steps"][-1]
    assert last["citations"] and last["references"] and len(last["inputs"]) == 3
    assert [s["id"] for s in data["steps"]] == sorted(s["id"] for s in data["steps"])
    masked = next(s for s in data["steps"] if s["operation"] == "scratch_mask")
    assert {o["role"] for o in masked["outputs"]} == {"image", "mask"}
    assert masked["parameters"] == {"threshold": [0.25, None, "ü"], "nested": {"b": 1, "a": [True]}}
    assert masked["ended_at"] == "2026-11-23T12:00:00.123456+00:00"


def test_lineage_data_query_count_and_errors(django_assert_num_queries):
    chain = [master(20)]
    for i in range(30):
        chain.append(derive(chain[-1], 21 + i))
    # artifacts (with the recursive query), steps (ingests as a subquery), 4 kinds of links
    with django_assert_num_queries(6):
        data = lineage_data(artifact_id=chain[-1].pk)
    assert [a["id"] for a in data["artifacts"]] == [a.pk for a in chain]
    assert len(data["steps"]) == 31 and len(data["edges"]) == 30 + 31
    with pytest.raises(Artifact.DoesNotExist):
        lineage_data(artifact_id=987654)
    with pytest.raises(ValueError):
        lineage_data(artifact_id=chain[0].pk, direction="sideways")  # type: ignore[arg-type]


def test_ids_in_writes_only_integers():
    scan = master(30)
    assert list(Artifact.objects.filter(ids_in("id", [scan.pk, 10**9]))) == [scan]
    assert list(Artifact.objects.filter(ids_in("id", []))) == []
    with pytest.raises(ValueError):
        ids_in("id", ["1) OR (1=1"])  # type: ignore[list-item]
