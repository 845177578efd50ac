"""Faces in the pages (issue 22): "faces that may be this person" from a face on any image or
an uploaded photo, and a cataloguer's confirmation. The reads are restoration.faces' (the API's
too), so both answer alike and only with what the user may see."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from access.actions import can_catalogue
from access.visibility import visible_citations, visible_faces, visible_figures
from archive.models import Citation, Figure
from archive.services import face_confirm
from restoration import faces as face_index
from restoration import imagefile
from restoration.executor import OperationFailed
from restoration.models import Artifact, Face
from web.views.common import login_required_unless_public

RESULTS = 24


def _with_artifacts(matches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each match with its artifact (for the crop's size) attached."""
    artifacts = Artifact.objects.in_bulk([m["artifact"] for m in matches])
    return [{**m, "artifact_obj": artifacts.get(m["artifact"])} for m in matches]


def face_search(request: HttpRequest) -> HttpResponse:
    """GET ``?face=<id>``: faces that may show the same person; POST an ``image``: the same for
    the largest face of an uploaded photo (measured in an engine worker, never stored)."""
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    if not settings.ARCHIVE_FACE_INDEX:
        raise Http404(_("Face search is turned off in this archive."))
    user = request.user
    query: Face | None = None
    vector: np.ndarray | None = None
    error = ""
    upload = request.FILES.get("image") if request.method == "POST" else None
    if upload:
        try:
            image = imagefile.decode_rgb_or_grey(
                upload.read(), max_pixels=settings.ARCHIVE_MAX_PIXELS
            )
            measured = [f for f in face_index.measure_upload(image) if f.get("embedding")]
        except (imagefile.ImageRejected, ValueError, OSError, OperationFailed) as exc:
            measured, error = [], str(exc)
        if measured:
            vector = np.frombuffer(measured[0]["embedding"], np.float32)
        elif not error:
            error = _("No face large and sharp enough to measure was found in that image.")
    elif (raw := request.GET.get("face", "")).isdigit():
        query = get_object_or_404(visible_faces(Face.objects.all(), user), pk=int(raw))
        vector = face_index.embedding_of(query)
        if vector is None:
            error = query.reason or _("This face could not be measured.")
    matches: list[dict[str, Any]] = []
    if vector is not None:
        matches = face_index.matches_for(vector, user, RESULTS, query.pk if query else None)
    figures = visible_figures(Figure.objects.order_by("name"), user) if can_catalogue(user) else []
    return render(
        request,
        "web/faces.html",
        {
            "query_face": query,
            "query_artifact": query.artifact if query else None,
            "matches": _with_artifacts(matches),
            "searched": vector is not None,
            "error": error,
            "figures": figures,
            "can_catalogue": can_catalogue(user),
        },
    )


@require_POST
def face_confirm_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    face = get_object_or_404(visible_faces(Face.objects.all(), user), pk=pk)
    if not can_catalogue(user):
        raise PermissionDenied(_("Only cataloguers may confirm a face."))
    raw = request.POST.get("figure", "")
    figure = (
        visible_figures(Figure.objects.filter(pk=int(raw)), user).first() if raw.isdigit() else None
    )
    if figure is None:
        messages.error(request, _("Choose the figure this face shows."))
        return redirect(f"{reverse('web:faces')}?face={face.pk}")
    raw_citation = request.POST.get("citation", "")
    citation = None
    if raw_citation.isdigit():
        citation = visible_citations(Citation.objects.filter(pk=int(raw_citation)), user).first()
    try:
        face_confirm(
            face_id=face.pk,
            figure=figure,
            user=user,
            citation=citation,
            rationale=request.POST.get("rationale", ""),
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("web:figure", pk=figure.pk)
    messages.success(request, _("The face is now confirmed as %(name)s.") % {"name": figure.name})
    return redirect("web:figure", pk=figure.pk)


def figure_faces_context(figure: Figure, user: Any) -> dict[str, Any]:
    """The figure page's faces: its confirmed faces and faces that may be theirs."""
    found = face_index.figure_faces(figure, user, search=bool(settings.ARCHIVE_FACE_INDEX))
    confirmed = _with_artifacts(found["confirmed"])
    return {"confirmed_faces": confirmed, "face_matches": _with_artifacts(found["matches"][:12])}
