"""Catalogue pages: home, search, figure, photo."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from access.actions import can_approve, can_catalogue, can_submit_jobs
from access.visibility import (
    visible_artifacts,
    visible_figures,
    visible_notes,
    visible_photos,
    visible_references,
)
from archive.models import Figure, Note, Photo, ReferenceImage
from restoration.models import Artifact, ModelWeights, Step
from restoration.selectors import lineage_descendants
from web.views.common import citations_prefetch, login_required_unless_public
from web.views.faces import figure_faces_context


def home(request: HttpRequest) -> HttpResponse:
    if (redirect := login_required_unless_public(request)) is not None:
        return redirect
    photos = visible_photos(Photo.objects.select_related("master"), request.user).order_by(
        "-created_at"
    )[:24]
    figures = visible_figures(Figure.objects.prefetch_related("names"), request.user)[:50]
    user = request.user
    return render(
        request,
        "web/home.html",
        {
            "photos": photos,
            "figures": figures,
            "can_catalogue": can_catalogue(user),
            "can_submit": can_submit_jobs(user),
            "is_admin": bool(getattr(user, "is_superuser", False)),
            "models_count": ModelWeights.objects.count(),
        },
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
        {
            "figure": figure,
            "photos": photos,
            "references": references,
            "notes": notes,
            "can_catalogue": can_catalogue(user),
            **figure_faces_context(figure, user),
        },
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
    approved = next((a for a in restorations if a.pk == photo.approved_artifact_id), None)
    others = [a for a in restorations if a is not approved]
    return render(
        request,
        "web/photo.html",
        {
            "photo": photo,
            "restorations": restorations,
            "approved": approved,
            # Results first (newest first), then what later steps continued from.
            "results": [a for a in reversed(others) if not a.intermediate and not _animation(a)],  # type: ignore[attr-defined]
            "intermediates": [a for a in others if a.intermediate and not _animation(a)],  # type: ignore[attr-defined]
            # Issue 12: animations are not restorations; the page shows them apart.
            "animations": [a for a in reversed(others) if _animation(a)],
            "exif": sorted((photo.exif or {}).items()),
            "can_submit": can_submit_jobs(user),
            "can_catalogue": can_catalogue(user),
            "can_approve": can_approve(user),
        },
    )


def _animation(artifact: Artifact) -> bool:
    """Made by a synthetic step (``animate``): shown apart from the restorations."""
    step = getattr(artifact, "step", None)
    return step is not None and step.kind == Step.Kind.SYNTHETIC


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
    changed: dict[int, bool] = {}  # issue 22: a face judged another person's on the way
    for artifact in graph.artifacts.values():
        step = graph.steps.get(artifact.generated_by_id or 0)
        parts = graph.parts.get(step.pk) if step else None
        inputs = parts.inputs if parts else []
        inherited = any(ai.get(i.artifact_id, False) for i in inputs)
        ai[artifact.pk] = inherited or (step is not None and step.kind == Step.Kind.AI)
        changed[artifact.pk] = any(changed.get(i.artifact_id, False) for i in inputs) or (
            step is not None and step.identity_verdict == "different"
        )
    # An image some later step took as its image input is an intermediate, not a result.
    # (A painted mask is not a continuation: its step only drew on top of the image.)
    continued = {
        i.artifact_id
        for step_id, parts in graph.parts.items()
        for i in parts.inputs
        if i.role == "image" and getattr(graph.steps.get(step_id), "operation", "") != "mask_paint"
    }
    restorations = []
    for pk in ids:
        artifact = graph.artifacts[pk]
        if pk not in shown or artifact.role != "image":
            continue
        artifact.step = graph.steps.get(artifact.generated_by_id or 0)  # type: ignore[attr-defined]
        artifact.ai = ai[pk]  # type: ignore[attr-defined]
        artifact.face_changed = changed[pk]  # type: ignore[attr-defined]
        artifact.intermediate = pk in continued  # type: ignore[attr-defined]
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
    return render(
        request,
        "web/reference.html",
        {"reference": reference, "figure": figure, "can_catalogue": can_catalogue(request.user)},
    )
