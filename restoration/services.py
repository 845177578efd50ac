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
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from restoration import imagefile
from restoration.engine.identity import worst_verdict
from restoration.evidence import snapshot_evidence
from restoration.hashing import RECORD_VERSION, InputRef, OutputRef, json_safe, step_record_of
from restoration.ledger import log_append
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
from restoration.users import User, recorded_user

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
    # Moving images only (``output_from_video``, ``video_ingest``).
    frame_count: int | None = None
    fps: str = ""
    duration: float | None = None


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
    user: User = None,
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
    identity: dict[str, Any] | None = None,
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
        user=recorded_user(user),
        actor=user.get_username() if user is not None else "",
        on_behalf_of=on_behalf_of,
        started_at=started_at,
        ended_at=ended_at,
        rationale=rationale,
        run_record=json_safe(run_record or {}),
        change_summary=json_safe(change_summary or {}),
        identity=json_safe(identity or {}),
        identity_verdict=worst_verdict(identity) or "",
        job_id=job_id,
        job_index=job_index,
    )
    input_refs = [
        InputRef(
            role=i.role,
            position=i.position,
            sha256=i.artifact.sha256,
            step_hash=_generating_step_hash(i.artifact),
        )
        for i in inputs
    ]
    links: list[StepOutput] = []
    with transaction.atomic():
        try:
            # The evidence as it is now, read (and locked) in the transaction that writes the
            # step: a catalogue edit lands before the snapshot or after the step, never between.
            step.evidence = snapshot_evidence(citation_ids, reference_ids)
            step.record_version = RECORD_VERSION
            step.record_hash = step_record_of(
                step,
                inputs=input_refs,
                outputs=[OutputRef(role=o.role, sha256=o.sha256) for o in outputs],
                citation_ids=citation_ids,
                reference_ids=reference_ids,
            ).record_hash()
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
            log_append(kind="step", record_id=step.pk, record_hash=step.record_hash)
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
        frame_count=output.frame_count,
        fps=output.fps,
        duration=output.duration,
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
    identity: dict[str, Any] | None = None


@dataclass(frozen=True)
class IngestResult:
    """``artifact`` holds the bytes; ``step`` recorded them (None for a duplicate, which wrote
    nothing); ``catalogued`` is what the caller's ``catalogue`` hook returned."""

    artifact: Artifact
    step: Step | None
    duplicate: bool
    catalogued: Any = None
    notes: tuple[str, ...] = ()


def _derivation_record(
    how: Derivation, output: NewOutput, *, started: dt.datetime, user: User
) -> Step:
    """Record the step that ``how`` describes, producing ``output`` (stills and videos alike)."""
    return step_record(
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
        identity=how.identity,
    )


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
    user: User,
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
                step = _derivation_record(how, output, started=started, user=user)
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


# --- moving images: films, film step outputs, animations ---------------------------------------
#
# A video artifact is one file like any other (content-addressed, ``role`` "image" in the steps
# that use it, ``media_type`` video/...), plus what only a video has: ``frame_count``, ``fps``
# (a rational "num/den"), ``duration``, and in ``info`` the probe's facts and the sha256 of its
# per-frame hash manifest (stored content-addressed beside it, text in the shape of ffmpeg's
# framemd5). Its poster frame is its preview (``preview_key``), so every page that shows a
# thumbnail shows one; a small H.264 proxy (``proxy_key``) is what the pages play. Poster and
# proxy are conveniences, remade on demand; the manifest is evidence.

PROXIES_PREFIX = "proxies/"
SIDECARS_PREFIX = "sidecars/"


def proxy_key(sha256: str) -> str:
    return f"{PROXIES_PREFIX}{sha256[:2]}/{sha256}.mp4"


def sidecar_key(sha256: str) -> str:
    """Evidence kept beside the artifacts (a video's frame manifest, a film step's full
    analysis, its before/after strip): content-addressed, named by sha256 from the records
    that rely on it, and outside ``objects/`` (which holds artifacts only)."""
    return f"{SIDECARS_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"


def sidecar_store(data: bytes) -> str:
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    key = sidecar_key(sha)
    if not default_storage.exists(key):
        default_storage.save(key, ContentFile(data))
    return sha


def sidecar_read(sha256: str) -> bytes:
    with default_storage.open(sidecar_key(sha256), "rb") as fh:
        data: bytes = fh.read()
    return data


def is_video(artifact: Artifact) -> bool:
    return str(artifact.media_type or "").startswith("video/")


def video_limits() -> Any:
    """The limits every video entering the archive is held to (settings, with defaults)."""
    from restoration.engine.video import VideoLimits

    return VideoLimits(
        max_width=int(settings.ARCHIVE_MAX_VIDEO_SIDE),
        max_height=int(settings.ARCHIVE_MAX_VIDEO_SIDE),
        max_frame_pixels=int(settings.ARCHIVE_MAX_VIDEO_FRAME_PIXELS),
        max_frames=int(settings.ARCHIVE_MAX_VIDEO_FRAMES),
        max_duration_s=float(settings.ARCHIVE_MAX_VIDEO_SECONDS),
        max_decode_s=float(settings.ARCHIVE_MAX_VIDEO_DECODE_S),
    )


def _tmp_dir() -> Path:
    tmp_dir = Path(settings.ARCHIVE_DATA_DIR) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return tmp_dir


def video_check_filename(filename: str) -> str:
    from restoration.engine.video import VIDEO_EXTENSIONS

    imagefile.check_filename(filename)
    if Path(filename).suffix.lower() not in VIDEO_EXTENSIONS:
        raise imagefile.ImageRejected(
            f"file name {filename!r} does not end in a video extension "
            f"({', '.join(sorted(VIDEO_EXTENSIONS))})",
            code="not_video",
        )
    return filename


@dataclass
class ProbedVideo:
    """A video file validated by ``video_probe``: facts, manifest, poster and proxy."""

    facts: Any  # restoration.engine.video.VideoFacts
    manifest: bytes
    manifest_sha256: str
    proxy_path: Path | None

    def info(self) -> dict[str, Any]:
        return {**self.facts.info(), "manifest_sha256": self.manifest_sha256}

    def cleanup(self) -> None:
        if self.proxy_path is not None:
            with suppress(FileNotFoundError):
                self.proxy_path.unlink()


def video_probe(path: str | Path, *, proxy: bool = True) -> ProbedVideo:
    """Validate a video file (decoding every frame under ``video_limits``) and describe it.
    Raises ``ImageRejected`` with the reason (the API's one refusal type for files)."""
    import hashlib

    from restoration.engine.video import VideoRejected, probe

    proxy_path = None
    if proxy:
        fd, name = tempfile.mkstemp(dir=_tmp_dir(), prefix="proxy-", suffix=".mp4")
        import os

        os.close(fd)
        proxy_path = Path(name)
    try:
        facts = probe(
            path,
            limits=video_limits(),
            poster_side=settings.ARCHIVE_PREVIEW_SIZE,
            proxy_path=proxy_path,
        )
    except VideoRejected as exc:
        if proxy_path is not None:
            with suppress(FileNotFoundError):
                proxy_path.unlink()
        raise imagefile.ImageRejected(str(exc), code=exc.code) from None
    except BaseException:
        if proxy_path is not None:
            with suppress(FileNotFoundError):
                proxy_path.unlink()
        raise
    manifest = facts.manifest_text().encode()
    return ProbedVideo(
        facts=facts,
        manifest=manifest,
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
        proxy_path=proxy_path,
    )


def _video_output(
    probed: ProbedVideo, *, role: str, sha256: str, size: int, source: IO[bytes] | None
) -> NewOutput:
    facts = probed.facts
    return NewOutput(
        role=role,
        sha256=sha256,
        size=size,
        media_type=facts.media_type,
        width=facts.width,
        height=facts.height,
        mode="RGB",
        bit_depth=facts.bit_depth,
        info=probed.info(),
        source=source,
        frame_count=facts.frame_count,
        fps=facts.fps_text,
        duration=facts.duration,
    )


def _video_extras_store(sha256: str, probed: ProbedVideo) -> None:
    """The manifest (evidence: content-addressed like any object), poster and proxy."""
    sidecar_store(probed.manifest)
    with suppress(OSError):
        if probed.facts.poster:
            preview_store(sha256, probed.facts.poster)
        if probed.proxy_path is not None and not default_storage.exists(proxy_key(sha256)):
            with open(probed.proxy_path, "rb") as fh:
                default_storage.save(proxy_key(sha256), ContentFile(fh.read()))


def output_from_video(path: str | Path, *, role: str = "image") -> NewOutput:
    """A video a step produced (a local file, e.g. an engine worker's FFV1 output): validated
    like an upload, hashed, stored content-addressed with its manifest, poster and proxy.
    The counterpart of ``output_from_array`` for ``step_record``; ``discard_outputs`` undoes
    it. Raises ``ImageRejected`` if the file is not a sound video."""
    probed = video_probe(path)
    try:
        with open(path, "rb") as fh:
            sha, size = sha256_of_stream(fh)
            stored = store_object(sha, fh)
        _video_extras_store(sha, probed)
    finally:
        probed.cleanup()
    output = _video_output(probed, role=role, sha256=sha, size=size, source=None)
    output.created_file = stored.created
    return output


def video_ingest(
    *,
    stream: IO[bytes],
    filename: str,
    user: User,
    parameters: Mapping[str, Any] | None = None,
    derive: Callable[[Any], Derivation] | None = None,
    catalogue: Callable[[Artifact, Step, Any], Any] | None = None,
) -> IngestResult:
    """``artifact_ingest`` for a video file: the same contract (origin or derivation, duplicate
    detection, all or nothing, the caller's ``catalogue`` rows in the same transaction), with
    the video's validation (``video_probe``). ``derive`` and ``catalogue`` receive the
    ``ProbedVideo`` where ``artifact_ingest`` passes image facts. The ingest step's parameters
    hold what was probed, including the manifest's sha256, so the record hash covers it."""
    started = now()
    video_check_filename(filename)
    # Film masters are large: their own limit (the HTTP body limit still applies to uploads).
    max_bytes = int(settings.ARCHIVE_MAX_VIDEO_BYTES)
    with spooled_upload(stream, max_bytes=max_bytes) as (tmp, sha, size):
        if derive is None and (existing := _existing_artifact(sha)) is not None:
            return _duplicate(existing)
        probed = video_probe(tmp.name)
        try:
            facts = probed.facts
            if derive is not None:
                how = derive(probed)
            else:
                how = Derivation(
                    kind=Step.Kind.INGEST,
                    operation="ingest",
                    operation_version=INGEST_VERSION,
                    parameters={
                        "original_filename": filename,
                        **probed.info(),
                        **(parameters or {}),
                    },
                    inputs=(),
                )
            output = _video_output(probed, role="image", sha256=sha, size=size, source=tmp)
            try:
                with transaction.atomic():
                    step = _derivation_record(how, output, started=started, user=user)
                    artifact = step.produced.all()[0].artifact
                    try:
                        catalogued = catalogue(artifact, step, probed) if catalogue else None
                        _video_extras_store(sha, probed)
                    except BaseException:
                        _unstore_pending([output])
                        raise
            except ArtifactExists as exc:
                return _duplicate(Artifact.objects.get(pk=exc.artifact.pk))
        finally:
            probed.cleanup()
    return IngestResult(
        artifact=artifact,
        step=step,
        duplicate=False,
        catalogued=catalogued,
        notes=tuple(facts.notes),
    )


def video_manifest(artifact: Artifact) -> list[str]:
    """The per-frame hashes recorded for a video artifact ([] if it has none)."""
    from restoration.engine.video import parse_manifest

    sha = (artifact.info or {}).get("manifest_sha256")
    if not sha:
        return []
    return parse_manifest(sidecar_read(sha).decode())


@contextmanager
def artifact_local_path(artifact: Artifact) -> Iterator[Path]:
    """A local path to an artifact's bytes (the file itself on local storage, else a temporary
    copy removed afterwards), for code that must seek in it (video decoding)."""
    key = object_key(artifact.sha256)
    try:
        yield Path(default_storage.path(key))
        return
    except NotImplementedError:
        pass
    with tempfile.NamedTemporaryFile(dir=_tmp_dir(), prefix="object-") as tmp:
        with default_storage.open(key, "rb") as fh:
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                tmp.write(chunk)
        tmp.flush()
        yield Path(tmp.name)


# Image sequences (a folder or a zip of numbered PNG/TIFF frames with a declared rate) enter
# the archive as a lossless FFV1/Matroska master made from the frames; the ingest step records
# the source's names and the sha256 of every frame file (as one hash over the list).

SEQUENCE_EXTENSIONS = (".png", ".tif", ".tiff")


def _natural_key(name: str) -> tuple[Any, ...]:
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def sequence_members(names: Sequence[str]) -> list[str]:
    """The frame files among ``names``, in frame order (numbers compared as numbers)."""
    frames = [
        n
        for n in names
        if n.lower().endswith(SEQUENCE_EXTENSIONS)
        and not Path(n).name.startswith(".")
        and "__MACOSX" not in n
    ]
    return sorted(frames, key=_natural_key)


def sequence_to_video(
    frames: Sequence[tuple[str, Callable[[], IO[bytes]]]], *, fps: Any, out_path: Path
) -> dict[str, Any]:
    """Encode numbered frames (name, opener) as FFV1/Matroska at ``fps``; returns what the
    ingest step records about the source. Raises ``ImageRejected`` naming the bad frame."""
    import hashlib

    import numpy as np

    from restoration.engine.video import VideoWriter, parse_fps

    try:
        rate = parse_fps(fps)
    except ValueError as exc:
        raise imagefile.ImageRejected(str(exc), code="invalid_field") from None
    limits = video_limits()
    if not frames:
        raise imagefile.ImageRejected("the sequence has no PNG or TIFF frames", code="no_frames")
    if len(frames) > limits.max_frames:
        raise imagefile.ImageRejected(
            f"the sequence has {len(frames):,} frames; at most {limits.max_frames:,}",
            code="too_large",
        )
    listing = hashlib.sha256()
    writer: Any = None
    notes: list[str] = []
    try:
        for index, (name, opener) in enumerate(frames):
            with opener() as fh:
                data = fh.read()
            listing.update(f"{name}\t{hashlib.sha256(data).hexdigest()}\n".encode())
            try:
                array = imagefile.decode_rgb_or_grey(
                    data, max_pixels=min(settings.ARCHIVE_MAX_PIXELS, limits.max_frame_pixels)
                )
            except imagefile.ImageRejected as exc:
                raise imagefile.ImageRejected(f"frame {name}: {exc}", code=exc.code) from None
            except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad frame
                raise imagefile.ImageRejected(
                    f"frame {name} cannot be decoded: {exc}", code="invalid_image"
                ) from None
            if array.dtype == np.uint16:
                array = (array >> 8).astype(np.uint8)
                if "16-bit frames stored as 8-bit" not in notes:
                    notes.append("16-bit frames stored as 8-bit")
            if array.ndim == 2:
                array = np.repeat(array[:, :, None], 3, axis=2)
            if writer is None:
                height, width = array.shape[:2]
                writer = VideoWriter(out_path, width=width, height=height, fps=rate)
            elif array.shape[:2] != (writer.height, writer.width):
                raise imagefile.ImageRejected(
                    f"frame {name} is {array.shape[1]}x{array.shape[0]}, the first frame is "
                    f"{writer.width}x{writer.height}: all frames must have one size",
                    code="invalid_image",
                )
            writer.write(array)
            del array, index
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    writer.close()
    return {
        "source": "image sequence",
        "frames": len(frames),
        "first_frame": frames[0][0],
        "last_frame": frames[-1][0],
        "fps": f"{rate.numerator}/{rate.denominator}",
        "frame_files_sha256": listing.hexdigest(),
        "sequence_notes": notes,
    }


def video_ingest_sequence(
    *,
    frames: Sequence[tuple[str, Callable[[], IO[bytes]]]],
    fps: Any,
    source_name: str,
    user: User,
    parameters: Mapping[str, Any] | None = None,
    catalogue: Callable[[Artifact, Step, Any], Any] | None = None,
) -> IngestResult:
    """Ingest numbered frames as a master film (FFV1/Matroska made losslessly from them)."""
    fd, name = tempfile.mkstemp(dir=_tmp_dir(), prefix="sequence-", suffix=".mkv")
    import os

    os.close(fd)
    path = Path(name)
    try:
        described = sequence_to_video(frames, fps=fps, out_path=path)
        stem = Path(source_name).stem or "sequence"
        with open(path, "rb") as fh:
            return video_ingest(
                stream=fh,
                filename=f"{stem[:200]}.mkv",
                user=user,
                parameters={
                    **described,
                    "original_filename": source_name,
                    **(parameters or {}),
                },
                catalogue=catalogue,
            )
    finally:
        with suppress(FileNotFoundError):
            path.unlink()


def zip_sequence_frames(
    archive: Any, *, max_total_bytes: int | None = None
) -> list[tuple[str, Callable[[], IO[bytes]]]]:
    """The frames of an open ``zipfile.ZipFile``, refusing zip bombs: the declared sizes are
    summed before anything is read, and each member is read with its declared size as a cap."""
    limit = max_total_bytes or settings.ARCHIVE_MAX_UPLOAD_BYTES * 20
    infos = {i.filename: i for i in archive.infolist() if not i.is_dir()}
    names = sequence_members(list(infos))
    total = sum(infos[n].file_size for n in names)
    if total > limit:
        raise imagefile.ImageRejected(
            f"the zip unpacks to {total / 2**20:,.0f} MiB of frames, over {limit / 2**20:,.0f} MiB",
            code="too_large",
        )
    for n in names:
        info = infos[n]
        if info.compress_size and info.file_size / max(1, info.compress_size) > 1000:
            raise imagefile.ImageRejected(
                f"zip member {n} expands {info.file_size / max(1, info.compress_size):,.0f}"
                " times: refused as a zip bomb",
                code="too_large",
            )

    def opener(name: str) -> Callable[[], IO[bytes]]:
        return lambda: archive.open(infos[name])

    return [(Path(n).name, opener(n)) for n in names]


def video_frames_verify(artifact: Artifact, *, max_named: int = 50) -> dict[str, Any]:
    """Decode a video artifact's stored file and compare every frame with its recorded
    manifest: where ``verify`` says the file changed, this names the frames that did.
    ``{"ok", "frames", "expected_frames", "changed": [frame indices, at most max_named],
    "changed_count"}`` (frames the file no longer has are among the changed); a file that no
    longer decodes is reported as such."""
    from restoration.engine.video import VideoRejected, frame_md5, read_frames

    expected = video_manifest(artifact)
    changed: list[int] = []
    count = 0
    problem = ""
    try:
        with artifact_local_path(artifact) as path:
            fps = None
            if artifact.fps:
                from fractions import Fraction

                num, _, den = artifact.fps.partition("/")
                fps = Fraction(int(num), int(den or 1))
            for index, frame in enumerate(read_frames(path, fps=fps)):
                count += 1
                if index >= len(expected) or frame_md5(frame) != expected[index]:
                    changed.append(index)
    except (VideoRejected, FileNotFoundError) as exc:
        problem = str(exc)
    missing = max(0, len(expected) - count)  # frames gone (a cut file) count as changed
    changed_count = len(changed) + missing
    named = changed[:max_named] + list(range(count, count + min(missing, max_named)))
    return {
        "ok": not problem and changed_count == 0 and count == len(expected),
        "frames": count,
        "expected_frames": len(expected),
        "changed": named[:max_named],
        "changed_count": changed_count,
        "problem": problem,
    }
