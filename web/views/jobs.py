"""Jobs: the pipeline form, the live job page and its JSON status; manual steps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from access.actions import can_cancel, can_record_manual_steps, can_submit_jobs
from access.visibility import visible_jobs
from restoration.imagefile import ImageRejected
from restoration.jobs import JobNotCancellable, job_cancel
from restoration.jobstate import TERMINAL
from restoration.manual import ManualStepRejected, step_record_manual
from restoration.models import Job, JobEvent, Step, StepOutput
from restoration.selectors import job_identity_verdicts
from web.access import visible_artifact_or_404
from web.forms import ManualStepForm
from web.views.common import login_required_unless_public
from web.workbench import research_for

FINISHED = TERMINAL


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


def job_summary(job: Job) -> dict[str, Any]:
    """Status, progress and the time left (estimated from the progress rate since the job
    last started running), as the job and batch pages poll them."""
    running_since = (
        JobEvent.objects.filter(job=job, to_status=Job.Status.RUNNING)
        .order_by("-at", "-id")
        .values_list("at", flat=True)
        .first()
    )
    elapsed = (dt.datetime.now(dt.UTC) - running_since).total_seconds() if running_since else 0.0
    eta = None
    if job.status == Job.Status.RUNNING and 0.01 <= job.progress < 1 and elapsed > 0:
        eta = round(elapsed * (1 - job.progress) / job.progress, 1)
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "progress": round(job.progress, 4),
        "current_step": job.current_step,
        "elapsed_s": round(elapsed, 1),
        "eta_s": eta,
        "cancel_requested": bool(getattr(job, "cancel_requested", False)),
        "error": job.error if job.status in FINISHED else "",
        "output": job.output_id,
        # issue 22: the worst identity verdict of its steps (a batch reports it per photo)
        "identity": job_identity_verdicts([job.pk]).get(job.pk, ""),
    }


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
            **job_summary(job),
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
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    try:
        job_cancel(job_id=job.pk, user=request.user)
    except JobNotCancellable as exc:
        text = _("The job already ended: %(status)s.") % {"status": exc.status}
        if wants_json:
            return JsonResponse({"message": text}, status=409)
        messages.error(request, text)
    else:
        if wants_json:  # the page shows it in place: no message left behind for later
            job.refresh_from_db()
            return JsonResponse(job_summary(job), status=202)
        messages.info(request, _("Cancellation requested."))
    return redirect("web:job", pk=job.pk)


def manual_step_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a retouch made in another tool, citing sources and reference images."""
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    artifact = visible_artifact_or_404(pk, request.user)
    if not can_record_manual_steps(request.user):
        raise PermissionDenied(_("Only restorers may record manual steps."))
    # Only the evidence around this picture (its photos' and figures' citations, the figures'
    # reference images), not every record of the archive.
    research = research_for(artifact, request.user)
    citations = [
        (
            c.pk,
            f"{c.source.title}{', ' + c.locator if c.locator else ''}{': ' + c.claim if c.claim else ''}",
        )
        for c in research.citations
    ]
    references = [
        (r.pk, f"{r.title or r.get_kind_display()} (#{r.pk})") for r in research.references
    ]
    form = ManualStepForm(
        request.POST or None, request.FILES or None, citations=citations, references=references
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["image"]
        from restoration.manual_animation import is_animation_upload, step_record_manual_animation

        # issue 12: an animation made in another tool is recorded as synthetic, not a retouch
        animated = is_animation_upload(upload, upload.name or "")
        record = step_record_manual_animation if animated else step_record_manual
        try:
            step = record(
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
