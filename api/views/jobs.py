"""Jobs (submit, watch, cancel), the operations this installation can run, registered models."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from access.actions import SUBMIT_JOB, can_cancel
from access.visibility import can_view_catalogue, visible_jobs
from api import filters
from api import serializers as api_serializers
from api.base import ApiViewMixin
from api.links import attach_job_parts
from api.throttling import JobSubmitThrottle
from restoration.models import Job, JobEvent, ModelWeights, Step


@extend_schema_view(
    list=extend_schema(summary="List jobs"),
    retrieve=extend_schema(
        summary="A job: status, progress (0..1), steps, output, history",
        description="`events` is the job's history, oldest first: its creation and every "
        "status change, each with when (`at`), `from_status`, `to_status`, who asked "
        "(`actor`, a username) or which worker did it (`worker`), and the `reason`.",
    ),
    create=extend_schema(
        summary="Submit a restoration pipeline",
        description='`{"input": <artifact id>, "steps": [{"op": "denoise", "params": {...}}]}`. '
        "The whole pipeline is validated up front (each bad field named, e.g. "
        "`steps.1.params.strength`) and queued: **202** with the job. Submissions are "
        "throttled per user (`ARCHIVE_JOB_SUBMIT_RATE`).",
        request=api_serializers.JobCreateSerializer,
        responses={202: api_serializers.JobSerializer},
    ),
)
class JobViewSet(
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Restoration jobs: a pipeline of operations on one input artifact."""

    queryset = Job.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = api_serializers.JobSerializer
    filterset_class = filters.JobFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["id", "created_at", "status"]
    lookup_value_regex = r"[^/]+"  # checked in ApiViewMixin.initial: JSON 404, not HTML
    # Cancel: the requester, or whoever may change any job (access.actions.can_cancel, checked
    # in the action on the job itself, as the job page does).
    write_permissions = {"create": [SUBMIT_JOB], "cancel": []}
    extra_error_codes = {"create": ("429",), "cancel": ("409",)}

    def get_queryset(self):
        jobs = visible_jobs(Job.objects.all(), self.request.user).select_related("requester")
        if getattr(self, "action", None) == "list":
            return jobs  # steps, links and events: api.links.attach_job_parts, per page
        steps = Step.objects.order_by("job_index", "id").prefetch_related(
            "inputs", "produced", "citations", "references"
        )
        return jobs.prefetch_related(
            Prefetch("steps", queryset=steps),
            Prefetch("events", queryset=JobEvent.objects.order_by("at", "id")),
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A page of jobs: its steps, their link rows and its events read once each and
        grouped in Python (api.links), not by a prefetch per job and per step."""
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        jobs = attach_job_parts(page if page is not None else queryset)
        data = self.get_serializer(jobs, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def get_throttles(self):
        if getattr(self, "action", None) == "create":
            return [JobSubmitThrottle()]
        return super().get_throttles()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from restoration.jobs import job_create

        form = api_serializers.JobCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        job = job_create(
            user=request.user,
            input_id=data["input"],
            steps=[{"op": s["op"], "params": s.get("params", {})} for s in data["steps"]],
            seed=data.get("seed", 0),
            on_behalf_of=data.get("on_behalf_of", ""),
        )
        fresh = self.reread(job)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Cancel a job",
        description="A queued job is cancelled at once; a running one stops at its next tile or "
        "step boundary. Your own jobs only, unless you may change any job (admins). "
        "**409** when it already succeeded or failed.",
        request=None,
        responses={200: api_serializers.JobSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        from restoration.jobs import job_cancel

        job = self.get_object()
        if not can_cancel(request.user, job):
            raise exceptions.PermissionDenied("you can cancel only the jobs you submitted")
        job_cancel(job_id=job.pk, user=request.user)
        fresh = self.reread(job)
        return Response(self.get_serializer(fresh).data)


class OperationsView(ApiViewMixin, viewsets.ViewSet):
    """The operations of the engine registry, with parameter schemas and availability here."""

    lookup_field = "name"
    lookup_value_regex = r"[^/]+"
    pagination_class = None

    @extend_schema(
        summary="Operations this installation can run",
        responses=api_serializers.OperationSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        from restoration.engine import list_operations
        from restoration.film_jobs import film_operations_listing
        from restoration.registry import engine_env

        env = engine_env()
        # Still operations, then the film operations (issue 13: `media: "film"`).
        return Response(
            [_operation(op, env) for op in list_operations()] + film_operations_listing()
        )

    @extend_schema(summary="One operation", responses=api_serializers.OperationSerializer)
    def retrieve(self, request: Request, name: str | None = None) -> Response:
        from restoration.engine import ParamError, get_operation
        from restoration.film_jobs import film_operation_entry, is_film_operation
        from restoration.registry import engine_env

        if is_film_operation(name) and not str(name).startswith("test_"):
            return Response(film_operation_entry(str(name)))
        try:
            op = get_operation(name or "")
        except ParamError:
            raise exceptions.NotFound(f"no operation named {name!r}") from None
        return Response(_operation(op, engine_env()))


def _operation(op: Any, env: Any) -> dict[str, Any]:
    availability = op.availability(env)
    return {
        "name": op.name,
        "version": op.version,
        "kind": op.kind,
        "description": op.description,
        "params_schema": op.json_schema(),
        "input_roles": dict(op.input_roles),
        "output_roles": list(op.output_roles),
        "available": bool(availability.ok),
        "reason": availability.reason,
    }


@extend_schema_view(
    list=extend_schema(summary="Registered model weights"),
    retrieve=extend_schema(summary="One registered model"),
)
class ModelWeightsViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Registered model weights (by sha256), usable by the AI operations."""

    serializer_class = api_serializers.ModelWeightsSerializer
    filterset_class = filters.ModelWeightsFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["name", "registered_at", "id"]
    lookup_value_regex = r"[^/]+"  # checked in ApiViewMixin.initial: JSON 404, not HTML
    queryset = ModelWeights.objects.all()

    def get_queryset(self):
        if not can_view_catalogue(self.request.user):
            return ModelWeights.objects.none()
        return ModelWeights.objects.all()
