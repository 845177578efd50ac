"""Film pages: the list, one film (player, before/after in sync side by side or as a wipe,
timeline with shots and keyframes, frame stepping, a form to run film pipelines), and the
files the player needs (proxies with HTTP ranges, the change summary's before/after strip).
Visibility comes from ``access``; writes go through ``restoration.jobs``."""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Prefetch
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from access.actions import can_submit_jobs
from access.visibility import artifact_is_visible, visible_figures, visible_films
from archive.films import film_derivatives
from archive.models import Figure, Film
from restoration.film_jobs import film_shots
from restoration.models import Artifact, Step
from restoration.services import proxy_key, sidecar_key
from web.access import visible_artifact_or_404
from web.views.common import citations_prefetch, login_required_unless_public

# The operations offered by the form, in the order a restorer usually runs them.
FORM_OPERATIONS = (
    "dedupe",
    "scene_detect",
    "stabilize",
    "deflicker",
    "temporal_denoise",
    "per_frame",
    "colorize_keyframes",
    "interpolate",
    "retime",
)


def _fps_float(text: str) -> float:
    num, _sep, den = (text or "24/1").partition("/")
    try:
        return int(num) / int(den or 1)
    except (ValueError, ZeroDivisionError):
        return 24.0


def _generating_step(artifact: Artifact, *fields: str) -> Step | None:
    """The step that made ``artifact``, with ``fields`` only; None for a master (no step did)."""
    if artifact.generated_by_id is None:
        return None
    return Step.objects.filter(pk=artifact.generated_by_id).only(*fields).first()


def _timeline(artifact: Artifact) -> dict[str, Any]:
    """What the player and the timeline need about one video artifact, as JSON."""
    step = _generating_step(artifact, "id", "operation", "parameters", "change_summary", "kind")
    keyframes: list[int] = []
    if step is not None and step.operation == "colorize_keyframes":
        for keyframe in (step.parameters or {}).get("keyframes") or []:
            if isinstance(keyframe, dict) and isinstance(keyframe.get("frame"), int):
                keyframes.append(keyframe["frame"])
    return {
        "id": artifact.pk,
        "fps": _fps_float(artifact.fps),
        "fps_text": artifact.fps,
        "frames": int(artifact.frame_count or 0),
        "duration": float(artifact.duration or 0.0),
        "width": artifact.width,
        "height": artifact.height,
        "shots": list(film_shots(artifact) or ()),
        "keyframes": keyframes,
        "proxy": reverse("web:artifact-proxy", args=[artifact.pk]),
        "operation": step.operation if step is not None else "ingest",
    }


def film_list(request: HttpRequest) -> HttpResponse:
    if (redirect := login_required_unless_public(request)) is not None:
        return redirect
    films = visible_films(Film.objects.select_related("master"), request.user).order_by("title")
    return render(request, "web/films.html", {"films": films[:200]})


def film_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if (redirect := login_required_unless_public(request)) is not None:
        return redirect
    user = request.user
    film = get_object_or_404(
        visible_films(Film.objects.select_related("master"), user).prefetch_related(
            citations_prefetch(request),
            Prefetch("figures", queryset=visible_figures(Figure.objects.all(), user)),
        ),
        pk=pk,
    )
    versions = [a for a in film_derivatives(film) if artifact_is_visible(a.pk, user)]
    # Keyed by step id, looked up by generated_by_id: None (a master) finds nothing.
    steps: dict[int | None, Step] = {
        s.pk: s
        for s in Step.objects.filter(pk__in=[a.generated_by_id for a in versions]).only(
            "id", "operation", "kind", "change_summary", "parameters", "job_id"
        )
    }
    for artifact in versions:
        artifact.step = steps.get(artifact.generated_by_id)  # type: ignore[attr-defined]
    chosen = None
    wanted = request.GET.get("compare")
    if wanted and wanted.isdigit():
        chosen = next((a for a in versions if a.pk == int(wanted)), None)
    if chosen is None and versions:
        chosen = versions[-1]
    before = film.master
    if chosen is not None and chosen.generated_by_id:
        # Compare with what the step that made it started from.
        parent = (
            Artifact.objects.filter(used_by__step_id=chosen.generated_by_id, used_by__role="image")
            .only("id")
            .first()
        )
        if parent is not None and artifact_is_visible(parent.pk, user):
            before = Artifact.objects.get(pk=parent.pk)
    player = {
        "before": _timeline(before),
        "after": _timeline(chosen) if chosen is not None else None,
    }
    operations = _operations()
    return render(
        request,
        "web/film.html",
        {
            "film": film,
            "versions": versions,
            "chosen": chosen,
            "before": before,
            "summary": steps.get(chosen.generated_by_id).change_summary  # type: ignore[union-attr]
            if chosen is not None and chosen.generated_by_id in steps
            else None,
            "player": player,
            "operations": operations,
            "operations_json": json.dumps({op["name"]: op for op in operations}),
            "can_submit": can_submit_jobs(user),
        },
    )


def _operations() -> list[dict[str, Any]]:
    from restoration.engine.film_run import film_operation, film_operation_names

    names = film_operation_names()
    ordered = [n for n in FORM_OPERATIONS if n in names] + [
        n for n in names if n not in FORM_OPERATIONS and not n.startswith("test_")
    ]
    out = []
    for name in ordered:
        op = film_operation(name)
        out.append(
            {
                "name": name,
                "description": op.description,
                "kind": op.kind,
                "schema": op.json_schema(),
            }
        )
    return out


@require_POST
def film_job_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a film pipeline from the page's form: ``steps`` is the JSON list the form built
    (``[{"op", "params"}]``), checked by ``job_create`` like an API request."""
    from restoration.jobs import JobValidationError, job_create

    user = request.user
    film = get_object_or_404(visible_films(Film.objects.all(), user), pk=pk)
    if not can_submit_jobs(user):
        raise PermissionDenied("submitting jobs needs the restorer role")
    source = request.POST.get("input") or str(film.master_id)
    back = reverse("web:film", args=[film.pk])
    try:
        steps = json.loads(request.POST.get("steps") or "[]")
    except ValueError:
        messages.error(request, _("The pipeline could not be read."))
        return HttpResponseRedirect(back)
    try:
        job = job_create(user=user, input_id=source, steps=steps)
    except JobValidationError as exc:
        problems = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())
        messages.error(
            request, _("The pipeline was refused: %(problems)s") % {"problems": problems}
        )
        return HttpResponseRedirect(back)
    return HttpResponseRedirect(reverse("web:job", args=[job.pk]))


_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def artifact_proxy(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The small H.264 proxy of a video artifact, with HTTP ranges (the player seeks)."""
    artifact = visible_artifact_or_404(pk, request.user)
    key = proxy_key(artifact.sha256)
    if not artifact.media_type.startswith("video/") or not default_storage.exists(key):
        # A still (or a video whose proxy is gone): what there is to show is its preview.
        return HttpResponseRedirect(reverse("web:artifact-preview", args=[artifact.pk]))
    return _ranged(request, key, "video/mp4")


def step_strip(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The before/after thumbnail strip of the film step that made artifact ``pk``."""
    artifact = visible_artifact_or_404(pk, request.user)
    step = _generating_step(artifact, "change_summary")
    sha = (step.change_summary or {}).get("strip_sha256") if step is not None else None
    if not sha or not default_storage.exists(sidecar_key(sha)):
        return HttpResponse(status=204)  # made by no film step: there is no strip
    return _ranged(request, sidecar_key(sha), "image/jpeg")


def _ranged(request: HttpRequest, key: str, content_type: str) -> HttpResponseBase:
    size = default_storage.size(key)
    start, end = 0, size - 1
    status = 200
    match = _RANGE.match(request.headers.get("Range", "").strip())
    if match and (match.group(1) or match.group(2)):
        if match.group(1):
            start = int(match.group(1))
            end = min(size - 1, int(match.group(2))) if match.group(2) else size - 1
        else:
            start = max(0, size - int(match.group(2)))
        if start > end or start >= size:
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            return refused
        status = 206
    handle = default_storage.open(key, "rb")
    handle.seek(start)
    length = end - start + 1

    def chunks() -> Any:
        left = length
        try:
            while left > 0:
                block = handle.read(min(256 * 1024, left))
                if not block:
                    break
                left -= len(block)
                yield block
        finally:
            handle.close()

    response = StreamingHttpResponse(chunks(), status=status, content_type=content_type)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response
