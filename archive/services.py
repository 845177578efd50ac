"""Writes of the catalogue. Ingest stores the master file, its Artifact, an ``ingest`` Step and
the Photo in one go: either all of them exist afterwards, or none (and no file) does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from archive.models import Figure, FigureName, Photo
from restoration import imagefile
from restoration.imagefile import ImageRejected
from restoration.models import Artifact
from restoration.services import (
    NewOutput,
    artifact_ensure_preview,
    discard_outputs,
    project_software_versions,
    spooled_upload,
    step_record,
)
from restoration.storage import store_object

INGEST_VERSION = "1.0"
PHOTO_FIELDS = (
    "description",
    "date",
    "place",
    "photographer",
    "repository",
    "accession_number",
    "carrier",
    "physical_description",
    "rights_statement",
    "restricted",
)


@dataclass(frozen=True)
class IngestResult:
    photo: Photo | None
    artifact: Artifact
    duplicate: bool
    notes: tuple[str, ...] = ()


def photo_ingest(
    *,
    stream: IO[bytes],
    filename: str,
    title: str = "",
    user: AbstractBaseUser | None = None,
    figure_ids: Iterable[int] = (),
    metadata: dict[str, Any] | None = None,
) -> IngestResult:
    """Validate, hash and store a master scan, record its ``ingest`` step and catalogue it.

    Raises ``ImageRejected`` (with a precise message) for anything that is not a sound image;
    nothing is written in that case. The same bytes twice give ``duplicate=True`` and the
    existing artifact and photo; nothing new is stored.
    """
    imagefile.check_filename(filename)
    metadata = _checked_metadata(metadata or {})
    with spooled_upload(stream, max_bytes=settings.ARCHIVE_MAX_UPLOAD_BYTES) as (tmp, sha, size):
        existing = Artifact.objects.filter(sha256=sha).first()
        if existing is not None:
            return _duplicate(existing)
        facts = imagefile.inspect_image(tmp, size=size, max_pixels=settings.ARCHIVE_MAX_PIXELS)
        stored = store_object(sha, tmp)
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
        created_file=stored.created,
    )
    try:
        photo = _record_ingest(
            output=output,
            facts=facts,
            filename=filename,
            title=title or filename,
            user=user,
            figure_ids=list(figure_ids),
            metadata=metadata,
        )
    except IntegrityError:
        # Another ingest of the same bytes won the race: report it as the duplicate it is.
        existing = Artifact.objects.filter(sha256=sha).first()
        if existing is None:
            discard_outputs([output])
            raise
        return _duplicate(existing)
    except BaseException:
        discard_outputs([output])
        raise
    artifact_ensure_preview(photo.master)
    return IngestResult(photo=photo, artifact=photo.master, duplicate=False, notes=tuple(facts.notes))


def _duplicate(artifact: Artifact) -> IngestResult:
    photo = Photo.objects.filter(master=artifact).order_by("id").first()
    return IngestResult(
        photo=photo,
        artifact=artifact,
        duplicate=True,
        notes=(f"duplicate: this file (sha256 {artifact.sha256}) is already artifact {artifact.pk}",),
    )


def _checked_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(metadata) - set(PHOTO_FIELDS))
    if unknown:
        raise ImageRejected(
            f"unknown photo field(s): {', '.join(unknown)}; allowed: {', '.join(PHOTO_FIELDS)}",
            code="unknown_field",
        )
    carrier = metadata.get("carrier")
    if carrier and carrier not in Photo.Carrier.values:
        raise ImageRejected(
            f"carrier {carrier!r} is not one of {', '.join(Photo.Carrier.values)}", code="invalid_field"
        )
    if metadata.get("date"):
        from django.core.exceptions import ValidationError

        from archive.dates import edtf_bounds

        try:
            edtf_bounds(str(metadata["date"]))
        except ValidationError as exc:
            raise ImageRejected(exc.messages[0], code="invalid_field") from exc
    return metadata


def _record_ingest(
    *,
    output: NewOutput,
    facts: imagefile.ImageFacts,
    filename: str,
    title: str,
    user: AbstractBaseUser | None,
    figure_ids: Sequence[int],
    metadata: dict[str, Any],
) -> Photo:
    started = dt.datetime.now(dt.UTC)
    with transaction.atomic():
        figures = list(Figure.objects.filter(pk__in=figure_ids))
        missing = sorted(set(figure_ids) - {f.pk for f in figures})
        if missing:
            raise ImageRejected(f"no figure with id {missing}", code="invalid_field")
        step = step_record(
            kind="ingest",
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
            },
            inputs=[],
            outputs=[output],
            started_at=started,
            ended_at=dt.datetime.now(dt.UTC),
            user=user,
            software=project_software_versions(),
        )
        master = Artifact.objects.get(sha256=output.sha256)
        photo = Photo(title=title[:500], master=master, exif=facts.exif, **metadata)
        photo.full_clean(exclude=["master", "figures"])
        photo.save()
        photo.figures.set(figures)
    del step
    return photo


def figure_create(
    *,
    name: str,
    names: Sequence[dict[str, str]] = (),
    **fields: Any,
) -> Figure:
    """A figure with its name variants (``[{"name": "鲁迅", "language": "zh-Hans", "kind": ...}]``)."""
    with transaction.atomic():
        figure = Figure(name=name, **fields)
        figure.full_clean()
        figure.save()
        for variant in names:
            FigureName.objects.create(figure=figure, **variant)
    return figure
