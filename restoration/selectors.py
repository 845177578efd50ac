"""Reads of the lineage: the ancestor and descendant DAG of an artifact.

Both directions are one recursive CTE (SQLite and PostgreSQL alike), run once per graph inside
the artifacts' query; the artifact and step ids it yields then drive the other queries by id,
so the number of queries does not grow with the size of the DAG: artifacts, steps, step
inputs, step outputs, step citations, step references (six in all). Link rows are read as
tuples, not model instances; ``lineage_data`` reads the whole graph so, for a caller that only
needs ``as_dict()`` (the API's lineage route; issue 16: a 1,000-step lineage on PostgreSQL,
same run, 465 -> 69 ms alone in its database, 249 -> 116 ms among 10,000 photos). Id lists
are written into the SQL as integer literals (``ids_in``).
``UNION`` (not ``UNION ALL``) in the CTE visits each artifact once, so diamonds (one master used
as image and as reference, a mask derived from the same parent) stay linear.

A graph is closed over its steps: every input and output of an included step is included,
so an ancestor graph also holds a step's sibling outputs (e.g. a mask made beside the image)
and a descendant graph holds the other inputs of the steps that used the artifact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db.models import Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

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
        """Plain JSON-ready data for the API and the pages (``lineage_data`` builds the same
        from rows, without this graph's model instances)."""
        links = {
            pk: _StepLinkRows(
                inputs=[(i.artifact_id, i.role, i.position) for i in p.inputs],
                outputs=[(o.artifact_id, o.role) for o in p.outputs],
                citations=[c.pk for c in p.citations],
                references=[r.pk for r in p.references],
            )
            for pk, p in self.parts.items()
        }
        return _lineage_dict(
            self.root_id,
            self.direction,
            [_artifact_row(a) for a in self.artifacts.values()],
            [_step_row(s) for s in self.steps.values()],
            links,
        )


#: The columns of the lineage's artifact and step summaries, in ``values_list`` order.
ARTIFACT_COLUMNS = ("id", "sha256", "size", "media_type", "width", "height", "role")
ARTIFACT_ROW = (*ARTIFACT_COLUMNS, "generated_by_id")
STEP_ROW = (
    "id",
    "kind",
    "operation",
    "operation_version",
    "parameters",
    "model_sha256",
    "model_architecture",
    "software",
    "device",
    "seed",
    "actor",
    "on_behalf_of",
    "started_at",
    "ended_at",
    "rationale",
    "change_summary",
    "record_hash",
    "record_version",
    "identity",
    "identity_verdict",
)


def _artifact_row(artifact: Artifact) -> tuple[Any, ...]:
    return (*(getattr(artifact, f) for f in ARTIFACT_COLUMNS), artifact.generated_by_id)


def _step_row(step: Step) -> tuple[Any, ...]:
    return tuple(getattr(step, f) for f in STEP_ROW)


@dataclass
class _StepLinkRows:
    """A step's link rows as the summaries show them: (artifact, role, position) inputs,
    (artifact, role) outputs, citation and reference ids."""

    inputs: list[tuple[int, str, int]] = field(default_factory=list)
    outputs: list[tuple[int, str]] = field(default_factory=list)
    citations: list[int] = field(default_factory=list)
    references: list[int] = field(default_factory=list)


def _artifact_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    pk, sha256, size, media_type, width, height, role, generated_by = row
    return {
        "id": pk,
        "sha256": sha256,
        "size": size,
        "media_type": media_type,
        "width": width,
        "height": height,
        "role": role,
        "generated_by": generated_by,
    }


def _step_dict(row: tuple[Any, ...], links: _StepLinkRows) -> dict[str, Any]:
    (
        pk,
        kind,
        operation,
        operation_version,
        parameters,
        model_sha256,
        model_architecture,
        software,
        device,
        seed,
        actor,
        on_behalf_of,
        started_at,
        ended_at,
        rationale,
        change_summary,
        record_hash,
        record_version,
        identity,
        identity_verdict,
    ) = row
    return {
        "id": pk,
        "kind": kind,
        "operation": operation,
        "operation_version": operation_version,
        "parameters": parameters,
        "model": {"sha256": model_sha256, "architecture": model_architecture},
        "software": software,
        "device": device,
        "seed": seed,
        "actor": actor,
        "on_behalf_of": on_behalf_of,
        "started_at": started_at.isoformat(),
        "ended_at": ended_at.isoformat(),
        "rationale": rationale,
        "change_summary": change_summary,
        "record_hash": record_hash,
        "inputs": [{"artifact": a, "role": r, "position": p} for a, r, p in links.inputs],
        "outputs": [{"artifact": a, "role": r} for a, r in links.outputs],
        "citations": list(links.citations),
        "references": list(links.references),
        "record_version": record_version,
        "identity": identity_faces(identity),
        "identity_verdict": identity_verdict,
        "identity_check": identity_method(identity),
    }


def identity_faces(identity: Any) -> list[dict[str, Any]]:
    """A step's identity check as the API shows it: one entry per face."""
    faces = (identity or {}).get("faces") if isinstance(identity, dict) else None
    return list(faces or [])


def identity_method(identity: Any) -> dict[str, Any]:
    """How the identity was measured (method, models, thresholds), or why it was not."""
    if not isinstance(identity, dict):
        return {}
    return {k: v for k, v in identity.items() if k != "faces"}


def _lineage_dict(
    root_id: int,
    direction: Direction,
    artifacts: list[tuple[Any, ...]],
    steps: list[tuple[Any, ...]],
    links: dict[int, _StepLinkRows],
) -> dict[str, Any]:
    """The one shape of a lineage as data: artifacts and steps in id order, then the edges
    (per step: what it used, then what it generated) and the masters."""
    edges: list[dict[str, Any]] = []
    for step_id, link in links.items():
        edges += [
            {"kind": "used", "step": step_id, "artifact": a, "role": r, "position": p}
            for a, r, p in link.inputs
        ]
        edges += [
            {"kind": "generated", "step": step_id, "artifact": a, "role": r, "position": 0}
            for a, r in link.outputs
        ]
    return {
        "root": root_id,
        "direction": direction,
        "artifacts": [_artifact_dict(row) for row in artifacts],
        "steps": [_step_dict(row, links[row[0]]) for row in steps],
        "edges": edges,
        "masters": [row[0] for row in artifacts if row[-1] is None],
    }


def artifact_summary(artifact: Artifact) -> dict[str, Any]:
    return _artifact_dict(_artifact_row(artifact))


def step_summary(step: Step, parts: StepParts) -> dict[str, Any]:
    return _step_dict(
        _step_row(step),
        _StepLinkRows(
            inputs=[(i.artifact_id, i.role, i.position) for i in parts.inputs],
            outputs=[(o.artifact_id, o.role) for o in parts.outputs],
            citations=[c.pk for c in parts.citations],
            references=[r.pk for r in parts.references],
        ),
    )


def _ancestor_ids_sql(artifact_id: int) -> tuple[str, list[Any]]:
    a, si = Artifact._meta.db_table, StepInput._meta.db_table
    # CAST: PostgreSQL must know the seed's type for the recursive term to type-check.
    # The generating step is a scalar subquery by primary key, not a join with the artifacts:
    # joined, PostgreSQL may hash the one-row work table at every level and scan all artifacts
    # against it (a 1,000-step chain: 500 ms in this one query); as a subquery it is one
    # index lookup per artifact (6 ms; SQLite 7 ms -> 2 ms), and the same ids (issue 16).
    sql = (
        f"WITH RECURSIVE lineage_up(id) AS ("
        f" SELECT CAST(%s AS BIGINT)"
        f" UNION"
        f" SELECT si.artifact_id FROM lineage_up"
        f" JOIN {si} si ON si.step_id ="
        f" (SELECT art.generated_by_id FROM {a} art WHERE art.id = lineage_up.id)"
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


def ids_in(field_name: str, ids: Iterable[int]) -> Q:
    """``<field_name>__in=ids``, the ids written into the SQL as integer literals.

    Django prepares every element of an ``__in`` list on its own (a lookup per id, a
    parameter per id): a third of a 1,000-step lineage's time went there (issue 16). The ids
    are ``int``-converted here, so nothing but digits reaches the SQL; an empty list is the
    ordinary (empty) lookup."""
    literal = ",".join(str(int(pk)) for pk in ids)
    if not literal:
        return Q(**{f"{field_name}__in": []})
    return Q(**{f"{field_name}__in": RawSQL(literal, [])})


def _ids_q(field_name: str, ids: Iterable[int], sql: str, params: list[Any]) -> Q:
    ids = list(ids)
    if len(ids) > MAX_LITERAL_IDS:
        return Q(**{f"{field_name}__in": RawSQL(sql, params)})
    return ids_in(field_name, ids)


def _ancestor_step_filter(generated_by: dict[int, int | None], sql: str, params: list[Any]) -> Q:
    """The steps of an ancestor graph whose artifacts are ``generated_by`` (id: generating
    step id): those that made them, and the ingest steps of its masters."""
    # Masters have no generated_by (they are origins); their ingest steps come in through
    # StepOutput so that who ingested what, and when, is part of the lineage too.
    made_by = [step_id for step_id in generated_by.values() if step_id is not None]
    masters = [pk for pk, step_id in generated_by.items() if step_id is None]
    ingests = StepOutput.objects.filter(
        _ids_q("artifact_id", masters, sql, params), step__kind="ingest"
    ).values("step_id")
    if len(made_by) > MAX_LITERAL_IDS:
        return Q(
            id__in=Artifact.objects.filter(id__in=RawSQL(sql, params)).values("generated_by_id")
        ) | Q(id__in=ingests)
    return ids_in("id", made_by) | Q(id__in=ingests)


def _descendant_step_filter(artifact_ids: Iterable[int], sql: str, params: list[Any]) -> Q:
    """The steps of a descendant graph: those that used any of its artifacts."""
    used = StepInput.objects.filter(_ids_q("artifact_id", artifact_ids, sql, params))
    return Q(id__in=used.values("step_id"))


def lineage_ancestors(*, artifact_id: int) -> LineageGraph:
    """Everything the artifact was made from, back to the masters (6 queries).

    The recursive query runs once, inside the artifacts' query; steps and the four kinds of
    step links are then read by id. Raises ``Artifact.DoesNotExist`` for an unknown id."""
    sql, params = _ancestor_ids_sql(artifact_id)
    artifacts = _artifacts(artifact_id, Q(id__in=RawSQL(sql, params)))
    generated_by = {pk: a.generated_by_id for pk, a in artifacts.items()}
    step_filter = _ancestor_step_filter(generated_by, sql, params)
    return _graph(artifact_id, "ancestors", artifacts, step_filter)


def lineage_descendants(*, artifact_id: int) -> LineageGraph:
    """Everything made from the artifact, directly or not (6 queries; the recursive query
    runs once)."""
    sql, params = _descendant_ids_sql(artifact_id)
    artifacts = _artifacts(artifact_id, Q(id__in=RawSQL(sql, params)))
    step_filter = _descendant_step_filter(artifacts, sql, params)
    return _graph(artifact_id, "descendants", artifacts, step_filter)


def job_identity_verdicts(job_ids: Iterable[int]) -> dict[int, str]:
    """Per job, the worst identity verdict among its steps ("different" before "uncertain"
    before "same"; "unmeasured" only when nothing was measured); jobs without faces absent."""
    order = {"different": 0, "uncertain": 1, "same": 2, "unmeasured": 3}
    worst: dict[int, str] = {}
    rows = Step.objects.filter(job_id__in=list(job_ids)).exclude(identity_verdict="")
    for job_id, verdict in rows.values_list("job_id", "identity_verdict"):
        if job_id not in worst or order.get(verdict, 9) < order.get(worst[job_id], 9):
            worst[job_id] = verdict
    return worst


def changed_face_steps(*, artifact_id: int) -> list[Step]:
    """The steps in the artifact's making that judged a face "different person", in order."""
    graph = lineage_ancestors(artifact_id=artifact_id)
    return [s for s in graph.steps.values() if s.identity_verdict == "different"]


def lineage_graph(*, artifact_id: int, direction: Direction = "ancestors") -> LineageGraph:
    if direction == "ancestors":
        return lineage_ancestors(artifact_id=artifact_id)
    if direction == "descendants":
        return lineage_descendants(artifact_id=artifact_id)
    raise ValueError(f"direction must be 'ancestors' or 'descendants', not {direction!r}")


def lineage_data(*, artifact_id: int, direction: Direction = "ancestors") -> dict[str, Any]:
    """``lineage_graph(...).as_dict()``, read as rows (issue 16): the same queries by id, but
    no model instance (a Step decodes five JSON fields, an Artifact one, each row runs
    Django's model machinery), only the columns the summaries show, and link rows without
    the joins verify needs. For the API's lineage route, whose answer is just this data;
    ``tests/restoration/test_lineage_data.py`` holds it equal to ``as_dict``.
    Raises ``Artifact.DoesNotExist`` for an unknown id."""
    if direction == "ancestors":
        sql, params = _ancestor_ids_sql(artifact_id)
    elif direction == "descendants":
        sql, params = _descendant_ids_sql(artifact_id)
    else:
        raise ValueError(f"direction must be 'ancestors' or 'descendants', not {direction!r}")
    artifacts = {
        row[0]: row
        for row in Artifact.objects.filter(id__in=RawSQL(sql, params))
        .order_by("id")
        .values_list(*ARTIFACT_ROW)
    }
    if artifact_id not in artifacts:
        raise Artifact.DoesNotExist(f"no artifact with id {artifact_id}")
    if direction == "ancestors":
        generated_by = {pk: row[-1] for pk, row in artifacts.items()}
        step_filter = _ancestor_step_filter(generated_by, sql, params)
    else:
        step_filter = _descendant_step_filter(artifacts, sql, params)
    steps = _step_rows(Step.objects.filter(step_filter).order_by("id"))
    links: dict[int, _StepLinkRows] = {row[0]: _StepLinkRows() for row in steps}
    met: set[int] = set()
    for chunk in _chunks(list(links)):
        by_step = ids_in("step_id", chunk)
        for step_id, pk, role, position in (
            StepInput.objects.filter(by_step)
            .order_by("step_id", "role", "position")
            .values_list("step_id", "artifact_id", "role", "position")
        ):
            met.add(pk)
            links[step_id].inputs.append((pk, role, position))
        for step_id, pk, role in (
            StepOutput.objects.filter(by_step)
            .order_by("step_id", "role", "id")
            .values_list("step_id", "artifact_id", "role")
        ):
            met.add(pk)
            links[step_id].outputs.append((pk, role))
        for step_id, pk in (
            StepCitation.objects.filter(by_step)
            .order_by("step_id", "citation_id")
            .values_list("step_id", "citation_id")
        ):
            links[step_id].citations.append(pk)
        for step_id, pk in (
            StepReference.objects.filter(by_step)
            .order_by("step_id", "reference_id")
            .values_list("step_id", "reference_id")
        ):
            links[step_id].references.append(pk)
    unknown = sorted(met - artifacts.keys())
    if unknown:  # sibling outputs (a mask made beside the image), other inputs of a step
        for chunk in _chunks(unknown):
            for row in Artifact.objects.filter(ids_in("id", chunk)).values_list(*ARTIFACT_ROW):
                artifacts[row[0]] = row
    rows = [artifacts[pk] for pk in sorted(artifacts)]
    return _lineage_dict(artifact_id, direction, rows, steps, links)


#: The step columns that are JSON: read as text and decoded once per distinct value (the
#: software of most steps, the parameters of repeated operations are the same text).
_STEP_JSON = frozenset({"parameters", "software", "change_summary", "identity"})


def _step_rows(steps: QuerySet[Step]) -> list[tuple[Any, ...]]:
    """``steps.values_list(*STEP_ROW)``, each distinct JSON text decoded once. The decoded
    values are shared between rows: data to serialize, not to modify."""
    columns = [Cast(f, TextField()) if f in _STEP_JSON else f for f in STEP_ROW]
    at = [i for i, f in enumerate(STEP_ROW) if f in _STEP_JSON]
    decoded: dict[str, Any] = {}
    rows = []
    for row in steps.values_list(*columns):
        values = list(row)
        for i in at:
            text = values[i]
            if text is not None:
                if text not in decoded:
                    decoded[text] = json.loads(text)
                values[i] = decoded[text]
        rows.append(tuple(values))
    return rows


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
            ids_in("step_id", chunk), step_ids_known=chunk, known_artifacts=artifacts
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
        .order_by("step_id", "role", "id")
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
    for consulted in references:
        parts.setdefault(consulted.step_id, StepParts()).references.append(consulted.reference)
    with_evidence = [sid for sid, p in parts.items() if p.citations or p.references]
    if with_evidence:
        from restoration.evidence import recorded_evidence_ids

        for step_id, recorded in recorded_evidence_ids(with_evidence).items():
            parts[step_id].recorded_ids = recorded
    unknown = sorted(met - known.keys())
    extra = list(Artifact.objects.filter(ids_in("id", unknown)).order_by("id")) if unknown else []
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
