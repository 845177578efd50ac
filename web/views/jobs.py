"""Jobs: the pipeline form, the live job page and its JSON status; manual steps."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from access.actions import can_cancel, can_record_manual_steps, can_submit_jobs
from access.visibility import visible_citations, visible_jobs, visible_references
from archive.models import Citation, ReferenceImage
from restoration.imagefile import ImageRejected
from restoration.jobs import JobNotCancellable, JobValidationError, job_cancel, job_create
from restoration.jobstate import TERMINAL
from restoration.manual import ManualStepRejected, step_record_manual
from restoration.models import Job, JobEvent, Step, StepOutput
from web.access import visible_artifact_or_404
from web.forms import ManualStepForm, PipelineRow, operation_choices, parse_pipeline
from web.views.common import login_required_unless_public

FINISHED = TERMINAL


def job_new(request: HttpRequest, pk: int) -> HttpResponse:
    """The pipeline form for one input artifact (restorers only)."""
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    artifact = visible_artifact_or_404(pk, request.user)
    if not can_submit_jobs(request.user):
        raise PermissionDenied(_("Only restorers may submit restoration jobs."))
    operations = operation_choices()
    rows = [PipelineRow(op="denoise", params_text=json.dumps(_defaults(operations, "denoise")))]
    errors: list[str] = []
    seed: int | str = 0
    on_behalf_of = ""
    if request.method == "POST":
        submission = parse_pipeline(request.POST)
        rows, errors, seed, on_behalf_of = (
            submission.rows,
            submission.errors,
            submission.seed,
            submission.on_behalf_of,
        )
        if submission.valid:
            try:
                job = job_create(
                    user=request.user,
                    input_id=artifact.pk,
                    steps=submission.steps,
                    seed=int(seed),
                    on_behalf_of=on_behalf_of,
                )
            except JobValidationError as exc:
                submission.add_service_errors(exc.message_dict)
                errors = submission.errors
            else:
                messages.success(request, _("Job %(id)s queued.") % {"id": job.pk})
                return redirect("web:job", pk=job.pk)
    return render(
        request,
        "web/job_new.html",
        {
            "artifact": artifact,
            "operations": operations,
            "defaults": {o.name: o.defaults for o in operations},
            "rows": rows,
            "errors": errors,
            "seed": seed,
            "on_behalf_of": on_behalf_of,
        },
        status=400 if errors or any(r.errors for r in rows) else 200,
    )


def _defaults(operations: list, name: str) -> dict:  # type: ignore[type-arg]
    return next((o.defaults for o in operations if o.name == name), {})


def _visible_job_or_404(request: HttpRequest, pk: int) -> Job:
    jobs = visible_jobs(Job.objects.select_related("input", "output", "requester"), request.user)
    return get_object_or_404(jobs, pk=pk)


def job_list(request: HttpRequest) -> HttpResponse:
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    jobs = visible_jobs(Job.objects.select_related("requester"), request.user)
    mine = request.GET.get("mine") == "1"
    if mine and request.user.is_authenticated:
        jobs = jobs.filter(requester=request.user)
    return render(request, "web/jobs.html", {"jobs": jobs[:100], "mine": mine})


def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    job = _visible_job_or_404(request, pk)
    return render(
        request,
        "web/job.html",
        {
            "job": job,
            "steps": _job_steps(job),
            "events": _job_events(job),
            "finished": job.status in FINISHED,
            "can_cancel": can_cancel(request.user, job) and job.status not in FINISHED,
            "can_submit": can_submit_jobs(request.user),
        },
    )


def _job_steps(job: Job) -> list[Step]:
    """The job's recorded steps, each with ``image_output_id`` (a step may also output a mask)."""
    steps = list(job.steps.order_by("job_index", "id"))
    outputs = dict(
        StepOutput.objects.filter(step__in=steps, role="image").values_list(
            "step_id", "artifact_id"
        )
    )
    for step in steps:
        step.image_output_id = outputs.get(step.pk)  # type: ignore[attr-defined]
    return steps


def _job_events(job: Job) -> list[JobEvent]:
    """The job's history, oldest first (the same rows the API's ``events`` lists)."""
    return list(JobEvent.objects.filter(job=job).order_by("at", "id"))


def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the job page polls: a few fields plus the fragments it swaps in."""
    job = _visible_job_or_404(request, pk)  # visible_jobs is empty for whoever may not look
    steps = _job_steps(job)
    context = {
        "job": job,
        "steps": steps,
        "events": _job_events(job),
        "can_submit": can_submit_jobs(request.user),
    }
    return JsonResponse(
        {
            "id": job.pk,
            "status": job.status,
            "status_display": job.get_status_display(),
            "progress": round(job.progress, 4),
            "current_step": job.current_step,
            "error": job.error if job.status in FINISHED else "",
            "output": job.output_id,
            "steps_html": render_to_string("web/_job_steps.html", context, request=request),
            "events_html": render_to_string("web/_job_events.html", context, request=request),
            "output_html": render_to_string("web/_job_output.html", context, request=request)
            if job.output_id
            else "",
        },
        headers={"Cache-Control": "no-store"},
    )


@require_POST
def job_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = _visible_job_or_404(request, pk)
    if not can_cancel(request.user, job):
        raise PermissionDenied(_("Only the requester or a supervisor may cancel this job."))
    try:
        job_cancel(job_id=job.pk, user=request.user)
    except JobNotCancellable as exc:
        messages.error(request, _("The job already ended: %(status)s.") % {"status": exc.status})
    else:
        messages.info(request, _("Cancellation requested."))
    return redirect("web:job", pk=job.pk)


def manual_step_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a retouch made in another tool, citing sources and reference images."""
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    artifact = visible_artifact_or_404(pk, request.user)
    if not can_record_manual_steps(request.user):
        raise PermissionDenied(_("Only restorers may record manual steps."))
    citations = [
        (
            c.pk,
            f"{c.source.title}{', ' + c.locator if c.locator else ''}{': ' + c.claim if c.claim else ''}",
        )
        for c in visible_citations(
            Citation.objects.select_related("source"), request.user
        ).order_by("-id")[:300]
    ]
    references = [
        (r.pk, f"{r.title or r.get_kind_display()} (#{r.pk})")
        for r in visible_references(ReferenceImage.objects.all(), request.user).order_by("-id")[
            :300
        ]
    ]
    form = ManualStepForm(
        request.POST or None, request.FILES or None, citations=citations, references=references
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["image"]
        try:
            step = step_record_manual(
                input_artifact_id=artifact.pk,
                image=upload,
                rationale=form.cleaned_data["rationale"],
                user=request.user,
                citation_ids=[int(i) for i in form.cleaned_data["citations"]],
                reference_ids=[int(i) for i in form.cleaned_data["references"]],
                on_behalf_of=form.cleaned_data["on_behalf_of"],
                tool=form.cleaned_data["tool"],
                filename=upload.name or "",
            )
        except (ManualStepRejected, ImageRejected) as exc:
            form.add_error(None, str(exc))
        else:
            output = step.produced.filter(role="image").first()
            messages.success(request, _("Manual step %(id)s recorded.") % {"id": step.pk})
            return redirect("web:artifact", pk=output.artifact_id if output else artifact.pk)
    return render(
        request,
        "web/manual_new.html",
        {"artifact": artifact, "form": form},
        status=400 if form.errors else 200,
    )
