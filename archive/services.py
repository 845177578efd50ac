"""Writes of the catalogue. Ingest stores the master file, its Artifact, an ``ingest`` Step and
the Photo in one go: either all of them exist afterwards, or none (and no file) does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.db import transaction

from archive.models import (
    Citation,
    FaceIdentification,
    Figure,
    FigureName,
    Film,
    Note,
    Photo,
    ReferenceImage,
    Revision,
    Source,
    WithheldFile,
)
from archive.revisions import RECORD_TYPES, record_state, revision_record
from restoration import imagefile
from restoration.imagefile import ImageRejected
from restoration.models import Artifact, Step
from restoration.services import artifact_ingest
from restoration.users import User, recorded_user

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
    user: User = None,
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
        revision_record(instance=photo, action=Revision.Action.CREATE, before=None, user=user)
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
    return catalogue_fields_checked(
        metadata, kind="photo", allowed=PHOTO_FIELDS, carriers=Photo.Carrier.values
    )


def catalogue_fields_checked(
    metadata: dict[str, Any],
    *,
    kind: str,
    allowed: Sequence[str],
    carriers: Sequence[str],
    date_label: str = "",
) -> dict[str, Any]:
    """The checks every catalogued original's metadata passes at ingest (photos and films):
    known fields only, a known carrier, an EDTF date. ``date_label`` prefixes the date's
    message ("date: ...") where the caller names the field."""
    unknown = sorted(set(metadata) - set(allowed))
    if unknown:
        raise ImageRejected(
            f"unknown {kind} field(s): {', '.join(unknown)}; allowed: {', '.join(allowed)}",
            code="unknown_field",
        )
    carrier = metadata.get("carrier")
    if carrier and carrier not in carriers:
        raise ImageRejected(
            f"carrier {carrier!r} is not one of {', '.join(carriers)}",
            code="invalid_field",
        )
    if metadata.get("date"):
        from django.core.exceptions import ValidationError

        from archive.dates import edtf_bounds

        try:
            edtf_bounds(str(metadata["date"]))
        except ValidationError as exc:
            raise ImageRejected(date_label + exc.messages[0], code="invalid_field") from exc
    return metadata


def figure_create(
    *,
    name: str,
    names: Sequence[dict[str, str]] = (),
    user: User = None,
    **fields: Any,
) -> Figure:
    """A figure with its name variants (``[{"name": "鲁迅", "language": "zh-Hans", "kind": ...}]``)."""
    with transaction.atomic():
        figure = Figure(name=name, **fields)
        figure.full_clean()
        figure.save()
        for variant in names:
            FigureName.objects.create(figure=figure, **variant)
        _created(figure, user)
    return figure


# Every write below records a revision (archive.revisions) in its own transaction: the state
# before is read from the locked row (not from the caller's instance, which may be stale).


def _locked_state(instance: Any) -> dict[str, Any] | None:
    fresh = type(instance).objects.select_for_update().filter(pk=instance.pk).first()
    return record_state(fresh) if fresh is not None else None


def _created(instance: Any, user: User) -> None:
    revision_record(instance=instance, action=Revision.Action.CREATE, before=None, user=user)


def _updated(instance: Any, before: dict[str, Any] | None, user: User) -> None:
    revision_record(instance=instance, action=Revision.Action.UPDATE, before=before, user=user)


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
    *,
    figure: Figure,
    names: Sequence[dict[str, str]] | None = None,
    user: User = None,
    **fields: Any,
) -> Figure:
    """Change a figure; ``names`` (when given) replaces all its name variants."""
    with transaction.atomic():
        before = _locked_state(figure)
        _apply(figure, fields)
        if names is not None:
            _set_names(figure, names)
        _updated(figure, before, user)
    return figure


def source_create(*, user: User = None, **fields: Any) -> Source:
    with transaction.atomic():
        source = _apply(Source(), fields)
        _created(source, user)
        return source


def source_update(*, source: Source, user: User = None, **fields: Any) -> Source:
    with transaction.atomic():
        before = _locked_state(source)
        _apply(source, fields)
        _updated(source, before, user)
        return source


def citation_create(
    *,
    source: Source,
    target: Any | None = None,
    user: User = None,
    **fields: Any,
) -> Citation:
    """A citation of ``source``, attached to ``target`` (any catalogue record) if given."""
    with transaction.atomic():
        citation = Citation(source=source, **fields)
        if target is not None:
            citation.target = target
        _apply(citation, {}, exclude=["target_type"])
        _created(citation, user)
        return citation


def citation_update(
    *,
    citation: Citation,
    target: Any | None = None,
    detach: bool = False,
    user: User = None,
    **fields: Any,
) -> Citation:
    with transaction.atomic():
        before = _locked_state(citation)
        if target is not None:
            citation.target = target
        elif detach:
            citation.target_type, citation.target_id = None, None
        _apply(citation, fields, exclude=["target_type"])
        _updated(citation, before, user)
        return citation


def note_create(*, author: User, user: User = None, **fields: Any) -> Note:
    with transaction.atomic():
        note = Note(author=recorded_user(author))
        _apply(note, fields)
        _created(note, user if user is not None else author)
        return note


def note_update(*, note: Note, user: User = None, **fields: Any) -> Note:
    with transaction.atomic():
        before = _locked_state(note)
        _apply(note, fields)
        _updated(note, before, user)
        return note


def photo_update(
    *,
    photo: Photo,
    figures: Sequence[Figure] | None = None,
    user: User = None,
    **fields: Any,
) -> Photo:
    """Change a photo's catalogue record; its master scan never changes.

    ``figures`` replaces the links the caller could see; links to figures ``user`` may not see
    are kept (``access.visibility.keep_hidden``): an edit never drops what it could not show."""
    from access.visibility import keep_hidden, visible_figures

    with transaction.atomic():
        before = _locked_state(photo)
        _apply(photo, fields, exclude=["master", "figures"])
        if figures is not None:
            photo.figures.set(
                keep_hidden(list(figures), photo.figures.all(), visible_figures, user)
            )
        _updated(photo, before, user)
    return photo


def reference_create(
    *,
    user: User,
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
            catalogue=lambda artifact, step, facts: _reference_save(artifact, fields, user),
        )
        if not result.duplicate:
            return result.catalogued
        artifact = result.artifact
        from access.visibility import artifact_is_visible

        if user is not None and not artifact_is_visible(artifact.pk, user):
            # The bytes are a file this user may not see (a restricted master): pointing a new
            # reference at it would hand its id, hash and size back. Refuse, naming nothing.
            raise HiddenDuplicate("this file is already in the archive; it was not stored again")
    with transaction.atomic():
        return _reference_save(artifact, fields, user)


def _reference_save(
    artifact: Artifact, fields: dict[str, Any], user: User = None
) -> ReferenceImage:
    reference = _apply(ReferenceImage(artifact=artifact), fields)
    _created(reference, user)
    return reference


def reference_update(
    *, reference: ReferenceImage, user: User = None, **fields: Any
) -> ReferenceImage:
    with transaction.atomic():
        before = _locked_state(reference)
        _apply(reference, fields)
        _updated(reference, before, user)
        return reference


class HiddenDuplicate(Exception):
    """An upload duplicates a file the user may not see (a conflict that names nothing)."""


class HiddenDependents(Exception):
    """Deleting the record would also delete records the user may not see (a conflict)."""


def catalogue_delete(*, record: Any, user: User = None) -> None:
    """Delete a catalogue record with a revision for it and for every record deleted with it.

    Records a restoration step relied on are protected (the database refuses, and the caller
    reports a conflict): the lineage must stay whole. A delete that would take records the
    user may not see with it (a restricted note of a public figure) is refused with
    ``HiddenDependents``, naming nothing. A restricted photo's master (or a hidden reference's
    file) stays hidden after its record is gone (``WithheldFile``)."""
    from django.contrib.admin.utils import NestedObjects

    from access.visibility import hidden_records, kept_hidden_after_delete, withheld_after_delete

    with transaction.atomic():
        type(record).objects.select_for_update().filter(pk=record.pk).first()
        collector = NestedObjects(using="default")
        collector.collect([record])
        doomed = [
            obj for model, objs in collector.data.items() if model in _REVISED for obj in objs
        ]
        if user is not None and hidden_records(doomed, user):
            raise HiddenDependents(
                "deleting this record would also delete records you cannot see; "
                "ask someone who can see them"
            )
        states = [(obj, obj.pk, record_state(obj)) for obj in doomed]
        doomed_keys = {(type(obj), obj.pk) for obj in doomed}
        # Records that survive but change with it (a photo's figures, a reference's figure set
        # to null): revised too, so verify finds every record as its last revision says.
        touched = [
            (obj, record_state(obj))
            for obj in _touched_by_delete(record)
            if (type(obj), obj.pk) not in doomed_keys
        ]
        withheld = withheld_after_delete(record)
        # Records hidden only through this one (a restricted figure's reference images, whose
        # figure becomes null) stay hidden: marked restricted, revised with the others below.
        for obj in kept_hidden_after_delete(record):
            type(obj)._default_manager.filter(pk=obj.pk).update(restricted=True)
        record.delete()
        for obj, pk, state in states:
            revision_record(
                instance=obj, action=Revision.Action.DELETE, before=state, user=user, record_id=pk
            )
        for obj, before in touched:
            obj.refresh_from_db()
            revision_record(instance=obj, action=Revision.Action.UPDATE, before=before, user=user)
        for artifact_id in withheld:
            WithheldFile.objects.get_or_create(
                artifact_id=artifact_id,
                defaults={"reason": f"{type(record).__name__.lower()} {record.pk} was deleted"},
            )


_REVISED = set(RECORD_TYPES.values())


def _touched_by_delete(record: Any) -> list[Any]:
    if isinstance(record, Figure):
        return [
            *Photo.objects.filter(figures=record).order_by("pk"),
            *ReferenceImage.objects.filter(figure=record).order_by("pk"),
            *Film.objects.filter(figures=record).order_by("pk"),
        ]
    return []


def photo_approve(
    *,
    photo: Photo,
    artifact: Artifact | None,
    user: User,
    note: str = "",
    reason: str = "",
) -> Photo:
    """Mark ``artifact`` as the photo's approved restoration, with the curator's note; ``None``
    clears the choice. Only an image made from this photo's master (or the master itself) may
    be approved: anything else raises ``ValidationError`` on ``approved_artifact``. An artifact
    made by a step that judged a face "different person" needs the curator's written
    ``reason`` (``ValidationError`` on ``reason`` naming the steps); the reason is part of the
    approval's revision."""
    import datetime as dt

    from django.core.exceptions import ValidationError

    from restoration.selectors import changed_face_steps, lineage_descendants

    with transaction.atomic():
        if artifact is not None:
            made_from_master = (
                artifact.pk in lineage_descendants(artifact_id=photo.master_id).artifacts
            )
            if artifact.role != "image" or not made_from_master:
                raise ValidationError(
                    {
                        "approved_artifact": [
                            f"artifact {artifact.pk} is not an image made from this photo's "
                            f"master scan (artifact {photo.master_id})"
                        ]
                    }
                )
        reason = (reason or "").strip()
        changed = changed_face_steps(artifact_id=artifact.pk) if artifact is not None else []
        if changed and not reason:
            named = ", ".join(f"step {s.pk} ({s.operation})" for s in changed)
            raise ValidationError(
                {
                    "reason": [
                        f"artifact {artifact.pk if artifact else ''} was made by a step that "
                        f"judged a face to be a different person ({named}): approving it needs "
                        "a written reason"
                    ]
                }
            )
        before = _locked_state(photo)
        approver = recorded_user(user)
        fields: dict[str, Any] = {
            "approved_artifact": artifact,
            "approved_identity_reason": reason if changed else "",
            "approved_note": (note or "").strip() if artifact is not None else "",
            "approved_by": approver if artifact is not None else None,
            "approved_at": dt.datetime.now(dt.UTC) if artifact is not None else None,
        }
        _apply(photo, fields, exclude=["master", "figures"])
        _updated(photo, before, user)
    return photo


def face_confirm(
    *,
    face_id: int,
    figure: Figure,
    user: User,
    citation: Citation | None = None,
    rationale: str = "",
) -> FaceIdentification:
    """Record that face ``face_id`` shows ``figure`` ("this face is 李大钊"), backed by a
    citation or a written rationale (``ValidationError`` without either): a catalogue fact
    with a revision, logged. Confirming the same pair again updates its evidence."""
    from django.core.exceptions import ValidationError

    rationale = (rationale or "").strip()
    if citation is None and not rationale:
        raise ValidationError(
            {"rationale": ["confirming a face needs a citation or a written rationale"]}
        )
    with transaction.atomic():
        existing = (
            FaceIdentification.objects.select_for_update()
            .filter(face_id=face_id, figure=figure)
            .first()
        )
        if existing is not None:
            before = record_state(existing)
            existing.citation, existing.rationale = citation, rationale
            existing.confirmed_by = recorded_user(user)
            existing.save()
            _updated(existing, before, user)
            return existing
        made = FaceIdentification.objects.create(
            face_id=face_id,
            figure=figure,
            citation=citation,
            rationale=rationale,
            confirmed_by=recorded_user(user),
        )
        _created(made, user)
    return made
