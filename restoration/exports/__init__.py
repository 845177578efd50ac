"""Exports of an artifact's lineage: plain JSON (for outside auditors), W3C PROV, C2PA.

Each export (and ``restoration.audit.artifact_verify``) takes the ``LineageGraph`` its caller
already fetched, usually through ``access.visibility.visible_lineage`` to check that the user
may see it, so the lineage is read once per request. ``artifact_id`` alone still works for
callers with no graph in hand (the command line, tests, benchmarks)."""

from __future__ import annotations

from restoration.selectors import LineageGraph, lineage_ancestors


def ancestor_graph(graph: LineageGraph | None, artifact_id: int | None) -> LineageGraph:
    """The caller's graph, else the ancestor graph of ``artifact_id`` (fetched here, once).

    Raises ``Artifact.DoesNotExist`` for an unknown id."""
    if graph is not None:
        if artifact_id is not None and artifact_id != graph.root_id:
            raise ValueError(f"graph of artifact {graph.root_id} given for artifact {artifact_id}")
        return graph
    if artifact_id is None:
        raise TypeError("give the lineage graph or the artifact id")
    return lineage_ancestors(artifact_id=artifact_id)
