"""Evidence snapshots (DESIGN.md, "Evidence is frozen where it is used").

A step that relies on citations or reference images stores, inside its hashed record (record
version 2), a snapshot of each as it was at that moment. The lineage core does not import the
catalogue: the catalogue registers the function that takes the snapshots
(``register_snapshotter``, from ``archive.apps``), and ``step_record`` calls it inside the
transaction that writes the step, so no catalogue edit can fall between the snapshot and the
step (the snapshotter locks the rows it reads).

A snapshot is plain JSON. A citation: ``{"id", "revision", "locator", "quote", "claim",
"confidence", "source": {"id", "revision", "kind", "title", "author", "date", "repository"}}``.
A reference image: ``{"id", "revision", "sha256", "kind", "title", "description"}``.
``revision`` is the record's revision number when it was used: a later revision of the record
means the catalogue has changed since, and the step still shows what it relied on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Snapshotter = Callable[[Sequence[int], Sequence[int]], dict[str, list[dict[str, Any]]]]
_snapshotter: Snapshotter | None = None


class EvidenceMissing(Exception):
    """A step names evidence that does not exist (or no snapshotter is installed)."""


def register_snapshotter(function: Snapshotter) -> None:
    global _snapshotter
    _snapshotter = function


def snapshot_evidence(
    citation_ids: Sequence[int], reference_ids: Sequence[int]
) -> dict[str, list[dict[str, Any]]]:
    """Snapshots of the given citations and reference images, by id (``{"citations": [...],
    "references": [...]}``); both lists empty when the step relied on nothing."""
    citation_ids = sorted(set(citation_ids))
    reference_ids = sorted(set(reference_ids))
    if not citation_ids and not reference_ids:
        return {"citations": [], "references": []}
    if _snapshotter is None:
        raise EvidenceMissing("no evidence snapshotter is installed (the catalogue app)")
    snapshots = _snapshotter(citation_ids, reference_ids)
    got_c = [c["id"] for c in snapshots["citations"]]
    got_r = [r["id"] for r in snapshots["references"]]
    if sorted(got_c) != citation_ids or sorted(got_r) != reference_ids:
        missing = sorted(set(citation_ids) - set(got_c)) + sorted(set(reference_ids) - set(got_r))
        raise EvidenceMissing(f"evidence not found: {missing}")
    return {
        "citations": sorted(snapshots["citations"], key=lambda c: c["id"]),
        "references": sorted(snapshots["references"], key=lambda r: r["id"]),
    }


def withheld(kind: str, snapshot: dict[str, Any]) -> dict[str, Any]:
    """What a user who may not see a piece of evidence is shown of it: its kind and the hash of
    its snapshot, so an export still verifies and nothing hidden is named."""
    import hashlib

    from restoration.hashing import canonical_json

    return {
        "withheld": True,
        "kind": kind,
        "sha256": hashlib.sha256(canonical_json(snapshot)).hexdigest(),
    }


# --- evidence ids recorded elsewhere (imported steps; registered by the interop layer) ------

RecordedIds = Callable[[Sequence[int]], dict[int, dict[str, dict[int, int]]]]
_recorded_ids: RecordedIds | None = None


def register_recorded_ids(function: RecordedIds) -> None:
    global _recorded_ids
    _recorded_ids = function


def recorded_evidence_ids(step_ids: Sequence[int]) -> dict[int, dict[str, dict[int, int]]]:
    """For steps whose hashed record names evidence by ids of another archive (a step imported
    from a bag keeps its original record and hash, while its links point at this archive's
    rows): ``{step_id: {"citations": {local_id: recorded_id}, "references": {...}}}``. Steps
    written here are absent: their recorded ids are the link rows' own ids."""
    if _recorded_ids is None or not step_ids:
        return {}
    return _recorded_ids(list(step_ids))


def localized(evidence_by_step: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The steps' snapshots with ``local_id`` added where a snapshot names a record of another
    archive (an imported step): the row that stands for it here, which visibility and revision
    checks must ask about (``access.visibility.evidence_for``, ``archive.evidence``). Steps
    written here come back unchanged. One query for all the steps."""
    ids = recorded_evidence_ids([k for k, ev in evidence_by_step.items() if any(ev.values())])
    out: dict[int, dict[str, Any]] = {}
    for step_id, evidence in evidence_by_step.items():
        recorded = ids.get(step_id)
        if not recorded:
            out[step_id] = evidence
            continue
        local = {kind: {o: k for k, o in pairs.items()} for kind, pairs in recorded.items()}

        def mark(kind: str, snap: dict[str, Any], local: dict[str, dict[int, int]] = local) -> Any:
            snap_id = snap.get("id")
            found = None if snap_id is None else local.get(kind, {}).get(snap_id)
            return snap if found is None else {**snap, "local_id": found}

        citations = []
        for c in evidence.get("citations", []):
            c = mark("citations", c)
            if isinstance(c.get("source"), dict):
                c = {**c, "source": mark("sources", c["source"])}
            citations.append(c)
        references = [mark("references", r) for r in evidence.get("references", [])]
        out[step_id] = {**evidence, "citations": citations, "references": references}
    return out


# --- catalogue identity of masters, for the exports (registered by the catalogue) ---------

IdentityProvider = Callable[[Sequence[int]], dict[int, dict[str, Any]]]
_identity: IdentityProvider | None = None


def register_identity_provider(function: IdentityProvider) -> None:
    global _identity
    _identity = function


def catalogue_identity(artifact_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The catalogue record of each master among ``artifact_ids`` (title, accession number,
    repository, rights statement, photographer, date, place, credit): what the exports carry
    as the master's identity. Empty without the catalogue."""
    if _identity is None or not artifact_ids:
        return {}
    return _identity(list(artifact_ids))


def evidence_used(step: Any, parts: Any) -> dict[str, list[dict[str, Any]]]:
    """What a step relied on, for the exports: its hashed snapshots (record version 2), or, for
    a version 1 step, the catalogue rows as they are now (all version 1 recorded were ids)."""
    if getattr(step, "record_version", 1) >= 2:
        ev = step.evidence or {}
        return {
            "citations": list(ev.get("citations", [])),
            "references": list(ev.get("references", [])),
        }
    return {
        "citations": [
            {
                "id": c.pk,
                "revision": None,
                "locator": c.locator,
                "quote": c.quote,
                "claim": c.claim,
                "confidence": c.confidence,
                "source": {
                    "id": c.source.pk,
                    "revision": None,
                    "kind": c.source.kind,
                    "title": c.source.title,
                    "author": c.source.author,
                    "date": c.source.date,
                    "repository": c.source.repository,
                },
            }
            for c in parts.citations
        ],
        "references": [
            {
                "id": r.pk,
                "revision": None,
                "sha256": r.artifact.sha256,
                "kind": r.kind,
                "title": r.title,
                "description": r.description,
            }
            for r in parts.references
        ],
    }
