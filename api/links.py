"""Link rows read once per page and grouped in Python (issue 16), as
``restoration.selectors.load_step_parts`` does for lineages: a page of jobs or steps costs a
fixed number of queries and no per-parent prefetch machinery (Django's ``prefetch_related``
builds a queryset per parent object per relation: most of the jobs list's time)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from restoration.models import (
    Job,
    JobEvent,
    Step,
    StepCitation,
    StepInput,
    StepOutput,
    StepReference,
)


@dataclass
class StepLinks:
    """What ``StepSerializer`` shows of a step's link rows (ids only)."""

    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    citations: list[int] = field(default_factory=list)
    references: list[int] = field(default_factory=list)


def attach_step_links(steps: Sequence[Step]) -> None:
    """Set ``step.links`` on each step: four queries for all of them."""
    ids = [s.pk for s in steps]
    links: dict[int, StepLinks] = {pk: StepLinks() for pk in ids}
    if ids:
        for step_id, artifact_id, role, position in (
            StepInput.objects.filter(step_id__in=ids)
            .order_by("step_id", "role", "position")
            .values_list("step_id", "artifact_id", "role", "position")
        ):
            links[step_id].inputs.append(
                {"artifact": artifact_id, "role": role, "position": position}
            )
        for step_id, artifact_id, role in (
            StepOutput.objects.filter(step_id__in=ids)
            .order_by("step_id", "role", "id")
            .values_list("step_id", "artifact_id", "role")
        ):
            links[step_id].outputs.append({"artifact": artifact_id, "role": role})
        for step_id, citation_id in (
            StepCitation.objects.filter(step_id__in=ids)
            .order_by("step_id", "citation_id")
            .values_list("step_id", "citation_id")
        ):
            links[step_id].citations.append(citation_id)
        for step_id, reference_id in (
            StepReference.objects.filter(step_id__in=ids)
            .order_by("step_id", "reference_id")
            .values_list("step_id", "reference_id")
        ):
            links[step_id].references.append(reference_id)
    for step in steps:
        step.links = links[step.pk]  # type: ignore[attr-defined]


def _cache(obj: Any, name: str, rows: list[Any]) -> None:
    """Hand ``rows`` to ``obj.<name>.all()`` as a prefetch would (Django's prefetch cache)."""
    cache = getattr(obj, "_prefetched_objects_cache", None)
    if cache is None:
        cache = obj._prefetched_objects_cache = {}
    cache[name] = rows


def attach_job_parts(jobs: Iterable[Job]) -> list[Job]:
    """Steps (with their links) and events of a page of jobs: six queries in all."""
    jobs = list(jobs)
    ids = [j.pk for j in jobs]
    steps: dict[int, list[Step]] = defaultdict(list)
    events: dict[int, list[JobEvent]] = defaultdict(list)
    if ids:
        all_steps = list(Step.objects.filter(job_id__in=ids).order_by("job_index", "id"))
        attach_step_links(all_steps)
        for step in all_steps:
            steps[step.job_id].append(step)  # type: ignore[index]
        for event in JobEvent.objects.filter(job_id__in=ids).order_by("at", "id"):
            events[event.job_id].append(event)
    for job in jobs:
        _cache(job, "steps", steps[job.pk])
        _cache(job, "events", events[job.pk])
    return jobs


# --- catalogue lists: names, citations and figures of a page, as rows --------------------------


class IdRef(NamedTuple):
    """Stands for a record in a list the serializers only read ``pk`` from."""

    pk: int


def _cited(model: type[Any], ids: list[int], user: Any) -> dict[int, list[IdRef]]:
    """The visible citations of records ``ids`` of ``model``, by record, in id order."""
    from access.visibility import visible_citations
    from archive.models import Citation

    by_record: dict[int, list[IdRef]] = defaultdict(list)
    rows = (
        visible_citations(Citation.objects.filter(target_id__in=ids), user, target=model)
        .order_by("id")
        .values_list("target_id", "pk")
    )
    for target_id, pk in rows:
        assert target_id is not None  # filtered on target_id__in=ids
        by_record[target_id].append(IdRef(pk))
    return by_record


def attach_figure_parts(figures: Sequence[Any], user: Any) -> None:
    """Names (as rows) and visible citation ids of a page of figures: two queries, no
    per-figure prefetch querysets."""
    from archive.models import Figure, FigureName

    ids = [f.pk for f in figures]
    names: dict[int, list[dict[str, str]]] = defaultdict(list)
    cited: dict[int, list[IdRef]] = {}
    if ids:
        for figure_id, name, language, kind in (
            FigureName.objects.filter(figure_id__in=ids)
            .order_by("id")
            .values_list("figure_id", "name", "language", "kind")
        ):
            names[figure_id].append({"name": name, "language": language, "kind": kind})
        cited = _cited(Figure, ids, user)
    for figure in figures:
        _cache(figure, "names", names[figure.pk])
        figure.visible_citations = cited.get(figure.pk, [])


def attach_photo_parts(photos: Sequence[Any], user: Any) -> None:
    """Visible figure ids and visible citation ids of a page of photos: two queries."""
    from access.visibility import visible_figures
    from archive.models import Figure, Photo

    ids = [p.pk for p in photos]
    shown: dict[int, list[IdRef]] = defaultdict(list)
    cited: dict[int, list[IdRef]] = {}
    if ids:
        visible = visible_figures(Figure.objects.all(), user).values("pk")
        for photo_id, figure_id in (
            Photo.figures.through.objects.filter(photo_id__in=ids, figure_id__in=visible)
            .order_by("figure_id")
            .values_list("photo_id", "figure_id")
        ):
            shown[photo_id].append(IdRef(figure_id))
        cited = _cited(Photo, ids, user)
    for photo in photos:
        photo.visible_figures = shown[photo.pk]
        photo.visible_citations = cited.get(photo.pk, [])
