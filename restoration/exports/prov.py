"""W3C PROV export of an artifact's whole ancestor lineage (PROV-JSON, PROV-N, PROV-JSON-LD).

Mapping:
- each artifact is an ``entity`` (``pa:sha256``, ``pa:mediaType``, size, width, height);
- each step is an ``activity`` (operation, version, canonical parameters, record hash, ...),
  with ``used`` (its inputs, with ``prov:role``), ``wasGeneratedBy`` (its outputs) and
  ``wasDerivedFrom`` (each output from each input, via the step);
- the person who ran it is a ``prov:Person`` agent, the software that ran it a
  ``prov:SoftwareAgent`` (``wasAssociatedWith`` both), "on behalf of" an ``actedOnBehalfOf``;
- model weights, citations and reference images are entities the step ``used`` (roles
  ``model``, ``citation``, ``reference``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from prov.model import PROV_ROLE, PROV_TYPE, ProvDocument

from restoration.exports import ancestor_graph
from restoration.hashing import canonical_json
from restoration.selectors import LineageGraph

ProvFormat = Literal["json", "provn", "jsonld"]
PROV_FORMATS: dict[str, str] = {
    "json": "application/json",
    "provn": "text/provenance-notation; charset=utf-8",
    "jsonld": "application/ld+json",
}
NS = "urn:photo-archive:"


def _namespaces(doc: ProvDocument) -> None:
    doc.add_namespace("pa", f"{NS}ns#")
    for prefix in (
        "artifact",
        "step",
        "user",
        "software",
        "weights",
        "citation",
        "reference",
        "agent",
    ):
        doc.add_namespace(prefix, f"{NS}{prefix}:")


def _json(value: Any) -> str:
    return canonical_json(value).decode("utf-8")


def _safe_local(text: str) -> str:
    """A QName local part from free text (user names, on-behalf-of strings)."""
    out = "".join(c if c.isalnum() or c in "-_." else "_" for c in text.strip())
    return out or "unknown"


def lineage_prov_document(graph: LineageGraph) -> ProvDocument:
    doc = ProvDocument()
    _namespaces(doc)
    for artifact in graph.artifacts.values():
        doc.entity(
            f"artifact:{artifact.pk}",
            {
                PROV_TYPE: "pa:Artifact",
                "pa:sha256": artifact.sha256,
                "pa:mediaType": artifact.media_type,
                "pa:size": int(artifact.size),
                "pa:width": int(artifact.width),
                "pa:height": int(artifact.height),
            },
        )
    done: set[str] = set()
    for step in graph.steps.values():
        _step(doc, graph, step, done)
    return doc


def _once(doc_ids: set[str], ident: str) -> bool:
    if ident in doc_ids:
        return False
    doc_ids.add(ident)
    return True


def _step(doc: ProvDocument, graph: LineageGraph, step: Any, done: set[str]) -> None:
    parts = graph.parts[step.pk]
    activity = doc.activity(
        f"step:{step.pk}",
        step.started_at,
        step.ended_at,
        {
            PROV_TYPE: f"pa:{step.kind}",
            "pa:operation": step.operation,
            "pa:operationVersion": step.operation_version,
            "pa:parameters": _json(step.parameters),
            "pa:recordHash": step.record_hash,
            "pa:software": _json(step.software),
            "pa:device": step.device,
            "pa:seed": "" if step.seed is None else str(step.seed),
            "pa:rationale": step.rationale,
            "pa:changeSummary": _json(step.change_summary),
        },
    )
    for link in parts.inputs:
        doc.used(activity, f"artifact:{link.artifact_id}", None, None, {PROV_ROLE: link.role})
    for out in parts.outputs:
        doc.wasGeneratedBy(
            f"artifact:{out.artifact_id}", activity, step.ended_at, None, {PROV_ROLE: out.role}
        )
        for link in parts.inputs:
            doc.wasDerivedFrom(
                f"artifact:{out.artifact_id}", f"artifact:{link.artifact_id}", activity
            )
    _agents(doc, step, activity, done)
    if step.model_sha256:
        weights_id = f"weights:{step.model_sha256}"
        if _once(done, weights_id):
            attrs: dict[Any, Any] = {
                PROV_TYPE: "pa:ModelWeights",
                "pa:sha256": step.model_sha256,
                "pa:architecture": step.model_architecture,
            }
            if step.weights is not None:
                attrs["pa:name"] = step.weights.name
                attrs["pa:license"] = step.weights.license
            doc.entity(weights_id, attrs)
        doc.used(activity, weights_id, None, None, {PROV_ROLE: "model"})
    for citation in parts.citations:
        _citation(doc, citation, done)
        doc.used(activity, f"citation:{citation.pk}", None, None, {PROV_ROLE: "citation"})
    for reference in parts.references:
        _reference(doc, reference, done)
        doc.used(activity, f"reference:{reference.pk}", None, None, {PROV_ROLE: "reference"})


def _agents(doc: ProvDocument, step: Any, activity: Any, done: set[str]) -> None:
    software = step.software or {}
    version = str(software.get("project", "unknown"))
    software_id = f"software:photo-archive-{_safe_local(version)}"
    if _once(done, software_id):
        doc.agent(
            software_id,
            {PROV_TYPE: "prov:SoftwareAgent", "pa:name": "photo-archive", "pa:version": version},
        )
    doc.wasAssociatedWith(activity, software_id, None, None, {PROV_ROLE: "software"})
    if step.actor:
        user_id = f"user:{_safe_local(step.actor)}"
        if _once(done, user_id):
            doc.agent(user_id, {PROV_TYPE: "prov:Person", "pa:username": step.actor})
        doc.wasAssociatedWith(activity, user_id, None, None, {PROV_ROLE: "operator"})
        if step.on_behalf_of:
            principal = f"agent:{_safe_local(step.on_behalf_of)}"
            if _once(done, principal):
                doc.agent(principal, {"pa:name": step.on_behalf_of})
            doc.actedOnBehalfOf(user_id, principal, activity)


def _citation(doc: ProvDocument, citation: Any, done: set[str]) -> None:
    ident = f"citation:{citation.pk}"
    if not _once(done, ident):
        return
    doc.entity(
        ident,
        {
            PROV_TYPE: "pa:Citation",
            "pa:source": citation.source.title,
            "pa:locator": citation.locator,
            "pa:quote": citation.quote,
            "pa:claim": citation.claim,
            "pa:confidence": citation.confidence,
        },
    )


def _reference(doc: ProvDocument, reference: Any, done: set[str]) -> None:
    ident = f"reference:{reference.pk}"
    if not _once(done, ident):
        return
    doc.entity(
        ident,
        {
            PROV_TYPE: "pa:ReferenceImage",
            "pa:kind": reference.kind,
            "pa:title": reference.title,
            "pa:sha256": reference.artifact.sha256,
            "pa:mediaType": reference.artifact.media_type,
        },
    )


def lineage_prov(
    *,
    graph: LineageGraph | None = None,
    artifact_id: int | None = None,
    fmt: ProvFormat = "json",
) -> str:
    """The artifact's ancestor lineage (``graph``, or fetched for ``artifact_id``) as PROV-JSON
    (``json``), PROV-N (``provn``) or PROV-JSON-LD (``jsonld``). Raises
    ``Artifact.DoesNotExist`` or ``ValueError``."""
    if fmt not in PROV_FORMATS:
        raise ValueError(f"format must be one of {', '.join(PROV_FORMATS)}, not {fmt!r}")
    doc = lineage_prov_document(ancestor_graph(graph, artifact_id))
    if fmt == "provn":
        return doc.get_provn()
    return doc.serialize(format=fmt, indent=2)


def prov_counts(items: Iterable[Any]) -> dict[str, int]:
    """Count records by PROV type name (``entity``, ``activity``, ...) for tests and benches."""
    counts: dict[str, int] = {}
    for record in items:
        name = record.get_type().localpart
        counts[name] = counts.get(name, 0) + 1
    return counts
