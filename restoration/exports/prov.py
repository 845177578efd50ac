"""W3C PROV export of an artifact's whole ancestor lineage (PROV-JSON, PROV-N, PROV-JSON-LD).

Mapping:
- each artifact is an ``entity`` (``pa:sha256``, ``pa:mediaType``, size, width, height);
- each step is an ``activity`` (operation, version, canonical parameters, record hash, ...),
  with ``used`` (its inputs, with ``prov:role``), ``wasGeneratedBy`` (its outputs) and
  ``wasDerivedFrom`` (each output from each input, via the step);
- the person who ran it is a ``prov:Person`` agent, the software that ran it a
  ``prov:SoftwareAgent`` (``wasAssociatedWith`` both), "on behalf of" an ``actedOnBehalfOf``;
- model weights, citations, their sources and reference images are entities the step
  ``used`` (roles ``model``, ``citation``, ``source``, ``reference``), described by the
  snapshots in the step's hashed record (record version 2: the evidence as it was used, with
  its revision number), not by the catalogue as it is now;
- a master carries its catalogue identity (title, accession number, repository, rights);
- evidence the reader may not see comes as ``pa:Withheld`` (kind and snapshot hash only), when
  the caller passes ``evidence_view`` (``access.visibility.evidence_for``);
- PROV-JSON-LD refers to the archive's own copy of the PROV-JSON-LD context
  (``JSONLD_CONTEXT_PATH``), not to a remote URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from prov.model import PROV_ROLE, PROV_TYPE, ProvDocument

from restoration.evidence import catalogue_identity, evidence_used
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
JSONLD_CONTEXT_PATH = "/api/v1/prov/context.jsonld"
REMOTE_CONTEXT = "https://openprovenance.org/prov-jsonld/context.jsonld"
EvidenceView = Callable[[dict[str, Any]], dict[str, Any]]


def _namespaces(doc: ProvDocument) -> None:
    doc.add_namespace("pa", f"{NS}ns#")
    for prefix in (
        "artifact",
        "step",
        "user",
        "software",
        "weights",
        "citation",
        "source",
        "reference",
        "withheld",
        "agent",
    ):
        doc.add_namespace(prefix, f"{NS}{prefix}:")


def _json(value: Any) -> str:
    return canonical_json(value).decode("utf-8")


def _safe_local(text: str) -> str:
    """A QName local part from free text (user names, on-behalf-of strings)."""
    out = "".join(c if c.isalnum() or c in "-_." else "_" for c in text.strip())
    return out or "unknown"


_IDENTITY_ATTRS = {
    "title": "pa:title",
    "accession_number": "pa:accessionNumber",
    "repository": "pa:repository",
    "rights": "pa:rights",
    "photographer": "pa:photographer",
    "date": "pa:date",
    "place": "pa:place",
    "record": "pa:catalogueRecord",
}


def lineage_prov_document(
    graph: LineageGraph, *, evidence_view: EvidenceView | None = None
) -> ProvDocument:
    doc = ProvDocument()
    _namespaces(doc)
    identity = catalogue_identity([a.pk for a in graph.masters])
    for artifact in graph.artifacts.values():
        attrs: dict[Any, Any] = {
            PROV_TYPE: "pa:Artifact",
            "pa:sha256": artifact.sha256,
            "pa:mediaType": artifact.media_type,
            "pa:size": int(artifact.size),
            "pa:width": int(artifact.width),
            "pa:height": int(artifact.height),
        }
        if artifact.frame_count:  # a film (issue 13): its timing and its frame manifest
            attrs["pa:frameCount"] = int(artifact.frame_count)
            attrs["pa:frameRate"] = str(artifact.fps)
            attrs["pa:duration"] = float(artifact.duration or 0.0)
            manifest = (artifact.info or {}).get("manifest_sha256")
            if manifest:
                attrs["pa:frameManifestSha256"] = str(manifest)
        for key, value in identity.get(artifact.pk, {}).items():
            if value and key in _IDENTITY_ATTRS:
                attrs[_IDENTITY_ATTRS[key]] = str(value)
        doc.entity(f"artifact:{artifact.pk}", attrs)
    done: set[str] = set()
    for step in graph.steps.values():
        _step(doc, graph, step, done, evidence_view)
    return doc


def _once(doc_ids: set[str], ident: str) -> bool:
    if ident in doc_ids:
        return False
    doc_ids.add(ident)
    return True


def _step(
    doc: ProvDocument,
    graph: LineageGraph,
    step: Any,
    done: set[str],
    evidence_view: EvidenceView | None = None,
) -> None:
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
            "pa:identity": _json(step.identity),
            "pa:identityVerdict": step.identity_verdict,
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
    evidence = evidence_used(step, parts)
    if evidence_view is not None:
        evidence = evidence_view(evidence)
    for citation in evidence["citations"]:
        if citation.get("withheld"):
            _withheld(doc, activity, citation, done)
            continue
        ident = _citation(doc, citation, done)
        doc.used(activity, ident, None, None, {PROV_ROLE: "citation"})
        source = f"source:{citation['source']['id']}"
        doc.used(activity, source, None, None, {PROV_ROLE: "source"})
    for reference in evidence["references"]:
        if reference.get("withheld"):
            _withheld(doc, activity, reference, done)
            continue
        ident = _reference(doc, reference, done)
        doc.used(activity, ident, None, None, {PROV_ROLE: "reference"})


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


def _rev(snapshot: dict[str, Any]) -> str:
    """Entity id of one revision of a record: the same citation used by two steps at two
    revisions is two entities (one specialises the other's record)."""
    rev = snapshot.get("revision")
    return f"{snapshot['id']}" if rev is None else f"{snapshot['id']}.r{rev}"


def _citation(doc: ProvDocument, citation: dict[str, Any], done: set[str]) -> str:
    ident = f"citation:{_rev(citation)}"
    source = citation["source"]
    source_id = f"source:{source['id']}"
    if _once(done, source_id):
        doc.entity(
            source_id,
            {
                PROV_TYPE: "pa:Source",
                "pa:kind": source.get("kind", ""),
                "pa:title": source.get("title", ""),
                "pa:author": source.get("author", ""),
                "pa:date": source.get("date", ""),
                "pa:repository": source.get("repository", ""),
                "pa:revision": str(source.get("revision", "")),
            },
        )
    if _once(done, ident):
        doc.entity(
            ident,
            {
                PROV_TYPE: "pa:Citation",
                "pa:source": source.get("title", ""),
                "pa:locator": citation.get("locator", ""),
                "pa:quote": citation.get("quote", ""),
                "pa:claim": citation.get("claim", ""),
                "pa:confidence": citation.get("confidence", ""),
                "pa:revision": str(citation.get("revision", "")),
            },
        )
        doc.wasDerivedFrom(ident, source_id)
    return ident


def _reference(doc: ProvDocument, reference: dict[str, Any], done: set[str]) -> str:
    ident = f"reference:{_rev(reference)}"
    if _once(done, ident):
        doc.entity(
            ident,
            {
                PROV_TYPE: "pa:ReferenceImage",
                "pa:kind": reference.get("kind", ""),
                "pa:title": reference.get("title", ""),
                "pa:description": reference.get("description", ""),
                "pa:sha256": reference.get("sha256", ""),
                "pa:revision": str(reference.get("revision", "")),
            },
        )
    return ident


def _withheld(doc: ProvDocument, activity: Any, item: dict[str, Any], done: set[str]) -> None:
    ident = f"withheld:{item['sha256'][:32]}"
    if _once(done, ident):
        doc.entity(
            ident, {PROV_TYPE: "pa:Withheld", "pa:kind": item["kind"], "pa:sha256": item["sha256"]}
        )
    doc.used(activity, ident, None, None, {PROV_ROLE: item["kind"]})


def lineage_prov(
    *,
    graph: LineageGraph | None = None,
    artifact_id: int | None = None,
    fmt: ProvFormat = "json",
    evidence_view: EvidenceView | None = None,
    context_url: str = JSONLD_CONTEXT_PATH,
) -> str:
    """The artifact's ancestor lineage (``graph``, or fetched for ``artifact_id``) as PROV-JSON
    (``json``), PROV-N (``provn``) or PROV-JSON-LD (``jsonld``). Raises
    ``Artifact.DoesNotExist`` or ``ValueError``."""
    if fmt not in PROV_FORMATS:
        raise ValueError(f"format must be one of {', '.join(PROV_FORMATS)}, not {fmt!r}")
    doc = lineage_prov_document(ancestor_graph(graph, artifact_id), evidence_view=evidence_view)
    if fmt == "provn":
        return doc.get_provn()
    text = doc.serialize(format=fmt, indent=2)
    assert text is not None  # prov returns the text when given no destination
    if fmt == "jsonld":
        # The archive serves the context itself (no fetch from a remote site at read time).
        text = text.replace(f'"{REMOTE_CONTEXT}"', f'"{context_url}"')
    return text


def jsonld_context() -> dict[str, Any]:
    """The PROV-JSON-LD context document the archive serves at ``JSONLD_CONTEXT_PATH``."""
    from prov.serializers.provjsonld import load_vendored_context

    return {"@context": load_vendored_context()}


def prov_counts(items: Iterable[Any]) -> dict[str, int]:
    """Count records by PROV type name (``entity``, ``activity``, ...) for tests and benches."""
    counts: dict[str, int] = {}
    for record in items:
        name = record.get_type().localpart
        counts[name] = counts.get(name, 0) + 1
    return counts
