"""Writes of the lineage core. Each function is atomic and writes its lineage in the same
transaction; files are stored before the transaction and removed again if it rolls back."""

from __future__ import annotations

import datetime as dt
import io
import platform
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from restoration import imagefile
from restoration.hashing import InputRef, OutputRef, json_safe, step_record_of
from restoration.models import (
    Artifact,
    ModelWeights,
    Step,
    StepCitation,
    StepInput,
    StepOutput,
    StepReference,
)
from restoration.storage import (
    delete_object,
    object_key,
    preview_key,
    sha256_of_stream,
    store_object,
)

PROJECT_VERSION = "0.1.0"
INGEST_VERSION = "1.0"


def project_software_versions() -> dict[str, str]:
    """Versions of the software that ran a step (the engine adds torch/opencv/... for its ops)."""
    import django
    import numpy
    import PIL

    return {
        "project": PROJECT_VERSION,
        "python": platform.python_version(),
        "django": django.get_version(),
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
    }


@dataclass
class NewOutput:
    """A file a step produced, already hashed and stored, with what we know of it."""

    role: str
    sha256: str
    size: int
    media_type: str
    width: int
    height: int
    mode: str = ""
    bit_depth: int = 8
    has_icc_profile: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    created_file: bool = False  # this call stored it: remove it again on rollback
    # Bytes not stored yet (an upload): ``step_record`` stores them only after its insert of
    # the Artifact row succeeded, so concurrent writers of the same bytes are serialised by
    # the unique sha256 and a loser never writes (or removes) the winner's file.
    source: IO[bytes] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class NewInput:
    role: str
    artifact: Artifact
    position: int = 0


@contextmanager
def spooled_upload(stream: IO[bytes], *, max_bytes: int) -> Iterator[tuple[IO[bytes], str, int]]:
    """Copy an incoming stream to a named temporary file while hashing it, refusing oversize
    input as soon as the limit is passed (no need to receive the rest).

    The file is named so that local storage can hard-link it into place instead of copying."""
    import hashlib

    digest = hashlib.sha256()
    size = 0
    tmp_dir = Path(settings.ARCHIVE_DATA_DIR) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="upload-") as tmp:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            size += len(chunk)
            if size > max_bytes:
                raise imagefile.ImageRejected(
                    f"the file is larger than the upload limit of {max_bytes / 1024 / 1024:,.0f} MiB",
                    code="too_large",
                )
            digest.update(chunk)
            tmp.write(chunk)
        tmp.flush()
        tmp.seek(0)
        yield tmp, digest.hexdigest(), size


def output_from_array(array: Any, *, role: str = "image") -> NewOutput:
    """Encode an engine output as PNG, store it content-addressed, describe it."""
    data = imagefile.encode_png(array)
    sha, size = sha256_of_stream(io.BytesIO(data))
    stored = store_object(sha, io.BytesIO(data))
    height, width = array.shape[:2]
    mode = "L" if array.ndim == 2 else "RGB"
    if array.dtype.itemsize == 2:
        mode = "I;16"
    return NewOutput(
        role=role,
        sha256=sha,
        size=size,
        media_type="image/png",
        width=int(width),
        height=int(height),
        mode=mode,
        bit_depth=8 * array.dtype.itemsize,
        created_file=stored.created,
    )


def discard_outputs(outputs: Sequence[NewOutput]) -> None:
    """Undo the file writes of a step whose record was not written (never leave orphans)."""
    for output in outputs:
        if output.created_file and not Artifact.objects.filter(sha256=output.sha256).exists():
            delete_object(object_key(output.sha256))


def _unstore_pending(outputs: Sequence[NewOutput]) -> None:
    """Remove the files ``step_record`` stored from pending sources in a transaction that is
    rolling back. Called inside that transaction: its Artifact insert still holds the sha256,
    so no other writer can have adopted the file."""
    for output in outputs:
        if output.source is not None and output.created_file:
            delete_object(object_key(output.sha256))
            output.created_file = False


class ArtifactExists(Exception):
    """An ``ingest`` step met bytes that are already an artifact (possibly stored by a racing
    ingest a moment ago): the ingest is a duplicate, reported with the existing artifact."""

    def __init__(self, artifact: Artifact) -> None:
        super().__init__(f"the file is already artifact {artifact.pk}")
        self.artifact = artifact


def step_record(
    *,
    kind: str,
    operation: str,
    operation_version: str,
    parameters: dict[str, Any],
    inputs: Sequence[NewInput],
    outputs: Sequence[NewOutput],
    started_at: dt.datetime,
    ended_at: dt.datetime,
    user: AbstractBaseUser | None = None,
    on_behalf_of: str = "",
    weights: ModelWeights | None = None,
    software: dict[str, Any] | None = None,
    device: str = "",
    seed: int | None = None,
    rationale: str = "",
    citation_ids: Sequence[int] = (),
    reference_ids: Sequence[int] = (),
    run_record: dict[str, Any] | None = None,
    change_summary: dict[str, Any] | None = None,
    job_id: int | None = None,
    job_index: int | None = None,
) -> Step:
    """Append one Step with its inputs, outputs, citations and references, hashing the record.

    Returns the step with its outputs: ``step.produced.all()`` (and ``step.output(role)``)
    answer from memory. Outputs are either already stored (``output_from_array``; if this
    raises, the caller should ``discard_outputs``, as ``step_record_or_discard`` does) or
    pending (``NewOutput.source``: stored here, after the Artifact row is inserted, and removed
    again if this transaction fails). An ``ingest`` step whose bytes are already an artifact
    raises ``ArtifactExists``.
    """
    step = Step(
        kind=kind,
        operation=operation,
        operation_version=operation_version,
        parameters=json_safe(parameters),
        weights=weights,
        model_sha256=weights.sha256 if weights else "",
        model_architecture=weights.architecture if weights else "",
        software=json_safe(software if software is not None else project_software_versions()),
        device=device,
        seed=seed,
        user=user if user is not None and user.pk else None,
        actor=user.get_username() if user is not None else "",
        on_behalf_of=on_behalf_of,
        started_at=started_at,
        ended_at=ended_at,
        rationale=rationale,
        run_record=json_safe(run_record or {}),
        change_summary=json_safe(change_summary or {}),
        job_id=job_id,
        job_index=job_index,
    )
    record = step_record_of(
        step,
        inputs=[
            InputRef(
                role=i.role,
                position=i.position,
                sha256=i.artifact.sha256,
                step_hash=_generating_step_hash(i.artifact),
            )
            for i in inputs
        ],
        outputs=[OutputRef(role=o.role, sha256=o.sha256) for o in outputs],
        citation_ids=citation_ids,
        reference_ids=reference_ids,
    )
    step.record_hash = record.record_hash()
    links: list[StepOutput] = []
    with transaction.atomic():
        try:
            step.save()
            for i in inputs:
                StepInput(step=step, artifact=i.artifact, role=i.role, position=i.position).save()
            for o in outputs:
                link = StepOutput(step=step, artifact=_artifact_for_output(o, step), role=o.role)
                link.save()
                links.append(link)
            for citation_id in sorted(set(citation_ids)):
                StepCitation(step=step, citation_id=citation_id).save()
            for reference_id in sorted(set(reference_ids)):
                StepReference(step=step, reference_id=reference_id).save()
        except BaseException:
            _unstore_pending(outputs)
            raise
    _prefetched(step, "produced", links)
    return step


def _prefetched(instance: Any, name: str, rows: list[Any]) -> None:
    """Cache ``rows`` as ``instance.<name>.all()``, exactly as ``prefetch_related`` does, so
    the caller finds what was just written without a query (filters still query)."""
    queryset = getattr(instance, name).all()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    instance._prefetched_objects_cache = {name: queryset}


def _generating_step_hash(artifact: Artifact) -> str | None:
    if artifact.generated_by_id is None:
        return None
    return Step.objects.values_list("record_hash", flat=True).get(pk=artifact.generated_by_id)


def _artifact_for_output(output: NewOutput, step: Step) -> Artifact:
    """The artifact for an output's bytes: the existing one, or a new one made by ``step``.

    Two steps may produce the same bytes at the same moment (two jobs, same input and
    pipeline; two uploads of one scan). The unique sha256 decides: the loser's insert fails
    inside a savepoint (on PostgreSQL after waiting for the winner's commit) and it links the
    winner's artifact, or, for an ``ingest``, raises ``ArtifactExists``: the same file twice is
    a duplicate, never a second origin."""
    existing = _existing_artifact(output.sha256)
    if existing is not None:
        if step.kind == Step.Kind.INGEST:
            raise ArtifactExists(existing)
        return existing
    artifact = Artifact(
        sha256=output.sha256,
        size=output.size,
        media_type=output.media_type,
        width=output.width,
        height=output.height,
        mode=output.mode,
        bit_depth=output.bit_depth,
        has_icc_profile=output.has_icc_profile,
        role=output.role,
        info=json_safe(output.info),
        # A master is an origin, not a derivation: the ingest step is linked by StepOutput only.
        generated_by=None if step.kind == Step.Kind.INGEST else step,
    )
    try:
        with transaction.atomic():
            artifact.save()
    except IntegrityError:
        winner = _existing_artifact(output.sha256)
        if winner is None:
            raise
        if step.kind == Step.Kind.INGEST:
            raise ArtifactExists(winner) from None
        return winner
    if output.source is not None:
        # Stored only now that this transaction holds the sha256 (see NewOutput.source).
        output.created_file = store_object(output.sha256, output.source).created
    return artifact


def _existing_artifact(sha256: str) -> Artifact | None:
    return Artifact.objects.filter(sha256=sha256).first()


def step_record_or_discard(*, outputs: Sequence[NewOutput], **kwargs: Any) -> Step:
    """``step_record``, removing the freshly stored output files if the record fails."""
    try:
        return step_record(outputs=outputs, **kwargs)
    except BaseException:
        discard_outputs(outputs)
        raise


# --- ingest: the one way a file enters the archive -------------------------------------------


@dataclass(frozen=True)
class AcceptedFile:
    """An upload that passed validation: spooled to a named temporary file and hashed."""

    file: IO[bytes]
    sha256: str
    size: int
    filename: str
    facts: imagefile.ImageFacts


@dataclass(frozen=True)
class Derivation:
    """The step that made an uploaded file when it is not an origin (a manual retouch); the
    file becomes that step's output instead of a master recorded by an ``ingest`` step."""

    kind: str
    operation: str
    operation_version: str
    parameters: dict[str, Any]
    inputs: Sequence[NewInput]
    rationale: str = ""
    citation_ids: Sequence[int] = ()
    reference_ids: Sequence[int] = ()
    on_behalf_of: str = ""
    change_summary: dict[str, Any] | None = None


@dataclass(frozen=True)
class IngestResult:
    """``artifact`` holds the bytes; ``step`` recorded them (None for a duplicate, which wrote
    nothing); ``catalogued`` is what the caller's ``catalogue`` hook returned."""

    artifact: Artifact
    step: Step | None
    duplicate: bool
    catalogued: Any = None
    notes: tuple[str, ...] = ()


def upload_check(*, stream: IO[bytes], filename: str) -> str:
    """Validate an upload without storing anything and return its sha256 (a form's early
    answer). Ingest applies the very same checks again: this is a convenience, not the guard."""
    with _accepted(stream=stream, filename=filename) as (tmp, sha, size):
        _inspect(tmp, size)
    return sha


def artifact_ingest(
    *,
    stream: IO[bytes],
    filename: str,
    user: AbstractBaseUser | None,
    parameters: Mapping[str, Any] | None = None,
    derive: Callable[[AcceptedFile], Derivation] | None = None,
    catalogue: Callable[[Artifact, Step, imagefile.ImageFacts], Any] | None = None,
) -> IngestResult:
    """Ingest any file: validate, hash, store content-addressed, and record the Artifact with
    the step that brought it in, all or nothing.

    Without ``derive`` the file is an origin (master scan, reference image), recorded by an
    ``ingest`` step whose parameters are what was read from the file plus ``parameters``; the
    same bytes again are a duplicate (``duplicate=True``, the existing artifact, nothing
    written), also when two uploads race: the unique sha256 lets one insert win and the other
    report the duplicate. With ``derive`` (called with the validated file, before any write)
    the file is the output of the step it describes; bytes already in the archive are linked.
    ``catalogue(artifact, step, facts)`` adds the caller's rows (a Photo, a ReferenceImage) in
    the same transaction. Raises ``ImageRejected`` for a file that is not a sound image; on any
    failure nothing stays behind, neither rows nor file.

    Call it outside a transaction: the file is removed again only when *this* transaction
    fails; an enclosing one rolled back later would leave the file behind (harmless, never
    missing: a file is written only after its row)."""
    started = now()
    with _accepted(stream=stream, filename=filename) as (tmp, sha, size):
        if derive is None and (existing := _existing_artifact(sha)) is not None:
            return _duplicate(existing)  # the cheap answer: no decode for a known file
        facts = _inspect(tmp, size, preview=True)
        accepted = AcceptedFile(file=tmp, sha256=sha, size=size, filename=filename, facts=facts)
        how = (
            derive(accepted)
            if derive is not None
            else _ingest_derivation(facts, filename, parameters)
        )
        output = NewOutput(
            role="image",
            sha256=sha,
            size=size,
            media_type=facts.media_type,
            width=facts.width,
            height=facts.height,
            mode=facts.mode,
            bit_depth=facts.bit_depth,
            has_icc_profile=facts.has_icc_profile,
            info={"format": facts.format, "pages": facts.pages, "notes": facts.notes},
            source=tmp,
        )
        try:
            with transaction.atomic():
                step = step_record(
                    kind=how.kind,
                    operation=how.operation,
                    operation_version=how.operation_version,
                    parameters=how.parameters,
                    inputs=how.inputs,
                    outputs=[output],
                    started_at=started,
                    ended_at=now(),
                    user=user,
                    on_behalf_of=how.on_behalf_of,
                    rationale=how.rationale,
                    citation_ids=how.citation_ids,
                    reference_ids=how.reference_ids,
                    change_summary=how.change_summary,
                )
                artifact = step.produced.all()[0].artifact
                try:
                    catalogued = catalogue(artifact, step, facts) if catalogue else None
                except BaseException:
                    _unstore_pending([output])
                    raise
        except ArtifactExists as exc:
            return _duplicate(Artifact.objects.get(pk=exc.artifact.pk))
    if facts.preview:
        with suppress(OSError):  # a preview is a convenience, made again on demand
            preview_store(sha, facts.preview)
    return IngestResult(
        artifact=artifact,
        step=step,
        duplicate=False,
        catalogued=catalogued,
        notes=tuple(facts.notes),
    )


@contextmanager
def _accepted(*, stream: IO[bytes], filename: str) -> Iterator[tuple[IO[bytes], str, int]]:
    imagefile.check_filename(filename)
    with spooled_upload(stream, max_bytes=settings.ARCHIVE_MAX_UPLOAD_BYTES) as spooled:
        yield spooled


def _inspect(tmp: IO[bytes], size: int, *, preview: bool = False) -> imagefile.ImageFacts:
    """The one validation rule for files entering the archive (header, pixel budget, decode)."""
    return imagefile.inspect_image(
        tmp,
        size=size,
        max_pixels=settings.ARCHIVE_MAX_PIXELS,
        preview_side=settings.ARCHIVE_PREVIEW_SIZE if preview else None,
    )


def _ingest_derivation(
    facts: imagefile.ImageFacts, filename: str, parameters: Mapping[str, Any] | None
) -> Derivation:
    return Derivation(
        kind=Step.Kind.INGEST,
        operation="ingest",
        operation_version=INGEST_VERSION,
        parameters={
            "original_filename": filename,
            "format": facts.format,
            "mode": facts.mode,
            "bit_depth": facts.bit_depth,
            "pages": facts.pages,
            "has_icc_profile": facts.has_icc_profile,
            "notes": facts.notes,
            **(parameters or {}),
        },
        inputs=(),
    )


def _duplicate(artifact: Artifact) -> IngestResult:
    return IngestResult(
        artifact=artifact,
        step=None,
        duplicate=True,
        notes=(
            f"duplicate: this file (sha256 {artifact.sha256}) is already artifact {artifact.pk}",
        ),
    )


def preview_store(sha256: str, data: bytes) -> None:
    """Keep a display preview made elsewhere (at ingest, from the validating decode)."""
    key = preview_key(sha256)
    if not default_storage.exists(key):
        default_storage.save(key, ContentFile(data))


def artifact_ensure_preview(artifact: Artifact) -> str | None:
    """Make (once) the display preview of an artifact; previews are not part of the lineage.

    Returns the storage key, or None when no preview can be made (the failure is not fatal)."""
    key = preview_key(artifact.sha256)
    if default_storage.exists(key):
        return key
    try:
        with default_storage.open(artifact.storage_key, "rb") as fh:
            data = imagefile.make_preview(fh, max_side=settings.ARCHIVE_PREVIEW_SIZE)
    except Exception:  # a preview is a convenience: never fail the caller for it
        return None
    try:
        default_storage.save(key, ContentFile(data))
    except (OSError, IntegrityError):
        return None
    return key


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
