"""Films in the catalogue: writes (``film_ingest``, ``film_ingest_sequence``, ``film_update``)
and reads. Ingest stores the master video, its Artifact, an ``ingest`` Step and the Film in one
go (``restoration.services.video_ingest``): either all exist afterwards, or none (no file)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.db import transaction

from archive.models import Figure, Film
from archive.revisions import record_state, revision_record
from archive.services import catalogue_fields_checked
from restoration.imagefile import ImageRejected
from restoration.models import Artifact, Step
from restoration.services import video_ingest, video_ingest_sequence
from restoration.users import User

FILM_FIELDS = (
    "description",
    "date",
    "place",
    "maker",
    "repository",
    "accession_number",
    "carrier",
    "original_fps",
    "physical_description",
    "rights_statement",
    "restricted",
)


@dataclass(frozen=True)
class FilmIngestResult:
    film: Film | None
    artifact: Artifact
    duplicate: bool
    notes: tuple[str, ...] = ()


def _checked(metadata: dict[str, Any]) -> dict[str, Any]:
    from restoration.engine.video import fraction_text, parse_fps

    catalogue_fields_checked(
        metadata,
        kind="film",
        allowed=FILM_FIELDS,
        carriers=Film.Carrier.values,
        date_label="date: ",
    )
    if metadata.get("original_fps") not in (None, ""):
        try:
            metadata["original_fps"] = fraction_text(parse_fps(metadata["original_fps"]))
        except ValueError as exc:
            raise ImageRejected(f"original_fps: {exc}", code="invalid_field") from None
    return metadata


def _catalogue(
    *, title: str, filename: str, figure_ids: list[int], metadata: dict[str, Any], user: User
) -> Callable[[Artifact, Step, Any], Film]:
    def catalogue(master: Artifact, step: Step, probed: Any) -> Film:
        figures = list(Figure.objects.filter(pk__in=figure_ids))
        missing = sorted(set(figure_ids) - {f.pk for f in figures})
        if missing:
            raise ImageRejected(f"no figure with id {missing}", code="invalid_field")
        film = Film(title=(title or filename)[:500], master=master, **metadata)
        film.full_clean(exclude=["master", "figures"])
        film.save()
        film.figures.set(figures)
        _revision(film, "create", None, user)
        return film

    return catalogue


def _revision(film: Film, action: str, before: dict[str, Any] | None, user: User) -> None:
    """A revision of the film record, written in the write's transaction, as for photos."""
    revision_record(instance=film, action=action, before=before, user=user)


def _state(film: Film) -> dict[str, Any] | None:
    """The film's state before a write, read from the locked row (not the caller's instance,
    which may be stale), as ``archive.services`` does for photos."""
    fresh = Film.objects.select_for_update().filter(pk=film.pk).first()
    return record_state(fresh) if fresh is not None else None


def film_ingest(
    *,
    stream: IO[bytes],
    filename: str,
    title: str = "",
    user: User = None,
    figure_ids: Iterable[int] = (),
    metadata: dict[str, Any] | None = None,
) -> FilmIngestResult:
    """Ingest a master video file (MP4, MOV, MKV, AVI...) and catalogue it as a Film.

    Raises ``ImageRejected`` (its code says which kind of refusal) for anything that is not a
    sound video or a bad catalogue field; nothing is written then. The same bytes twice give
    ``duplicate=True`` with the existing artifact and film."""
    metadata = _checked(dict(metadata or {}))
    result = video_ingest(
        stream=stream,
        filename=filename,
        user=user,
        catalogue=_catalogue(
            title=title,
            filename=filename,
            figure_ids=list(figure_ids),
            metadata=metadata,
            user=user,
        ),
    )
    return _result(result)


def film_ingest_sequence(
    *,
    frames: Sequence[tuple[str, Callable[[], IO[bytes]]]],
    fps: Any,
    source_name: str,
    title: str = "",
    user: User = None,
    figure_ids: Iterable[int] = (),
    metadata: dict[str, Any] | None = None,
) -> FilmIngestResult:
    """Ingest numbered PNG/TIFF frames at the declared ``fps`` as a Film (the master is a
    lossless FFV1/Matroska made from the frames; the ingest step names the source)."""
    metadata = _checked(dict(metadata or {}))
    metadata.setdefault("original_fps", "")
    result = video_ingest_sequence(
        frames=frames,
        fps=fps,
        source_name=source_name,
        user=user,
        catalogue=_catalogue(
            title=title,
            filename=source_name,
            figure_ids=list(figure_ids),
            metadata=metadata,
            user=user,
        ),
    )
    return _result(result)


def _result(result: Any) -> FilmIngestResult:
    if result.duplicate:
        return FilmIngestResult(
            film=Film.objects.filter(master=result.artifact).first(),
            artifact=result.artifact,
            duplicate=True,
            notes=result.notes,
        )
    return FilmIngestResult(
        film=result.catalogued, artifact=result.artifact, duplicate=False, notes=result.notes
    )


def film_update(
    *,
    film: Film,
    figures: Sequence[Figure] | None = None,
    user: User = None,
    **fields: Any,
) -> Film:
    """Change a film's catalogue record; its master never changes. The catalogue fields are
    checked as at ingest (an unknown field, a bad EDTF date or carrier, a frame rate that is
    not a number: ``ValidationError``); ``figures`` replaces the links the caller could see and
    keeps those to figures ``user`` may not see (``access.visibility.keep_hidden``). Raises
    ``ImageRejected`` (code ``unknown_field`` / ``invalid_field``) as ingest does."""
    from access.visibility import keep_hidden, visible_figures

    title = fields.pop("title", None)
    fields = _checked(dict(fields))
    with transaction.atomic():
        before = _state(film)
        if title is not None:
            film.title = title
        for name, value in fields.items():
            setattr(film, name, value)
        film.full_clean(exclude=["master", "figures"])
        film.save()
        if figures is not None:
            film.figures.set(keep_hidden(list(figures), film.figures.all(), visible_figures, user))
        _revision(film, "update", before, user)
    return film


# --- reads -------------------------------------------------------------------------------------


def film_of_artifact(artifact_id: int) -> Film | None:
    """The film whose master is this artifact, or whose master this artifact derives from
    (first found by walking the generating steps' image inputs back to a master)."""
    from restoration.models import StepInput

    seen: set[int] = set()
    current: int | None = artifact_id
    while current is not None and current not in seen:
        seen.add(current)
        film = Film.objects.filter(master_id=current).first()
        if film is not None:
            return film
        generated_by = (
            Artifact.objects.filter(pk=current).values_list("generated_by_id", flat=True).first()
        )
        if generated_by is None:
            return None
        current = (
            StepInput.objects.filter(step_id=generated_by, role="image")
            .order_by("position")
            .values_list("artifact_id", flat=True)
            .first()
        )
    return None


def film_derivatives(film: Film) -> list[Artifact]:
    """Video artifacts made from the film's master by steps (breadth-first, oldest first)."""
    from restoration.models import StepInput, StepOutput

    found: list[Artifact] = []
    frontier = [film.master_id]
    seen = set(frontier)
    while frontier and len(found) < 200:
        steps = StepInput.objects.filter(artifact_id__in=frontier).values_list("step_id", flat=True)
        outputs = (
            StepOutput.objects.filter(step_id__in=list(steps))
            .select_related("artifact")
            .order_by("artifact_id")
        )
        frontier = []
        for link in outputs:
            if link.artifact_id in seen:
                continue
            seen.add(link.artifact_id)
            frontier.append(link.artifact_id)
            if str(link.artifact.media_type).startswith("video/"):
                found.append(link.artifact)
    return found
