"""Writes of the lineage core. Each function is atomic and writes its lineage in the same
transaction; files are stored before the transaction and removed again if it rolls back."""

from __future__ import annotations

import datetime as dt
import io
import platform
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from restoration import imagefile
from restoration.hashing import InputRef, OutputRef, StepRecord, json_safe
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


def output_from_upload(stream: IO[bytes], *, role: str = "image") -> NewOutput:
    """Validate, hash and store an uploaded image (a manual step's result, a reference image)."""
    with spooled_upload(stream, max_bytes=settings.ARCHIVE_MAX_UPLOAD_BYTES) as (tmp, sha, size):
        facts = imagefile.inspect_image(tmp, size=size, max_pixels=settings.ARCHIVE_MAX_PIXELS)
        stored = store_object(sha, tmp)
    return NewOutput(
        role=role,
        sha256=sha,
        size=size,
        media_type=facts.media_type,
        width=facts.width,
        height=facts.height,
        mode=facts.mode,
        bit_depth=facts.bit_depth,
        has_icc_profile=facts.has_icc_profile,
        info={"pages": facts.pages, "notes": facts.notes, "exif": facts.exif},
        created_file=stored.created,
    )


def discard_outputs(outputs: Sequence[NewOutput]) -> None:
    """Undo the file writes of a step whose record was not written (never leave orphans)."""
    for output in outputs:
        if output.created_file and not Artifact.objects.filter(sha256=output.sha256).exists():
            delete_object(object_key(output.sha256))


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

    The output files must already be stored (``output_from_array``/``output_from_upload``).
    If this raises, the caller should ``discard_outputs`` (``step_record_or_discard`` does).
    """
    parameters = json_safe(parameters)
    software = json_safe(software if software is not None else project_software_versions())
    run_record = json_safe(run_record or {})
    change_summary = json_safe(change_summary or {})
    record = StepRecord(
        kind=kind,
        operation=operation,
        operation_version=operation_version,
        parameters=parameters,
        model_sha256=weights.sha256 if weights else "",
        model_architecture=weights.architecture if weights else "",
        software=software,
        device=device,
        seed=seed,
        actor=user.get_username() if user is not None else "",
        on_behalf_of=on_behalf_of,
        started_at=started_at,
        ended_at=ended_at,
        rationale=rationale,
        citation_ids=list(citation_ids),
        reference_ids=list(reference_ids),
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
        run_record=run_record,
        change_summary=change_summary,
    )
    with transaction.atomic():
        step = Step(
            kind=kind,
            operation=operation,
            operation_version=operation_version,
            parameters=parameters,
            weights=weights,
            model_sha256=record.model_sha256,
            model_architecture=record.model_architecture,
            software=software,
            device=device,
            seed=seed,
            user=user if user is not None and user.pk else None,
            actor=record.actor,
            on_behalf_of=on_behalf_of,
            started_at=started_at,
            ended_at=ended_at,
            rationale=rationale,
            run_record=run_record,
            change_summary=change_summary,
            job_id=job_id,
            job_index=job_index,
            record_hash=record.record_hash(),
        )
        step.save()
        for i in inputs:
            StepInput(step=step, artifact=i.artifact, role=i.role, position=i.position).save()
        for o in outputs:
            artifact = _artifact_for_output(o, step)
            StepOutput(step=step, artifact=artifact, role=o.role).save()
        for citation_id in sorted(set(citation_ids)):
            StepCitation(step=step, citation_id=citation_id).save()
        for reference_id in sorted(set(reference_ids)):
            StepReference(step=step, reference_id=reference_id).save()
    return step


def _generating_step_hash(artifact: Artifact) -> str | None:
    if artifact.generated_by_id is None:
        return None
    return Step.objects.values_list("record_hash", flat=True).get(pk=artifact.generated_by_id)


def _artifact_for_output(output: NewOutput, step: Step) -> Artifact:
    """The artifact for an output's bytes: the existing one, or a new one made by ``step``.

    Two steps may produce the same bytes at the same moment (two jobs, same input and
    pipeline). The unique sha256 decides: the loser's insert fails inside a savepoint (on
    PostgreSQL after waiting for the winner's commit) and it links the winner's artifact."""
    existing = _existing_artifact(output.sha256)
    if existing is not None:
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
        # Two ingests of one file are a duplicate for the ingest service to report.
        if winner is None or step.kind == Step.Kind.INGEST:
            raise
        return winner
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
