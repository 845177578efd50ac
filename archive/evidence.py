"""Evidence snapshots for the lineage core (registered with ``restoration.evidence`` by
``archive.apps``): citations with their sources, reference images with their file's hash, as
they are in the transaction that writes the step (rows locked, so no edit falls between), each
with its revision number. Also: which evidence has been revised since a step used it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archive.models import Citation, ReferenceImage
from archive.revisions import latest_numbers


def citation_snapshot(citation: Citation, revision: int, source_revision: int) -> dict[str, Any]:
    source = citation.source
    return {
        "id": citation.pk,
        "revision": revision,
        "locator": citation.locator,
        "quote": citation.quote,
        "claim": citation.claim,
        "confidence": citation.confidence,
        "source": {
            "id": source.pk,
            "revision": source_revision,
            "kind": source.kind,
            "title": source.title,
            "author": source.author,
            "date": source.date,
            "repository": source.repository,
        },
    }


def reference_snapshot(reference: ReferenceImage, revision: int) -> dict[str, Any]:
    return {
        "id": reference.pk,
        "revision": revision,
        "sha256": reference.artifact.sha256,
        "kind": reference.kind,
        "title": reference.title,
        "description": reference.description,
    }


def snapshot(
    citation_ids: Sequence[int], reference_ids: Sequence[int]
) -> dict[str, list[dict[str, Any]]]:
    citations = list(
        Citation.objects.select_for_update()
        .select_related("source")
        .filter(pk__in=citation_ids)
        .order_by("pk")
    )
    references = list(
        ReferenceImage.objects.select_for_update()
        .select_related("artifact")
        .filter(pk__in=reference_ids)
        .order_by("pk")
    )
    c_rev = latest_numbers("citation", [c.pk for c in citations])
    s_rev = latest_numbers("source", {c.source_id for c in citations})
    r_rev = latest_numbers("reference", [r.pk for r in references])
    return {
        "citations": [
            citation_snapshot(c, c_rev.get(c.pk, 0), s_rev.get(c.source_id, 0)) for c in citations
        ],
        "references": [reference_snapshot(r, r_rev.get(r.pk, 0)) for r in references],
    }


def evidence_status(evidence: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The step's snapshots, each with ``current_revision`` and ``revised`` (a newer revision
    of the record, or of a citation's source, exists: the catalogue changed since the step)."""
    citations = evidence.get("citations", [])
    references = evidence.get("references", [])
    c_rev = latest_numbers("citation", [_here(c) for c in citations])
    s_rev = latest_numbers("source", {_here(c["source"]) for c in citations})
    r_rev = latest_numbers("reference", [_here(r) for r in references])
    out_c = []
    for c in citations:
        now, src_now = c_rev.get(_here(c), 0), s_rev.get(_here(c["source"]), 0)
        out_c.append(
            {
                **c,
                "current_revision": now,
                "source_current_revision": src_now,
                "revised": now > _used(c) or src_now > _used(c["source"]),
            }
        )
    out_r = []
    for r in references:
        now = r_rev.get(_here(r), 0)
        out_r.append({**r, "current_revision": now, "revised": now > _used(r)})
    return {"citations": out_c, "references": out_r}


def _here(snapshot: dict[str, Any]) -> Any:
    """The row that stands for the snapshot's record here: ``local_id`` for a step imported
    from another archive (``restoration.evidence.localized``), else the id it names."""
    return snapshot.get("local_id", snapshot["id"])


def _used(snapshot: dict[str, Any]) -> int:
    """The revision the step used, in this archive's numbering: an imported record was
    recreated here as revision 1 (its revision there is in the snapshot)."""
    return 1 if "local_id" in snapshot else int(snapshot["revision"] or 0)


def master_identities(artifact_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The catalogue identity of masters (for PROV and C2PA): a photo's title, accession
    number, holding repository, rights statement, photographer, date and place."""
    from archive.models import Photo

    out: dict[int, dict[str, Any]] = {}
    for photo in Photo.objects.filter(master_id__in=list(artifact_ids)):
        out[photo.master_id] = {
            "record": f"photo {photo.pk}",
            "title": photo.title,
            "accession_number": photo.accession_number,
            "repository": photo.repository,
            "rights": photo.rights_statement,
            "photographer": photo.photographer,
            "date": photo.date,
            "place": photo.place,
            "carrier": photo.carrier,
        }
    return out
