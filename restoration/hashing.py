"""The lineage hashing rule. docs/lineage.md states it in words; this is the one implementation.

``record_hash = sha256(canonical_json(step_record(step)))`` where canonical JSON is UTF-8,
keys sorted, no insignificant whitespace, non-ASCII kept as is, NaN/Infinity refused.
Changing anything here changes every hash: bump ``RECORD_VERSION`` and say so loudly.

RECORD VERSION 2 (issue 11): a step's record also holds ``evidence``, a snapshot of every
citation (with its source) and reference image the step relied on, taken in the transaction
that wrote the step. A version 1 record (written before) is rebuilt and verified under its own
rule, without that key: each step stores the version it was hashed under.

RECORD VERSION 3 (issue 22): a step's record also holds ``identity``, the identity check of the
faces its input shows (engine/identity.py: per face the boxes in input and output, the embedding
distance and the verdict, with the method, the model files' sha256 and the thresholds' version).
Version 1 and 2 records keep verifying under their own rules, without that key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

RECORD_VERSION = 3
RECORD_VERSIONS = (1, 2, 3)  # every rule verify still knows


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_time(value: dt.datetime) -> str:
    """UTC, microseconds always present, 'Z' suffix: 2026-11-23T19:40:00.000000Z."""
    if value.tzinfo is None:
        raise ValueError("naive datetime in a lineage record")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class InputRef:
    role: str
    position: int
    sha256: str
    step_hash: str | None  # record_hash of the step that generated the input; None for masters


@dataclass(frozen=True)
class OutputRef:
    role: str
    sha256: str


@dataclass(frozen=True)
class StepRecord:
    kind: str
    operation: str
    operation_version: str
    parameters: dict[str, Any]
    model_sha256: str
    model_architecture: str
    software: dict[str, Any]
    device: str
    seed: int | None
    actor: str
    on_behalf_of: str
    started_at: dt.datetime
    ended_at: dt.datetime
    rationale: str
    citation_ids: Sequence[int]
    reference_ids: Sequence[int]
    inputs: Sequence[InputRef]
    outputs: Sequence[OutputRef]
    run_record: dict[str, Any]
    change_summary: dict[str, Any]
    record_version: int = RECORD_VERSION
    # Version 2: {"citations": [snapshot, ...], "references": [snapshot, ...]}, by id.
    evidence: dict[str, Any] | None = None
    # Version 3: the identity check ({} when none was made: no face, or checking turned off).
    identity: dict[str, Any] | None = None

    def as_canonical_dict(self) -> dict[str, Any]:
        if self.record_version not in RECORD_VERSIONS:
            raise ValueError(f"unknown record version {self.record_version}")
        record = {
            "record_version": self.record_version,
            "kind": self.kind,
            "operation": self.operation,
            "operation_version": self.operation_version,
            "parameters": self.parameters,
            "model": {"sha256": self.model_sha256, "architecture": self.model_architecture},
            "software": self.software,
            "device": self.device,
            "seed": self.seed,
            "actor": self.actor,
            "on_behalf_of": self.on_behalf_of,
            "started_at": canonical_time(self.started_at),
            "ended_at": canonical_time(self.ended_at),
            "rationale": self.rationale,
            # Sets, not lists: the link rows are unique, so duplicates must not reach the hash.
            "citations": sorted(set(self.citation_ids)),
            "references": sorted(set(self.reference_ids)),
            "inputs": [
                {"role": i.role, "position": i.position, "sha256": i.sha256, "step": i.step_hash}
                for i in sorted(self.inputs, key=lambda i: (i.role, i.position))
            ],
            "outputs": [
                {"role": o.role, "sha256": o.sha256}
                for o in sorted(self.outputs, key=lambda o: (o.role, o.sha256))
            ],
            "run": self.run_record,
            "change_summary": self.change_summary,
        }
        if self.record_version >= 2:
            evidence = self.evidence or {}
            record["evidence"] = {
                "citations": sorted(evidence.get("citations", []), key=lambda c: c["id"]),
                "references": sorted(evidence.get("references", []), key=lambda r: r["id"]),
            }
        if self.record_version >= 3:
            record["identity"] = self.identity or {}
        return record

    def record_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.as_canonical_dict())).hexdigest()


class StepFields(Protocol):
    """The hashed fields of a step: a ``restoration.models.Step``, saved or about to be."""

    kind: str
    operation: str
    operation_version: str
    parameters: Any
    model_sha256: str
    model_architecture: str
    software: Any
    device: str
    seed: int | None
    actor: str
    on_behalf_of: str
    started_at: dt.datetime
    ended_at: dt.datetime
    rationale: str
    run_record: Any
    change_summary: Any
    record_version: int
    evidence: Any
    identity: Any


def step_record_of(
    step: StepFields,
    *,
    inputs: Sequence[InputRef],
    outputs: Sequence[OutputRef],
    citation_ids: Sequence[int],
    reference_ids: Sequence[int],
) -> StepRecord:
    """The one construction of a step's record from the step's fields and its links.

    ``step_record`` hashes what it is about to write with it and ``verify`` rebuilds the record
    from what the database holds with it: the two cannot drift, so any difference between what
    was hashed then and what is stored now is a change to the data, never to the code."""
    return StepRecord(
        kind=step.kind,
        operation=step.operation,
        operation_version=step.operation_version,
        parameters=step.parameters,
        model_sha256=step.model_sha256,
        model_architecture=step.model_architecture,
        software=step.software,
        device=step.device,
        seed=step.seed,
        actor=step.actor,
        on_behalf_of=step.on_behalf_of,
        started_at=step.started_at,
        ended_at=step.ended_at,
        rationale=step.rationale,
        citation_ids=list(citation_ids),
        reference_ids=list(reference_ids),
        inputs=list(inputs),
        outputs=list(outputs),
        run_record=step.run_record,
        change_summary=step.change_summary,
        record_version=step.record_version,
        evidence=step.evidence if step.record_version >= 2 else None,
        identity=step.identity if step.record_version >= 3 else None,
    )


def json_safe(value: Any) -> Any:
    """Make engine output storable in a hashed record: no NaN/inf, tuples to lists, numpy to
    Python scalars (the record must read back from the database exactly as it was hashed)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        # Python writes these as 1e+16 but PostgreSQL's jsonb gives them back as integers;
        # store the integer so the record reads back exactly as it was hashed.
        if abs(value) >= 1e16:
            return int(value)
        return float(value)
    if hasattr(value, "item"):  # numpy scalar
        return json_safe(value.item())
    return str(value)
