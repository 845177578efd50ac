"""The pages' side of the access policy: ``access.visibility`` decides, this only turns "not
visible" into a 404 (never a 403: a hidden record must not be confirmed to exist)."""

from __future__ import annotations

from django.http import Http404

from access.visibility import User, visible_artifact, visible_lineage
from restoration.models import Artifact
from restoration.selectors import LineageGraph


def visible_artifact_or_404(artifact_id: int, user: User) -> Artifact:
    artifact = visible_artifact(artifact_id, user)
    if artifact is None:
        raise Http404("no such artifact")
    return artifact


def visible_lineage_or_404(artifact_id: int, user: User) -> LineageGraph:
    """The artifact's ancestor graph, fetched once for the page, verify and the exports."""
    graph = visible_lineage(artifact_id, user)
    if graph is None:
        raise Http404("no such artifact")
    return graph
