"""Catalogue pages: home, search, figure, photo."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from access.actions import can_submit_jobs
from access.visibility import (
    visible_artifacts,
    visible_figures,
    visible_notes,
    visible_photos,
    visible_references,
)
from archive.models import Figure, FigureName, Note, Photo, ReferenceImage
from restoration.models import Artifact, Step
from restoration.selectors import lineage_descendants
from web.views.common import citations_prefetch, login_required_unless_public

SEARCH_LIMIT = 100


def home(request: HttpRequest) -> HttpResponse:
    if (redirect := login_required_unless_public(request)) is not None:
        return redirect
    photos = visible_photos(Photo.objects.select_related("master"), request.user).order_by(
        "-created_at"
    )[:24]
    figures = visible_figures(Figure.objects.prefetch_related("names"), request.user)[:50]
    return render(request, "web/home.html", {"photos": photos, "figures": figures})


def search_figures(query: str, request: HttpRequest) -> QuerySet[Figure]:
    """Figures whose display name or any name variant (any script) contains ``query``."""
    by_variant = FigureName.objects.filter(name__icontains=query).values("figure_id")
    matches = Q(name__icontains=query) | Q(pk__in=by_variant) | Q(wikidata_id__iexact=query)
    return visible_figures(Figure.objects.filter(matches).prefetch_related("names"), request.user)


def search_photos(query: str, request: HttpRequest) -> QuerySet[Photo]:
    """Photos by title, accession number, or showing a figure that matches."""
    figures = search_figures(query, request).values("pk")
    matches = (
        Q(title__icontains=query) | Q(accession_number__icontains=query) | Q(figures__in=figures)
    )
    return visible_photos(
        Photo.objects.filter(matches).select_related("master"), request.user
    ).distinct()


def search(request: HttpRequest) -> HttpResponse:
    if (redirect := login_required_unless_public(request)) is not None:
        return redirect
    query = request.GET.get("q", "").strip()[:200]
    figures: list[Figure] = []
    photos: list[Photo] = []
    if query:
        figures = list(search_figures(query, request)[:SEARCH_LIMIT])
        photos = list(search_photos(query, request)[:SEARCH_LIMIT])
    return render(
        request, "web/search.html", {"query": query, "figures": figures, "photos": photos}
    )


def figure_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if (redirect := login_required_unless_public(request)) is not None:
        return redirect
    user = request.user
    figure = get_object_or_404(
        visible_figures(Figure.objects.all(), user).prefetch_related(
            "names", citations_prefetch(request)
        ),
        pk=pk,
    )
    photos = visible_photos(figure.photos.select_related("master"), user)
    references = visible_references(
        figure.reference_images.select_related("artifact"), user
    ).prefetch_related(citations_prefetch(request))
    notes = visible_notes(figure.notes.select_related("author"), user).prefetch_related(
        citations_prefetch(request)
    )
    return render(
        request,
        "web/figure.html",
        {"figure": figure, "photos": photos, "references": references, "notes": notes},
    )


def photo_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if (redirect := login_required_unless_public(request)) is not None:
        return redirect
    user = request.user
    photo = get_object_or_404(
        visible_photos(Photo.objects.select_related("master"), user).prefetch_related(
            citations_prefetch(request),
            Prefetch("figures", queryset=visible_figures(Figure.objects.all(), user)),
            Prefetch(
                "notes",
                queryset=visible_notes(
                    Note.objects.select_related("author"), user
                ).prefetch_related(citations_prefetch(request)),
            ),
        ),
        pk=pk,
    )
    restorations = visible_descendants(photo.master, request)
    return render(
        request,
        "web/photo.html",
        {
            "photo": photo,
            "restorations": restorations,
            "exif": sorted((photo.exif or {}).items()),
            "can_submit": can_submit_jobs(user),
        },
    )


def visible_descendants(master: Artifact, request: HttpRequest) -> list[Artifact]:
    """Restorations made from ``master`` that the user may see, oldest first, each with the
    step that made it (``artifact.step``) and whether AI generated detail anywhere on the way
    from the master (``artifact.ai``)."""
    graph = lineage_descendants(artifact_id=master.pk)
    ids = [pk for pk in graph.artifacts if pk != master.pk]
    shown = set(
        visible_artifacts(Artifact.objects.filter(pk__in=ids), request.user).values_list(
            "pk", flat=True
        )
    )
    # Artifacts come oldest first, so every input's flag is known before its outputs'.
    ai: dict[int, bool] = {}
    for artifact in graph.artifacts.values():
        step = graph.steps.get(artifact.generated_by_id or 0)
        parts = graph.parts.get(step.pk) if step else None
        inherited = any(ai.get(i.artifact_id, False) for i in parts.inputs) if parts else False
        ai[artifact.pk] = inherited or (step is not None and step.kind == Step.Kind.AI)
    restorations = []
    for pk in ids:
        artifact = graph.artifacts[pk]
        if pk not in shown or artifact.role != "image":
            continue
        artifact.step = graph.steps.get(artifact.generated_by_id or 0)  # type: ignore[attr-defined]
        artifact.ai = ai[pk]  # type: ignore[attr-defined]
        restorations.append(artifact)
    return restorations


def reference_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if (redirect := login_required_unless_public(request)) is not None:
        return redirect
    reference = get_object_or_404(
        visible_references(
            ReferenceImage.objects.select_related("artifact", "figure"), request.user
        ).prefetch_related(citations_prefetch(request)),
        pk=pk,
    )
    figure = reference.figure
    if (
        figure is not None
        and not visible_figures(Figure.objects.filter(pk=figure.pk), request.user).exists()
    ):
        figure = None
    return render(request, "web/reference.html", {"reference": reference, "figure": figure})
