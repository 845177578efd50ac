"""The workbench: the restore page (forms from the operations' schemas, colour hints and
masks by hand, research beside the image), its quick previews, masks, batches and approval."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from access.actions import can_approve, can_submit_jobs
from access.visibility import visible_jobs, visible_photos
from archive.models import Batch, Photo
from archive.services import photo_approve
from restoration import executor
from restoration.engine import ParamError, get_operation
from restoration.imagefile import ImageRejected
from restoration.jobs import JobValidationError, job_create
from restoration.masks import mask_record
from restoration.models import Job
from restoration.selectors import job_identity_verdicts
from restoration.users import recorded_user
from web import workbench
from web.access import visible_artifact_or_404
from web.forms import parse_pipeline
from web.operations import operation_label, operation_specs
from web.views.common import login_required_unless_public

MAX_BATCH = 200

# Colours of the period (uniform cloth, skin, lacquer, foliage): a start, not a claim.
PALETTE = (
    ("#1f3a93", gettext_noop("dark blue")),
    ("#2e4a2e", gettext_noop("dark green")),
    ("#7a1f1f", gettext_noop("dark red")),
    ("#3b2a1e", gettext_noop("dark brown")),
    ("#c8a27a", gettext_noop("skin, light")),
    ("#a8744f", gettext_noop("skin, tanned")),
    ("#1a1a1a", gettext_noop("black")),
    ("#e8e4d8", gettext_noop("off-white")),
    ("#8c8c8c", gettext_noop("grey")),
)


def _steps_from_json(text: str) -> tuple[list[dict[str, Any]] | None, list[str]]:
    try:
        steps = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None, [_("The pipeline could not be read.")]
    if not isinstance(steps, list) or not steps:
        return None, [_("Add at least one step.")]
    return steps, []


def _error_lines(message_dict: dict[str, list[str]]) -> list[str]:
    """``steps[1].params.strength: ...`` as "Step 2, strength: ..." in the reader's language."""
    import re

    lines = []
    for key, items in message_dict.items():
        match = re.match(r"^steps\[(\d+)\](?:\.params)?\.?(.*)$", key)
        for item in items:
            if match:
                where = _("Step %(n)s") % {"n": int(match.group(1)) + 1}
                if match.group(2):
                    where += f", {match.group(2)}"
                lines.append(f"{where}: {item}")
            else:
                lines.append(f"{key}: {item}")
    return lines


def job_new(request: HttpRequest, pk: int) -> HttpResponse:
    """The workbench for one input artifact (restorers only)."""
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    artifact = visible_artifact_or_404(pk, request.user)
    if not can_submit_jobs(request.user):
        raise PermissionDenied(_("Only restorers may submit restoration jobs."))
    research = workbench.research_for(artifact, request.user)
    errors: list[str] = []
    steps: list[dict[str, Any]] = [{"op": "denoise", "params": {}}]
    seed: Any = 0
    on_behalf_of = ""
    if request.method == "POST":
        seed = request.POST.get("seed", "0").strip() or "0"
        on_behalf_of = request.POST.get("on_behalf_of", "").strip()[:300]
        text = request.POST.get("pipeline_json", "").strip()
        if text:
            parsed, errors = _steps_from_json(text)
            steps = parsed or steps
        else:  # the form without JavaScript: one JSON parameters box per step
            submission = parse_pipeline(request.POST)
            steps = submission.steps or steps
            errors = submission.errors + [
                f"{_('Step %(n)s') % {'n': i + 1}}: {e}"
                for i, row in enumerate(submission.rows)
                for e in row.errors
            ]
        if not str(seed).isdigit():
            errors.append(_("The seed must be a whole number."))
        if not errors:
            try:
                job = job_create(
                    user=request.user,
                    input_id=artifact.pk,
                    steps=steps,
                    seed=int(seed),
                    on_behalf_of=on_behalf_of,
                )
            except JobValidationError as exc:
                errors = _error_lines(exc.message_dict)
            else:
                messages.success(request, _("Job %(id)s queued.") % {"id": job.pk})
                return redirect("web:job", pk=job.pk)
    specs = operation_specs(
        artifact_choices=workbench.artifact_choices(artifact, research, request.user)
    )
    return render(
        request,
        "web/job_new.html",
        {
            "artifact": artifact,
            "operations": specs,
            "research": research,
            "initial_steps": steps,
            "errors": errors,
            "palette": [(c, _(name)) for c, name in PALETTE],
            "seed": seed,
            "on_behalf_of": on_behalf_of,
            "citations_json": [
                {"id": c.pk, "label": _citation_label(c)} for c in research.citations
            ],
            "image_json": {
                "id": artifact.pk,
                "width": artifact.width,
                "height": artifact.height,
                "preview": f"/artifacts/{artifact.pk}/preview.jpg",
            },
        },
        status=400 if errors else 200,
    )


def _citation_label(c: Any) -> str:
    parts = [c.source.title]
    if c.locator:
        parts.append(c.locator)
    label = ", ".join(parts)
    return f"{label}: {c.claim}" if c.claim else label


# --- quick previews (engine workers, small copies) -------------------------------------------


@require_POST
def hints_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """A low-resolution colourisation from the hints the editor holds (nothing is recorded)."""
    artifact = visible_artifact_or_404(pk, request.user)
    if not can_submit_jobs(request.user):
        raise PermissionDenied
    try:
        body = json.loads(request.body or b"{}")
        hints = get_operation("colorize_hints").validate({"hints": body.get("hints")})["hints"]
    except (json.JSONDecodeError, AttributeError, RecursionError):
        return JsonResponse({"message": _("The hints could not be read.")}, status=400)
    except ParamError as exc:
        return JsonResponse({"message": str(exc)}, status=400)
    try:
        small, factor = workbench.small_copy(artifact)
        scaled = workbench.scaled_hints(hints, factor, (small.shape[1], small.shape[0]))
        out = workbench.run_small("colorize_hints", {"hints": scaled}, small)["image"]
    except (ValueError, executor.OperationFailed, executor.OperationCancelled) as exc:
        return JsonResponse({"message": str(exc)}, status=422)
    return HttpResponse(workbench.png_bytes(out), content_type="image/png")


def auto_mask(request: HttpRequest, pk: int) -> HttpResponse:
    """The mask ``descratch`` would detect with the given parameters, as a PNG (white =
    damaged), on a copy no larger than 1024 px: the brush page scales it over the image."""
    artifact = visible_artifact_or_404(pk, request.user)
    if not can_submit_jobs(request.user):
        raise PermissionDenied
    op = get_operation("descratch")
    wanted: dict[str, Any] = {}
    for spec in op.params:
        raw = request.GET.get(spec.name)
        if raw is None or spec.type not in ("float", "int", "str", "bool"):
            continue
        try:
            wanted[spec.name] = (
                float(raw)
                if spec.type == "float"
                else int(raw)
                if spec.type == "int"
                else raw == "true"
                if spec.type == "bool"
                else raw
            )
        except ValueError:
            return JsonResponse({"message": f"{spec.name}: {raw!r}"}, status=400)
    try:
        params = op.validate(wanted)
        small, _factor = workbench.small_copy(artifact, side=1024)
        outputs = workbench.run_small("descratch", params, small)
    except ParamError as exc:
        return JsonResponse({"message": str(exc)}, status=400)
    except (ValueError, executor.OperationFailed, executor.OperationCancelled) as exc:
        return JsonResponse({"message": str(exc)}, status=422)
    response = HttpResponse(workbench.png_bytes(outputs["mask"]), content_type="image/png")
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def mask_save(request: HttpRequest, pk: int) -> JsonResponse:
    """Record a painted mask (PNG upload ``mask``) as an artifact of role ``mask``."""
    artifact = visible_artifact_or_404(pk, request.user)
    if not can_submit_jobs(request.user):
        raise PermissionDenied
    upload = request.FILES.get("mask")
    if upload is None:
        return JsonResponse({"message": _("Send the painted mask as a PNG file.")}, status=400)
    try:
        mask = mask_record(
            image_artifact=artifact,
            mask=upload,
            user=request.user,
            rationale=request.POST.get("rationale", "")[:2000],
        )
    except ImageRejected as exc:
        return JsonResponse({"message": str(exc)}, status=400)
    return JsonResponse(
        {"id": mask.pk, "label": f"#{mask.pk} ({mask.created_at:%Y-%m-%d %H:%M})"}, status=201
    )


# --- approval ---------------------------------------------------------------------------------


@require_POST
def photo_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    photo = get_object_or_404(visible_photos(Photo.objects.all(), request.user), pk=pk)
    if not can_approve(request.user):
        raise PermissionDenied(_("Only curators may approve a restoration."))
    raw = request.POST.get("artifact", "")
    artifact = None
    if raw:
        if not raw.isdigit():
            raise Http404
        artifact = visible_artifact_or_404(int(raw), request.user)
    try:
        photo_approve(
            photo=photo,
            artifact=artifact,
            user=request.user,
            note=request.POST.get("note", ""),
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        if artifact is None:
            messages.info(request, _("The approval was withdrawn."))
        else:
            messages.success(
                request,
                _("Restoration #%(id)s is now the approved one.") % {"id": artifact.pk},
            )
    return redirect("web:photo", pk=photo.pk)


# --- batches ----------------------------------------------------------------------------------


def batch_new(request: HttpRequest) -> HttpResponse:
    """One pipeline on many selected photos (``?photos=1,2,3`` or checkboxes ``photo``)."""
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    if not can_submit_jobs(request.user):
        raise PermissionDenied(_("Only restorers may submit restoration jobs."))
    source = request.POST if request.method == "POST" else request.GET
    ids = [int(i) for i in source.getlist("photo") if i.isdigit()][:MAX_BATCH]
    photos = list(
        visible_photos(Photo.objects.filter(pk__in=ids), request.user).select_related("master")
    )
    errors: list[str] = []
    steps: list[dict[str, Any]] = [{"op": "denoise", "params": {}}]
    if request.method == "POST" and "pipeline_json" in request.POST:
        parsed, errors = _steps_from_json(request.POST["pipeline_json"])
        steps = parsed or steps
        if not photos:
            errors.append(_("Select at least one photo."))
        if not errors:
            batch = _batch_create(request, photos, steps, errors)
            if batch is not None:
                messages.success(
                    request,
                    _("Batch %(id)s: %(n)s jobs queued.")
                    % {"id": batch.pk, "n": len(batch.job_ids)},
                )
                return redirect("web:batch", pk=batch.pk)
    return render(
        request,
        "web/batch_new.html",
        {
            "photos": photos,
            "operations": operation_specs(),
            "initial_steps": steps,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


def _batch_create(
    request: HttpRequest, photos: list[Photo], steps: list[dict[str, Any]], errors: list[str]
) -> Batch | None:
    """All of the batch's jobs or none: one transaction, so the jobs are queued together once
    it commits, and a pipeline refused for one photo (e.g. over the memory budget for the
    largest scan) queues nothing, with each problem named."""
    try:
        with transaction.atomic():
            jobs: list[Job] = []
            for index, photo in enumerate(photos):
                try:
                    jobs.append(
                        job_create(user=request.user, input_id=photo.master_id, steps=steps)
                    )
                except JobValidationError as exc:
                    errors += [f"{photo.title}: {line}" for line in _error_lines(exc.message_dict)]
                    if index == 0:  # the pipeline itself is wrong: say so once
                        break
            if errors:
                raise _BatchRefused
            return Batch.objects.create(
                title=request.POST.get("title", "").strip()[:300],
                pipeline=steps,
                photo_ids=[p.pk for p in photos],
                job_ids=[j.pk for j in jobs],
                created_by=recorded_user(request.user),  # signed in: can_submit_jobs
            )
    except _BatchRefused:
        return None


class _BatchRefused(Exception):
    pass


def _batch_or_404(request: HttpRequest, pk: int) -> tuple[Batch, list[Job]]:
    batch = get_object_or_404(Batch, pk=pk)
    jobs = list(
        visible_jobs(Job.objects.filter(pk__in=batch.job_ids), request.user).select_related("input")
    )
    if not jobs:
        raise Http404("no such batch")
    order = {pk: i for i, pk in enumerate(batch.job_ids)}
    jobs.sort(key=lambda j: order.get(j.pk, 0))
    return batch, jobs


def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    batch, jobs = _batch_or_404(request, pk)
    photos = {
        p.master_id: p
        for p in visible_photos(Photo.objects.filter(pk__in=batch.photo_ids), request.user)
    }
    verdicts = job_identity_verdicts(j.pk for j in jobs)
    for job in jobs:
        job.photo = photos.get(job.input_id)  # type: ignore[attr-defined]
        job.identity = verdicts.get(job.pk, "")  # type: ignore[attr-defined]
    return render(
        request,
        "web/batch.html",
        {
            "batch": batch,
            "jobs": jobs,
            "pipeline": [operation_label(s.get("op", "")) for s in batch.pipeline],
        },
    )


def batch_status(request: HttpRequest, pk: int) -> JsonResponse:
    from web.views.jobs import job_summary

    _batch, jobs = _batch_or_404(request, pk)
    return JsonResponse(
        {"jobs": [job_summary(job) for job in jobs]}, headers={"Cache-Control": "no-store"}
    )
