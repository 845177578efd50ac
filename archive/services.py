"""Writes of the catalogue. Ingest stores the master file, its Artifact, an ``ingest`` Step and
the Photo in one go: either all of them exist afterwards, or none (and no file) does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from archive.models import Citation, Figure, FigureName, Note, Photo, ReferenceImage, Source
from restoration import imagefile
from restoration.imagefile import ImageRejected
from restoration.models import Artifact, Step
from restoration.services import artifact_ingest

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
    """Ingest a master scan (``restoration.services.artifact_ingest``) and catalogue it.

    Raises ``ImageRejected`` (with a precise message) for anything that is not a sound image or
    a bad catalogue field; nothing is written in that case. The same bytes twice, even from
    uploads racing each other, give ``duplicate=True`` with the existing artifact and photo;
    nothing new is stored (``Photo.master`` is unique as well).
    """
    metadata = _checked_metadata(metadata or {})
    figure_ids = list(figure_ids)

    def catalogue(master: Artifact, step: Step, facts: imagefile.ImageFacts) -> Photo:
        figures = list(Figure.objects.filter(pk__in=figure_ids))
        missing = sorted(set(figure_ids) - {f.pk for f in figures})
        if missing:
            raise ImageRejected(f"no figure with id {missing}", code="invalid_field")
        photo = Photo(title=(title or filename)[:500], master=master, exif=facts.exif, **metadata)
        photo.full_clean(exclude=["master", "figures"])
        photo.save()
        photo.figures.set(figures)
        return photo

    result = artifact_ingest(stream=stream, filename=filename, user=user, catalogue=catalogue)
    if result.duplicate:
        return IngestResult(
            photo=Photo.objects.filter(master=result.artifact).first(),
            artifact=result.artifact,
            duplicate=True,
            notes=result.notes,
        )
    return IngestResult(
        photo=result.catalogued, artifact=result.artifact, duplicate=False, notes=result.notes
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
            f"carrier {carrier!r} is not one of {', '.join(Photo.Carrier.values)}",
            code="invalid_field",
        )
    if metadata.get("date"):
        from django.core.exceptions import ValidationError

        from archive.dates import edtf_bounds

        try:
            edtf_bounds(str(metadata["date"]))
        except ValidationError as exc:
            raise ImageRejected(exc.messages[0], code="invalid_field") from exc
    return metadata


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


# --- catalogue writes (the API and the pages call these; each is one transaction) ------------


def _apply(instance: Any, fields: dict[str, Any], *, exclude: Sequence[str] = ()) -> Any:
    """Set fields, validate the whole record like a form would, save."""
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.full_clean(exclude=list(exclude))
    instance.save()
    return instance


def _set_names(figure: Figure, names: Sequence[dict[str, str]]) -> None:
    figure.names.all().delete()
    seen: set[tuple[str, str]] = set()
    for variant in names:
        key = (variant["name"], variant.get("language", ""))
        if key in seen:  # the same name twice in one request is one name, not an error
            continue
        seen.add(key)
        FigureName.objects.create(figure=figure, **variant)


def figure_update(
    *, figure: Figure, names: Sequence[dict[str, str]] | None = None, **fields: Any
) -> Figure:
    """Change a figure; ``names`` (when given) replaces all its name variants."""
    with transaction.atomic():
        _apply(figure, fields)
        if names is not None:
            _set_names(figure, names)
    return figure


def source_create(**fields: Any) -> Source:
    with transaction.atomic():
        return _apply(Source(), fields)


def source_update(*, source: Source, **fields: Any) -> Source:
    with transaction.atomic():
        return _apply(source, fields)


def citation_create(*, source: Source, target: Any | None = None, **fields: Any) -> Citation:
    """A citation of ``source``, attached to ``target`` (any catalogue record) if given."""
    with transaction.atomic():
        citation = Citation(source=source, **fields)
        if target is not None:
            citation.target = target
        return _apply(citation, {}, exclude=["target_type"])


def citation_update(
    *, citation: Citation, target: Any | None = None, detach: bool = False, **fields: Any
) -> Citation:
    with transaction.atomic():
        if target is not None:
            citation.target = target
        elif detach:
            citation.target_type, citation.target_id = None, None
        return _apply(citation, fields, exclude=["target_type"])


def note_create(*, author: AbstractBaseUser | None, **fields: Any) -> Note:
    with transaction.atomic():
        note = Note(author=author if author is not None and author.pk else None)
        return _apply(note, fields)


def note_update(*, note: Note, **fields: Any) -> Note:
    with transaction.atomic():
        return _apply(note, fields)


def photo_update(*, photo: Photo, figures: Sequence[Figure] | None = None, **fields: Any) -> Photo:
    """Change a photo's catalogue record; its master scan never changes."""
    with transaction.atomic():
        _apply(photo, fields, exclude=["master", "figures"])
        if figures is not None:
            photo.figures.set(figures)
    return photo


def reference_create(
    *,
    user: AbstractBaseUser | None,
    artifact: Artifact | None = None,
    stream: IO[bytes] | None = None,
    filename: str = "",
    **fields: Any,
) -> ReferenceImage:
    """A reference image over an existing artifact, or over a newly uploaded file (ingested
    like a master scan, in the same transaction as the reference). Bytes already in the
    archive are one artifact, whatever they are used for: the reference points at it."""
    if artifact is None:
        if stream is None:
            raise ImageRejected("send an image file or an existing artifact id", code="missing")
        result = artifact_ingest(
            stream=stream,
            filename=filename,
            user=user,
            parameters={"purpose": "reference"},
            catalogue=lambda artifact, step, facts: _reference_save(artifact, fields),
        )
        if not result.duplicate:
            return result.catalogued
        artifact = result.artifact
    with transaction.atomic():
        return _reference_save(artifact, fields)


def _reference_save(artifact: Artifact, fields: dict[str, Any]) -> ReferenceImage:
    return _apply(ReferenceImage(artifact=artifact), fields)


def reference_update(*, reference: ReferenceImage, **fields: Any) -> ReferenceImage:
    with transaction.atomic():
        return _apply(reference, fields)


def catalogue_delete(*, record: Any) -> None:
    """Delete a catalogue record. Records a restoration step relied on are protected (the
    database refuses, and the caller reports a conflict): the lineage must stay whole."""
    with transaction.atomic():
        record.delete()
