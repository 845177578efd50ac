"""Manual steps: a restorer's retouch made in another tool, recorded with its justification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage

from archive.models import Citation, ReferenceImage
from archive.selectors import artifact_is_visible, visible_citations, visible_references
from restoration import imagefile
from restoration.engine.change import change_summary
from restoration.models import Artifact, Step
from restoration.services import (
    NewInput,
    NewOutput,
    discard_outputs,
    output_from_upload,
    step_record,
)

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


def _decode(sha256: str) -> Any:
    with default_storage.open(f"objects/{sha256[:2]}/{sha256[2:4]}/{sha256}", "rb") as fh:
        return imagefile.decode_rgb_or_grey(fh, max_pixels=settings.ARCHIVE_MAX_PIXELS)


def step_record_manual(
    *,
    input_artifact_id: int,
    image: IO[bytes],
    rationale: str,
    user: AbstractBaseUser,
    citation_ids: Sequence[int] = (),
    reference_ids: Sequence[int] = (),
    on_behalf_of: str = "",
    tool: str = "",
    filename: str = "",
) -> Step:
    """Record a retouch made outside the archive as a ``manual`` step with its change summary.

    Checks everything that needs no file first (input, rationale, citations, references), then
    validates, hashes and stores the upload, measures the change against the input, and records
    the step. On any failure after the file was stored, the file is removed again: no orphan
    file and no half-written rows. Raises ``ManualStepRejected`` or ``ImageRejected``."""
    received = dt.datetime.now(dt.UTC)
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
    source = Artifact.objects.filter(pk=input_artifact_id).first()
    if source is None or not artifact_is_visible(source.pk, user):
        raise ManualStepRejected(
            f"no artifact with id {input_artifact_id}", code="unknown_artifact"
        )
    citations = _checked_ids(citation_ids, "citation")
    references = _checked_ids(reference_ids, "reference image")
    _require_visible(visible_citations(Citation.objects.all(), user), citations, "citation")
    _require_visible(
        visible_references(ReferenceImage.objects.all(), user), references, "reference image"
    )

    output = output_from_upload(image)
    try:
        return _record(
            source=source,
            output=output,
            rationale=rationale,
            user=user,
            citations=citations,
            references=references,
            on_behalf_of=on_behalf_of,
            tool=tool,
            filename=filename,
            received=received,
        )
    except BaseException:
        discard_outputs([output])
        raise


def _record(
    *,
    source: Artifact,
    output: NewOutput,
    rationale: str,
    user: AbstractBaseUser,
    citations: list[int],
    references: list[int],
    on_behalf_of: str,
    tool: str,
    filename: str,
    received: dt.datetime,
) -> Step:
    if output.sha256 == source.sha256:
        raise ManualStepRejected(
            "the uploaded image is the input artifact itself: nothing was retouched",
            code="unchanged",
        )
    summary = change_summary(_decode(source.sha256), _decode(output.sha256))
    parameters: dict[str, Any] = {"tool": tool, "media_type": output.media_type}
    if filename:
        parameters["original_filename"] = filename
    return step_record(
        kind="manual",
        operation=MANUAL_OPERATION,
        operation_version=MANUAL_VERSION,
        parameters=parameters,
        inputs=[NewInput(role="image", artifact=source)],
        outputs=[output],
        started_at=received,
        ended_at=dt.datetime.now(dt.UTC),
        user=user,
        on_behalf_of=on_behalf_of,
        rationale=rationale,
        citation_ids=citations,
        reference_ids=references,
        change_summary=summary,
    )
