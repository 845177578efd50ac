"""Reads of the lineage: the ancestor and descendant DAG of an artifact.

Both directions are one recursive CTE (SQLite and PostgreSQL alike), run once per graph inside
the artifacts' query; the artifact and step ids it yields then drive the other queries by id,
so the number of queries does not grow with the size of the DAG: artifacts, steps, step
inputs, step outputs, step citations, step references (six in all). Link rows are read as
tuples, not model instances.
``UNION`` (not ``UNION ALL``) in the CTE visits each artifact once, so diamonds (one master used
as image and as reference, a mask derived from the same parent) stay linear.

A graph is closed over its steps: every input and output of an included step is included,
so an ancestor graph also holds a step's sibling outputs (e.g. a mask made beside the image)
and a descendant graph holds the other inputs of the steps that used the artifact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db.models import Q
from django.db.models.expressions import RawSQL

from restoration.hashing import InputRef, OutputRef, StepRecord, step_record_of
from restoration.models import (
    Artifact,
    Step,
    StepCitation,
    StepInput,
    StepOutput,
    StepReference,
)

Direction = Literal["ancestors", "descendants"]


@dataclass(frozen=True)
class InputLink:
    step_id: int
    artifact_id: int
    role: str
    position: int
    sha256: str
    generating_step_hash: str | None  # record_hash of the input's generated_by step, today


@dataclass(frozen=True)
class OutputLink:
    step_id: int
    artifact_id: int
    role: str
    sha256: str


@dataclass
class StepParts:
    """The rows around one step that its record_hash covers (plus catalogue details)."""

    inputs: list[InputLink] = field(default_factory=list)
    outputs: list[OutputLink] = field(default_factory=list)
    citations: list[Any] = field(default_factory=list)  # archive.Citation, with .source
    references: list[Any] = field(default_factory=list)  # archive.ReferenceImage, with .artifact
    # An imported step's hashed record names its evidence by the exporting archive's ids:
    # {"citations": {local_id: recorded_id}, "references": {...}} (restoration.evidence).
    recorded_ids: dict[str, dict[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    """``used``: the step read the artifact; ``generated``: the step produced it."""

    kind: Literal["used", "generated"]
    step_id: int
    artifact_id: int
    role: str
    position: int = 0


@dataclass
class LineageGraph:
    root_id: int
    direction: Direction
    artifacts: dict[int, Artifact]  # by id, ascending
    steps: dict[int, Step]  # by id, ascending: a topological order (inputs exist first)
    parts: dict[int, StepParts]  # by step id

    @property
    def root(self) -> Artifact:
        return self.artifacts[self.root_id]

    @property
    def edges(self) -> list[Edge]:
        edges: list[Edge] = []
        for step_id, parts in self.parts.items():
            edges += [
                Edge("used", step_id, i.artifact_id, i.role, i.position) for i in parts.inputs
            ]
            edges += [Edge("generated", step_id, o.artifact_id, o.role) for o in parts.outputs]
        return edges

    @property
    def masters(self) -> list[Artifact]:
        """Origins: artifacts no step generated (ingested masters, reference scans)."""
        return [a for a in self.artifacts.values() if a.generated_by_id is None]

    def ingest_step(self, artifact_id: int) -> Step | None:
        """The ingest step that recorded a master, when it is part of the graph."""
        for step_id, parts in self.parts.items():
            if self.steps[step_id].kind == "ingest" and any(
                o.artifact_id == artifact_id for o in parts.outputs
            ):
                return self.steps[step_id]
        return None

    def generating_step(self, artifact_id: int) -> Step | None:
        artifact = self.artifacts.get(artifact_id)
        if artifact is None or artifact.generated_by_id is None:
            return None
        return self.steps.get(artifact.generated_by_id)

    def record(self, step_id: int) -> StepRecord:
        return stored_step_record(self.steps[step_id], self.parts[step_id])

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data for the API and the pages."""
        return {
            "root": self.root_id,
            "direction": self.direction,
            "artifacts": [artifact_summary(a) for a in self.artifacts.values()],
            "steps": [step_summary(s, self.parts[s.pk]) for s in self.steps.values()],
            "edges": [
                {
                    "kind": e.kind,
                    "step": e.step_id,
                    "artifact": e.artifact_id,
                    "role": e.role,
                    "position": e.position,
                }
                for e in self.edges
            ],
            "masters": [a.pk for a in self.masters],
        }


def artifact_summary(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.pk,
        "sha256": artifact.sha256,
        "size": artifact.size,
        "media_type": artifact.media_type,
        "width": artifact.width,
        "height": artifact.height,
        "role": artifact.role,
        "generated_by": artifact.generated_by_id,
    }


def step_summary(step: Step, parts: StepParts) -> dict[str, Any]:
    return {
        "id": step.pk,
        "kind": step.kind,
        "operation": step.operation,
        "operation_version": step.operation_version,
        "parameters": step.parameters,
        "model": {"sha256": step.model_sha256, "architecture": step.model_architecture},
        "software": step.software,
        "device": step.device,
        "seed": step.seed,
        "actor": step.actor,
        "on_behalf_of": step.on_behalf_of,
        "started_at": step.started_at.isoformat(),
        "ended_at": step.ended_at.isoformat(),
        "rationale": step.rationale,
        "change_summary": step.change_summary,
        "record_hash": step.record_hash,
        "inputs": [
            {"artifact": i.artifact_id, "role": i.role, "position": i.position}
            for i in parts.inputs
        ],
        "outputs": [{"artifact": o.artifact_id, "role": o.role} for o in parts.outputs],
        "citations": [c.pk for c in parts.citations],
        "references": [r.pk for r in parts.references],
        "record_version": step.record_version,
    }


def _ancestor_ids_sql(artifact_id: int) -> tuple[str, list[Any]]:
    a, si = Artifact._meta.db_table, StepInput._meta.db_table
    # CAST: PostgreSQL must know the seed's type for the recursive term to type-check.
    sql = (
        f"WITH RECURSIVE lineage_up(id) AS ("
        f" SELECT CAST(%s AS BIGINT)"
        f" UNION"
        f" SELECT si.artifact_id FROM lineage_up"
        f" JOIN {a} art ON art.id = lineage_up.id"
        f" JOIN {si} si ON si.step_id = art.generated_by_id"
        f") SELECT id FROM lineage_up"
    )
    return sql, [artifact_id]


def _descendant_ids_sql(artifact_id: int) -> tuple[str, list[Any]]:
    si, so = StepInput._meta.db_table, StepOutput._meta.db_table
    sql = (
        f"WITH RECURSIVE lineage_down(id) AS ("
        f" SELECT CAST(%s AS BIGINT)"
        f" UNION"
        f" SELECT so.artifact_id FROM lineage_down"
        f" JOIN {si} si ON si.artifact_id = lineage_down.id"
        f" JOIN {so} so ON so.step_id = si.step_id"
        f") SELECT id FROM lineage_down"
    )
    return sql, [artifact_id]


#: Above this many ids a filter uses the recursive subquery instead of a literal list (SQLite
#: allows 32,766 parameters per statement).
MAX_LITERAL_IDS = 20_000


def _ids_q(field_name: str, ids: Iterable[int], sql: str, params: list[Any]) -> Q:
    ids = list(ids)
    if len(ids) > MAX_LITERAL_IDS:
        return Q(**{f"{field_name}__in": RawSQL(sql, params)})
    return Q(**{f"{field_name}__in": ids})


def lineage_ancestors(*, artifact_id: int) -> LineageGraph:
    """Everything the artifact was made from, back to the masters (6 queries).

    The recursive query runs once, inside the artifacts' query; steps and the four kinds of
    step links are then read by id. Raises ``Artifact.DoesNotExist`` for an unknown id."""
    sql, params = _ancestor_ids_sql(artifact_id)
    artifacts = _artifacts(artifact_id, Q(id__in=RawSQL(sql, params)))
    # Masters have no generated_by (they are origins); their ingest steps come in through
    # StepOutput so that who ingested what, and when, is part of the lineage too.
    made_by = [a.generated_by_id for a in artifacts.values() if a.generated_by_id is not None]
    masters = [pk for pk, a in artifacts.items() if a.generated_by_id is None]
    ingests = StepOutput.objects.filter(
        _ids_q("artifact_id", masters, sql, params), step__kind="ingest"
    ).values("step_id")
    step_filter = _ids_q("id", made_by, sql, params) | Q(id__in=ingests)
    if len(made_by) > MAX_LITERAL_IDS:
        step_filter = Q(
            id__in=Artifact.objects.filter(id__in=RawSQL(sql, params)).values("generated_by_id")
        ) | Q(id__in=ingests)
    return _graph(artifact_id, "ancestors", artifacts, step_filter)


def lineage_descendants(*, artifact_id: int) -> LineageGraph:
    """Everything made from the artifact, directly or not (6 queries; the recursive query
    runs once)."""
    sql, params = _descendant_ids_sql(artifact_id)
    artifacts = _artifacts(artifact_id, Q(id__in=RawSQL(sql, params)))
    used = StepInput.objects.filter(_ids_q("artifact_id", artifacts, sql, params))
    return _graph(artifact_id, "descendants", artifacts, Q(id__in=used.values("step_id")))


def lineage_graph(*, artifact_id: int, direction: Direction = "ancestors") -> LineageGraph:
    if direction == "ancestors":
        return lineage_ancestors(artifact_id=artifact_id)
    if direction == "descendants":
        return lineage_descendants(artifact_id=artifact_id)
    raise ValueError(f"direction must be 'ancestors' or 'descendants', not {direction!r}")


def _artifacts(artifact_id: int, artifact_filter: Q) -> dict[int, Artifact]:
    artifacts = {a.pk: a for a in Artifact.objects.filter(artifact_filter).order_by("id")}
    if artifact_id not in artifacts:
        raise Artifact.DoesNotExist(f"no artifact with id {artifact_id}")
    return artifacts


def _graph(
    artifact_id: int, direction: Direction, artifacts: dict[int, Artifact], step_filter: Q
) -> LineageGraph:
    steps = {
        s.pk: s for s in Step.objects.filter(step_filter).select_related("weights").order_by("id")
    }
    parts: dict[int, StepParts] = {}
    extra: list[Artifact] = []
    for chunk in _chunks(list(steps)):
        chunk_parts, chunk_extra = load_step_parts(
            Q(step_id__in=chunk), step_ids_known=chunk, known_artifacts=artifacts
        )
        parts.update(chunk_parts)
        extra += chunk_extra
    for artifact in extra:
        artifacts.setdefault(artifact.pk, artifact)
    artifacts = dict(sorted(artifacts.items()))
    return LineageGraph(
        root_id=artifact_id, direction=direction, artifacts=artifacts, steps=steps, parts=parts
    )


def _chunks(ids: list[int]) -> list[list[int]]:
    if not ids:
        return [[]]
    return [ids[i : i + MAX_LITERAL_IDS] for i in range(0, len(ids), MAX_LITERAL_IDS)]


def load_step_parts(
    step_filter: Q,
    *,
    step_ids_known: Iterable[int],
    known_artifacts: dict[int, Artifact] | None = None,
) -> tuple[dict[int, StepParts], list[Artifact]]:
    """Inputs, outputs, citations and references of a set of steps, in four queries (five
    when artifacts outside ``known_artifacts`` are met).

    ``step_filter`` is a Q over the link tables' ``step`` field. Link rows are read as tuples
    (no model instance per row: issue 16) and grouped here. Returns the parts by step id and
    the artifacts met on the way (inputs and outputs) that ``known_artifacts`` lacks, which
    the caller may merge."""
    parts: dict[int, StepParts] = {step_id: StepParts() for step_id in step_ids_known}
    known = known_artifacts if known_artifacts is not None else {}
    met: set[int] = set()
    inputs = (
        StepInput.objects.filter(step_filter)
        .order_by("step_id", "role", "position")
        .values_list(
            "step_id",
            "artifact_id",
            "role",
            "position",
            "artifact__sha256",
            "artifact__generated_by__record_hash",
        )
    )
    for step_id, artifact_id, role, position, sha256, generating_hash in inputs:
        met.add(artifact_id)
        parts.setdefault(step_id, StepParts()).inputs.append(
            InputLink(
                step_id=step_id,
                artifact_id=artifact_id,
                role=role,
                position=position,
                sha256=sha256,
                generating_step_hash=generating_hash,
            )
        )
    outputs = (
        StepOutput.objects.filter(step_filter)
        .order_by("step_id", "role")
        .values_list("step_id", "artifact_id", "role", "artifact__sha256")
    )
    for step_id, artifact_id, role, sha256 in outputs:
        met.add(artifact_id)
        parts.setdefault(step_id, StepParts()).outputs.append(
            OutputLink(step_id=step_id, artifact_id=artifact_id, role=role, sha256=sha256)
        )
    citations = (
        StepCitation.objects.filter(step_filter)
        .select_related("citation__source")
        .order_by("step_id", "citation_id")
    )
    for row in citations:
        parts.setdefault(row.step_id, StepParts()).citations.append(row.citation)
    references = (
        StepReference.objects.filter(step_filter)
        .select_related("reference__artifact")
        .order_by("step_id", "reference_id")
    )
    for row in references:
        parts.setdefault(row.step_id, StepParts()).references.append(row.reference)
    with_evidence = [sid for sid, p in parts.items() if p.citations or p.references]
    if with_evidence:
        from restoration.evidence import recorded_evidence_ids

        for step_id, recorded in recorded_evidence_ids(with_evidence).items():
            parts[step_id].recorded_ids = recorded
    unknown = sorted(met - known.keys())
    extra = list(Artifact.objects.filter(id__in=unknown).order_by("id")) if unknown else []
    return parts, extra


def stored_step_record(step: Step, parts: StepParts) -> StepRecord:
    """The step's record as the database holds it today, for re-hashing (``verify``).

    Built by ``restoration.hashing.step_record_of``, the same function ``step_record`` hashed
    it with: any difference between what was hashed then and what is stored now changes the
    hash."""
    return step_record_of(
        step,
        inputs=[
            InputRef(
                role=i.role, position=i.position, sha256=i.sha256, step_hash=i.generating_step_hash
            )
            for i in parts.inputs
        ],
        outputs=[OutputRef(role=o.role, sha256=o.sha256) for o in parts.outputs],
        citation_ids=[
            parts.recorded_ids.get("citations", {}).get(c.pk, c.pk) for c in parts.citations
        ],
        reference_ids=[
            parts.recorded_ids.get("references", {}).get(r.pk, r.pk) for r in parts.references
        ],
    )
