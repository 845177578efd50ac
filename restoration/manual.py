"""Manual steps: a restorer's retouch made in another tool, recorded with its justification."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from archive.models import Citation, ReferenceImage
from archive.selectors import artifact_is_visible, visible_citations, visible_references
from restoration import executor, imagefile
from restoration.faces import confirmed_references
from restoration.models import Artifact, Step
from restoration.services import AcceptedFile, Derivation, NewInput, artifact_ingest
from restoration.storage import open_object
from restoration.users import User

logger = logging.getLogger(__name__)

MANUAL_OPERATION = "manual_retouch"
MANUAL_VERSION = "1.0"
MAX_RATIONALE = 10_000


class ManualStepRejected(ValueError):
    """The request cannot be recorded; the message says why (the API answers 400 with it)."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def _checked_ids(ids: Sequence[int], what: str) -> list[int]:
    try:
        return sorted({int(i) for i in ids})
    except (TypeError, ValueError) as exc:
        raise ManualStepRejected(
            f"{what} ids must be integers, got {list(ids)!r}", code="invalid_field"
        ) from exc


def _require_visible(queryset: Any, ids: list[int], what: str) -> None:
    """Unknown and invisible records get the same answer: restricted ids must not leak."""
    found = set(queryset.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ManualStepRejected(
            f"no {what} with id {', '.join(map(str, missing))}",
            code=f"unknown_{what.replace(' ', '_')}",
        )


def _decode(stream: IO[bytes]) -> Any:
    stream.seek(0)
    return imagefile.decode_rgb_or_grey(stream, max_pixels=settings.ARCHIVE_MAX_PIXELS)


def _measured(before: Any, after: Any, references: list[dict[str, Any]]) -> executor.Measured:
    """The change summary and the faces' identity check, measured in an engine worker, not in
    the web server's process; both are evidence, not the product, so a failure (e.g. over the
    memory budget) records the step without them."""
    try:
        return executor.change_summary(
            before, after, identity=settings.ARCHIVE_IDENTITY_CHECK, references=references
        )
    except executor.OperationFailed:
        logger.warning("manual step: no change summary", exc_info=True)
        return executor.Measured({})


def step_record_manual(
    *,
    input_artifact_id: int,
    image: IO[bytes],
    rationale: str,
    user: AbstractBaseUser | AnonymousUser,
    citation_ids: Sequence[int] = (),
    reference_ids: Sequence[int] = (),
    on_behalf_of: str = "",
    tool: str = "",
    filename: str = "",
) -> Step:
    """Record a retouch made outside the archive as a ``manual`` step with its change summary.

    Checks everything that needs no file first (input, rationale, citations, references), then
    ingests the upload with ``artifact_ingest`` (the one way a file enters the archive), whose
    ``derive`` measures the change against the input before anything is written and makes the
    file the output of a ``manual`` step. On any failure nothing stays behind: no orphan file,
    no half-written rows. Raises ``ManualStepRejected`` or ``ImageRejected``."""
    rationale = (rationale or "").strip()
    if not rationale:
        raise ManualStepRejected(
            "a rationale is required: say what was retouched and why", code="no_rationale"
        )
    if len(rationale) > MAX_RATIONALE:
        raise ManualStepRejected(
            f"the rationale is longer than {MAX_RATIONALE} characters", code="invalid_field"
        )
    if filename:
        imagefile.check_filename(filename)
    found = Artifact.objects.filter(pk=input_artifact_id).first()
    if found is None or not artifact_is_visible(found.pk, user):
        raise ManualStepRejected(
            f"no artifact with id {input_artifact_id}", code="unknown_artifact"
        )
    source: Artifact = found
    citations = _checked_ids(citation_ids, "citation")
    references = _checked_ids(reference_ids, "reference image")
    _require_visible(visible_citations(Citation.objects.all(), user), citations, "citation")
    _require_visible(
        visible_references(ReferenceImage.objects.all(), user), references, "reference image"
    )

    def derive(upload: AcceptedFile) -> Derivation:
        return _derivation(
            source=source,
            upload=upload,
            rationale=rationale,
            citations=citations,
            references=references,
            on_behalf_of=on_behalf_of,
            tool=tool,
            filename=filename,
            user=user,
        )

    result = artifact_ingest(stream=image, filename=filename or "upload", user=user, derive=derive)
    assert result.step is not None  # a derived file is never a duplicate: it is linked
    return result.step


def _derivation(
    *,
    source: Artifact,
    upload: AcceptedFile,
    rationale: str,
    citations: list[int],
    references: list[int],
    on_behalf_of: str,
    tool: str,
    filename: str,
    user: User = None,
) -> Derivation:
    """The manual step that made the upload, measured against its input (before any write)."""
    if upload.sha256 == source.sha256:
        raise ManualStepRejected(
            "the uploaded image is the input artifact itself: nothing was retouched",
            code="unchanged",
        )
    with open_object(source.sha256) as fh:
        before = _decode(fh)
    measured = _measured(
        before, _decode(upload.file), confirmed_references(artifact_id=source.pk, user=user)
    )
    parameters: dict[str, Any] = {"tool": tool, "media_type": upload.facts.media_type}
    if filename:
        parameters["original_filename"] = filename
    return Derivation(
        kind=Step.Kind.MANUAL,
        operation=MANUAL_OPERATION,
        operation_version=MANUAL_VERSION,
        parameters=parameters,
        inputs=[NewInput(role="image", artifact=source)],
        on_behalf_of=on_behalf_of,
        rationale=rationale,
        citation_ids=citations,
        reference_ids=references,
        change_summary=measured.summary,
        identity=measured.identity,
    )
