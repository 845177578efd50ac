from __future__ import annotations

import pytest

from restoration.models import Artifact
from restoration.selectors import lineage_ancestors, lineage_descendants, lineage_graph
from tests.restoration.lineage_support import derive, master

pytestmark = pytest.mark.django_db


def _chain(length: int) -> list[Artifact]:
    items = [master(1000)]
    for i in range(length):
        items.append(derive(items[-1], 1001 + i))
    return items


def test_chain_ancestors_back_to_the_master():
    chain = _chain(4)
    graph = lineage_ancestors(artifact_id=chain[-1].pk)
    assert list(graph.artifacts) == [a.pk for a in chain]
    assert len(graph.steps) == 5  # ingest + 4
    assert [a.pk for a in graph.masters] == [chain[0].pk]
    assert list(graph.steps) == sorted(graph.steps)  # topological (id) order
    used = [(e.step_id, e.artifact_id) for e in graph.edges if e.kind == "used"]
    assert len(used) == 4


def test_several_inputs_per_step_and_diamonds():
    scan = master(1)
    other = master(2)
    mask = derive(scan, 3, operation="scratch_mask")
    cleaned = derive([("image", scan), ("mask", mask)], 4, operation="descratch")
    # the same master reaches the final step twice (through `cleaned` and as a reference)
    final = derive(
        [("image", cleaned), ("reference", other), ("reference", scan)],
        5,
        operation="color_transfer",
    )
    unrelated = derive(master(6), 7)

    graph = lineage_ancestors(artifact_id=final.pk)
    assert set(graph.artifacts) == {scan.pk, other.pk, mask.pk, cleaned.pk, final.pk}
    assert unrelated.pk not in graph.artifacts
    assert {a.pk for a in graph.masters} == {scan.pk, other.pk}
    final_step = graph.generating_step(final.pk)
    roles = sorted((i.role, i.position, i.artifact_id) for i in graph.parts[final_step.pk].inputs)
    assert roles == [
        ("image", 0, cleaned.pk),
        ("reference", 0, other.pk),
        ("reference", 1, scan.pk),
    ]
    data = graph.as_dict()
    assert data["root"] == final.pk and len(data["steps"]) == 5

    down = lineage_descendants(artifact_id=scan.pk)
    assert {mask.pk, cleaned.pk, final.pk, scan.pk} <= set(down.artifacts)
    assert unrelated.pk not in down.artifacts
    # the steps that used `scan` directly or indirectly (mask, descratch, colour transfer)
    assert {s.operation for s in down.steps.values()} == {
        "scratch_mask",
        "descratch",
        "color_transfer",
    }


def test_ancestor_query_count_is_constant(django_assert_num_queries):
    short = _chain(2)
    long = [master(2000)]
    for i in range(25):
        long.append(derive(long[-1], 2001 + i))
    with django_assert_num_queries(6):
        lineage_ancestors(artifact_id=short[-1].pk)
    with django_assert_num_queries(6):
        graph = lineage_ancestors(artifact_id=long[-1].pk)
    assert len(graph.artifacts) == 26
    with django_assert_num_queries(6):
        lineage_descendants(artifact_id=long[0].pk)


def test_unknown_artifact_and_direction():
    with pytest.raises(Artifact.DoesNotExist):
        lineage_ancestors(artifact_id=987654)
    with pytest.raises(ValueError):
        lineage_graph(artifact_id=1, direction="sideways")
