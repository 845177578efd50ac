"""Fixity audit of the lineage: re-hash files, recompute record hashes, check the chain.

Each problem is a dict with ``kind`` (one of ``PROBLEM_KINDS``), the ``artifact`` and/or
``step`` it concerns, ``expected``/``actual`` where there are values to compare, and a
``message`` a person can act on. Every run is recorded as an ``AuditRun``; reading the last
one (``last_audit``) writes nothing.

- ``file_missing``: the stored object of an artifact is gone.
- ``file_changed``: its bytes no longer hash to the artifact's sha256.
- ``frames_changed``: beside ``file_changed`` for a video (a film, a film step's output): the
  indices of the frames (``frames``, at most 50; ``changed_count`` in all) that no longer match
  the per-frame hash manifest recorded at ingest, or that the file no longer decodes.
- ``record_changed``: a step's stored fields (or its input/output/citation/reference rows, or
  the record_hash of an input's generating step) no longer hash to its ``record_hash``.
- ``chain_broken``: a link of the DAG cannot be trusted: a step used an artifact whose
  generating step does not verify, or an artifact names a generating step whose record does
  not list it as an output.

With the transparency log (issue 11; ``restoration.ledger``), ``verify --all`` also checks the
database against the log and the last *published* checkpoint (``manage.py checkpoint
export``), which catches what re-hashing alone cannot: a rewrite whose hashes were recomputed.

- ``record_rewritten``: a step, revision or audit run no longer has the hash the log (or the
  published checkpoint) holds for it.
- ``leaf_removed``: a logged record (e.g. a leaf step with its artifact) is gone, or the log
  lost entries the published checkpoint covers.
- ``audit_run_deleted``: a logged audit run is gone.
- ``log_rewritten``: the log itself no longer hashes to its head or to the published root.
- ``checkpoint_invalid``: the published checkpoint's signature does not verify.
- ``master_repointed`` (and other catalogue checks, registered by the catalogue): a photo's
  master is not the one its last logged revision names.
- ``orphan_file``: a stored object that no artifact names (reported; nothing is deleted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from restoration.exports import ancestor_graph
from restoration.hashing import json_safe
from restoration.ledger import (
    audit_run_hash,
    checkpoint_read,
    leaves_check,
    log_append,
    log_check,
)
from restoration.models import Artifact, AuditRun, Step, StepOutput
from restoration.selectors import LineageGraph, StepParts, load_step_parts, stored_step_record
from restoration.services import is_video, video_frames_verify
from restoration.storage import object_key, sha256_of_object
from restoration.users import User, recorded_user

PROBLEM_KINDS = (
    "file_missing",
    "file_changed",
    "frames_changed",
    "record_changed",
    "chain_broken",
    "record_rewritten",
    "leaf_removed",
    "audit_run_deleted",
    "log_rewritten",
    "checkpoint_invalid",
    "master_repointed",
    "catalogue_unrevised",
    "orphan_file",
)
# Checks of records outside the lineage core (the catalogue registers its own): each returns
# problems as (kind, message, where) triples.
ExtraCheck = Callable[[], list[tuple[str, str, dict[str, Any]]]]
_EXTRA_CHECKS: dict[str, ExtraCheck] = {}


def register_check(name: str, check: ExtraCheck) -> None:
    _EXTRA_CHECKS[name] = check


Progress = Callable[[int], None]  # called with the number of items just checked
STEP_BATCH = 500


@dataclass
class _Audit:
    problems: list[dict[str, Any]] = field(default_factory=list)
    checked: int = 0
    broken_steps: set[int] = field(default_factory=set)
    progress: Progress | None = None

    def tick(self) -> None:
        self.checked += 1
        if self.progress is not None:
            self.progress(1)

    def add(self, kind: str, message: str, **where: Any) -> None:
        self.problems.append({"kind": kind, **where, "message": message})


def _check_file(audit: _Audit, artifact: Artifact) -> None:
    actual = sha256_of_object(artifact.sha256)
    if actual is None:
        audit.add(
            "file_missing",
            f"artifact {artifact.pk}: stored file {artifact.storage_key} is missing",
            artifact=artifact.pk,
            expected=artifact.sha256,
            actual=None,
        )
    elif actual != artifact.sha256:
        audit.add(
            "file_changed",
            f"artifact {artifact.pk}: file bytes changed (sha256 expected {artifact.sha256}, "
            f"got {actual})",
            artifact=artifact.pk,
            expected=artifact.sha256,
            actual=actual,
        )
        _check_frames(audit, artifact)
    audit.tick()


def _check_frames(audit: _Audit, artifact: Artifact) -> None:
    """A video whose file changed: decode it and name the frames that no longer match the
    per-frame manifest recorded at ingest (``frames_changed``), or say that it no longer
    decodes. A file whose frames all still match (re-muxed) has only ``file_changed``."""
    if not is_video(artifact) or not (artifact.info or {}).get("manifest_sha256"):
        return
    try:
        report = video_frames_verify(artifact)
    except (OSError, ValueError) as exc:  # the manifest itself is gone or unreadable
        audit.add(
            "frames_changed",
            f"artifact {artifact.pk}: the frames cannot be compared: its per-frame manifest "
            f"cannot be read ({exc})",
            artifact=artifact.pk,
            frames=None,
        )
        return
    if report["ok"]:
        return
    parts = []
    if report["changed_count"]:
        named = ", ".join(map(str, report["changed"]))
        more = report["changed_count"] - len(report["changed"])
        parts.append(
            f"{report['changed_count']} of {report['expected_frames']} frames differ from the "
            f"per-frame manifest recorded at ingest: frame(s) {named}"
            + (f" and {more} more" if more > 0 else "")
        )
    if report["problem"]:
        parts.append(f"the stored video no longer decodes ({report['problem']})")
    elif report["frames"] != report["expected_frames"]:
        parts.append(f"{report['frames']} frames decoded")
    detail = "; ".join(parts)
    audit.add(
        "frames_changed",
        f"artifact {artifact.pk}: {detail}",
        artifact=artifact.pk,
        frames=report["changed"],
        changed_count=report["changed_count"],
        expected=report["expected_frames"],
        actual=report["frames"],
    )


def _check_step(
    audit: _Audit, step: Step, parts: StepParts, generated_by: dict[int, int | None]
) -> None:
    """``generated_by`` maps each input artifact id to its generating step id."""
    recomputed = stored_step_record(step, parts).record_hash()
    if recomputed != step.record_hash:
        upstream = sorted(
            {s for i in parts.inputs if (s := generated_by.get(i.artifact_id)) is not None}
        )
        hint = (
            f" (or the record_hash of input step(s) {', '.join(map(str, upstream))} was rewritten)"
            if upstream
            else ""
        )
        audit.add(
            "record_changed",
            f"step {step.pk} ({step.operation}): stored record no longer matches its "
            f"record_hash: a field, input, output, citation or reference was changed{hint}",
            step=step.pk,
            expected=step.record_hash,
            actual=recomputed,
        )
        audit.broken_steps.add(step.pk)
    for link in parts.inputs:
        upstream_id = generated_by.get(link.artifact_id)
        if upstream_id is not None and upstream_id in audit.broken_steps:
            audit.add(
                "chain_broken",
                f"step {step.pk} ({step.operation}) used artifact {link.artifact_id} "
                f"({link.role}) generated by step {upstream_id}, whose record does not verify",
                step=step.pk,
                artifact=link.artifact_id,
                upstream_step=upstream_id,
            )
            audit.broken_steps.add(step.pk)
    audit.tick()


def _check_generated_by(audit: _Audit, artifact: Artifact, parts: StepParts | None) -> None:
    if artifact.generated_by_id is None or parts is None:
        return
    if not any(o.artifact_id == artifact.pk for o in parts.outputs):
        _generated_by_broken(audit, artifact.pk, artifact.generated_by_id)


def _generated_by_broken(audit: _Audit, artifact_id: int, step_id: int) -> None:
    audit.add(
        "chain_broken",
        f"artifact {artifact_id} names step {step_id} as its generating step, but that "
        "step's record lists no such output",
        artifact=artifact_id,
        step=step_id,
    )


def _record_run(
    audit: _Audit,
    *,
    started_at: dt.datetime,
    scope: str,
    artifact: Artifact | None,
    user: User,
) -> dict[str, Any]:
    run = AuditRun(
        started_at=started_at,
        ended_at=dt.datetime.now(dt.UTC),
        scope=scope,
        artifact=artifact,
        user=recorded_user(user),
        ok=not audit.problems,
        checked=audit.checked,
        problems=json_safe(audit.problems),
    )
    run.record_hash = audit_run_hash(run)
    with transaction.atomic():
        run.save()
        # Logged, so that deleting or editing an audit run is named by the next verify.
        log_append(kind="audit", record_id=run.pk, record_hash=run.record_hash)
    return audit_report(run)


def audit_report(run: AuditRun) -> dict[str, Any]:
    """What a verify reports, for a run just made or read back (plain JSON data):
    ``{"ok", "checked", "problems", "audit_run", "started_at", "ended_at"}``."""
    return {
        "ok": run.ok,
        "checked": run.checked,
        "problems": run.problems,
        "audit_run": run.pk,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat(),
    }


def last_audit(*, artifact_id: int) -> AuditRun | None:
    """The latest verify of this artifact's lineage (a read: records nothing)."""
    return AuditRun.objects.filter(artifact_id=artifact_id, scope="artifact").first()


def artifact_verify(
    *,
    graph: LineageGraph | None = None,
    artifact_id: int | None = None,
    user: User = None,
    progress: Progress | None = None,
    checkpoint_path: Path | None = None,
) -> dict[str, Any]:
    """Verify the whole ancestor lineage of one artifact and record the run.

    ``graph`` is the lineage the caller already fetched (e.g. to check that the user may see
    it); without it, the graph of ``artifact_id`` is fetched here. Returns
    ``audit_report(run)``; ``checked`` counts files and step records. Raises
    ``Artifact.DoesNotExist`` for an unknown id."""
    started = dt.datetime.now(dt.UTC)
    graph = ancestor_graph(graph, artifact_id)
    audit = _Audit(progress=progress)
    for artifact in graph.artifacts.values():
        _check_file(audit, artifact)
        _check_generated_by(audit, artifact, graph.parts.get(artifact.generated_by_id or 0))
    generated_by = {a.pk: a.generated_by_id for a in graph.artifacts.values()}
    for step in graph.steps.values():
        _check_step(audit, step, graph.parts[step.pk], generated_by)
    # Each step's leaf, against the log and the last published checkpoint: a rewrite with
    # recomputed hashes, or a step written around the log, is named here too.
    published = checkpoint_read(checkpoint_path)
    steps = {step.pk: step.record_hash for step in graph.steps.values()}
    for problem in leaves_check("step", steps, published):
        audit.add(problem.kind, problem.message, **problem.where)
    return _record_run(audit, started_at=started, scope="artifact", artifact=graph.root, user=user)


def lineage_size(*, graph: LineageGraph | None = None) -> int:
    """How many items a verify of ``graph`` (or, without one, of the whole archive) will check
    (for progress bars)."""
    if graph is None:
        return Artifact.objects.count() + Step.objects.count()
    return len(graph.artifacts) + len(graph.steps)


def archive_verify_all(
    *,
    user: User = None,
    progress: Progress | None = None,
    checkpoint_path: Path | None = None,
) -> dict[str, Any]:
    """Verify every stored file and every step record of the archive and record the run.

    Memory stays bounded: steps are read in id order (a topological order) in batches, and only
    the ids of broken steps and the artifact -> generating step map are kept."""
    started = dt.datetime.now(dt.UTC)
    audit = _Audit(progress=progress)
    generated_by: dict[int, int | None] = {}
    for artifact in Artifact.objects.order_by("id").iterator(chunk_size=2000):
        generated_by[artifact.pk] = artifact.generated_by_id
        _check_file(audit, artifact)
    orphaned = Artifact.objects.filter(generated_by__isnull=False).exclude(
        Exists(
            StepOutput.objects.filter(
                step_id=OuterRef("generated_by_id"), artifact_id=OuterRef("id")
            )
        )
    )
    for artifact_id, step_id in orphaned.values_list("id", "generated_by_id"):
        _generated_by_broken(audit, artifact_id, step_id)
    for batch in _step_batches():
        parts, _ = load_step_parts(
            Q(step_id__in=[s.pk for s in batch]), step_ids_known=[s.pk for s in batch]
        )
        for step in batch:
            _check_step(audit, step, parts[step.pk], generated_by)
    _check_log(audit, published=checkpoint_read(checkpoint_path))
    for check in _EXTRA_CHECKS.values():
        for kind, message, where in check():
            audit.add(kind, message, **where)
    _check_orphans(audit)
    return _record_run(audit, started_at=started, scope="all", artifact=None, user=user)


def _check_log(audit: _Audit, *, published: dict[str, Any] | None) -> None:
    for problem in log_check(published):
        audit.add(problem.kind, problem.message, **problem.where)


def _check_orphans(audit: _Audit) -> None:
    """Stored objects that no artifact names (left by a deleted record, or put there by hand)."""
    for batch in _batched(_stored_object_names(), 500):
        known = set(Artifact.objects.filter(sha256__in=batch).values_list("sha256", flat=True))
        for sha in batch:
            if sha not in known:
                audit.add(
                    "orphan_file",
                    f"stored file {object_key(sha)} belongs to no artifact (an orphan: a "
                    "deleted record's file, or one put there by hand)",
                    file=object_key(sha),
                )


def _stored_object_names() -> Iterable[str]:
    try:
        tops, _ = default_storage.listdir("objects")
    except (FileNotFoundError, NotImplementedError, OSError):
        return
    for top in sorted(tops):
        subs, _ = default_storage.listdir(f"objects/{top}")
        for sub in sorted(subs):
            _, files = default_storage.listdir(f"objects/{top}/{sub}")
            for name in sorted(files):
                if len(name) == 64 and name.startswith(top + sub):
                    yield name


def _batched(items: Iterable[str], size: int) -> Iterable[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _step_batches() -> Iterable[list[Step]]:
    last = 0
    while True:
        batch = list(Step.objects.filter(id__gt=last).order_by("id")[:STEP_BATCH])
        if not batch:
            return
        yield batch
        last = batch[-1].pk
