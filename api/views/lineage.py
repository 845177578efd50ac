"""Artifacts and what hangs off the lineage: the file, the ancestor DAG, W3C PROV, verify and
the Content Credentials export. A restricted ancestor hides the artifact itself, and every
route asks ``access.visibility`` (as the pages do), so none of these can reveal a restricted
record. The lineage is fetched once per request and handed to verify and the exports."""

from __future__ import annotations

import logging
from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from access.actions import RECORD_MANUAL_STEP, RUN_VERIFY
from access.visibility import (
    evidence_for,
    visible_artifact,
    visible_artifacts,
    visible_lineage,
    visible_lineage_data,
    visible_steps,
)
from api import filters
from api import serializers as api_serializers
from api.base import AnyMediaRenderer, ApiViewMixin
from api.links import attach_step_links
from api.views.catalogue import _check_content_length
from restoration.models import Artifact, Step
from restoration.selectors import LineageGraph

PROV_MEDIA = {
    "json": "application/json",
    "provn": "text/provenance-notation; charset=utf-8",
    "jsonld": "application/ld+json",
}
EXPORT_MEDIA = {"jpeg": "image/jpeg", "png": "image/png", "mp4": "video/mp4"}  # mp4: videos
logger = logging.getLogger(__name__)


class LineageSerializer(serializers.Serializer):
    """The ancestor DAG back to the masters (``restoration.selectors.LineageGraph.as_dict``)."""

    # A declared field: the serializer metaclass pops it off the class (the stubs
    # see it override the attribute of the same name).
    root = serializers.IntegerField()  # type: ignore[assignment]
    direction = serializers.CharField()
    artifacts = serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))
    steps = serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))
    edges = serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))
    masters = serializers.ListField(child=serializers.IntegerField())


class AuditReportSerializer(api_serializers.VerifySerializer):
    """One recorded verify run (``restoration.audit.audit_report``)."""

    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()


class LastAuditSerializer(serializers.Serializer):
    last_audit = AuditReportSerializer(
        allow_null=True, help_text="the latest verify of this artifact's lineage; null if none"
    )


def _format_param(choices: dict[str, str], default: str) -> OpenApiParameter:
    return OpenApiParameter(
        "format",
        str,
        OpenApiParameter.QUERY,
        enum=list(choices),
        default=default,
        required=False,
        description="the output format: " + ", ".join(f"{k} ({v})" for k, v in choices.items()),
    )


def _binary(description: str, media: list[str]) -> dict[Any, Any]:
    ok: dict[Any, Any] = {
        (200, m): OpenApiResponse(OpenApiTypes.BINARY, description=description) for m in media
    }
    return ok


@extend_schema_view(
    list=extend_schema(summary="List artifacts (immutable, content-addressed files)"),
    retrieve=extend_schema(summary="An artifact's metadata"),
)
class ArtifactViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Artifacts: immutable files, content-addressed by sha256 (masters and restoration outputs)."""

    queryset = Artifact.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = api_serializers.ArtifactSerializer
    filterset_class = filters.ArtifactFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["id", "created_at", "size", "width", "height"]
    lookup_value_regex = r"[^/]+"  # checked in ApiViewMixin.initial: JSON 404, not HTML
    write_permissions = {"verify": [RUN_VERIFY]}
    extra_error_codes = {"export": ("422",)}

    def get_queryset(self):
        return visible_artifacts(Artifact.objects.all(), self.request.user)

    def get_renderers(self):
        if getattr(self, "action", None) in {"file", "prov", "export"}:
            return [JSONRenderer(), AnyMediaRenderer()]
        return super().get_renderers()

    @extend_schema(
        summary="The artifact's bytes",
        parameters=[OpenApiParameter("format", exclude=True)],
        responses=_binary(
            "the stored file, unmodified", ["image/jpeg", "image/png", "image/tiff", "image/webp"]
        ),
    )
    @action(detail=True, methods=["get"])
    def file(self, request: Request, pk: str | None = None) -> Any:
        artifact = self.get_object()
        try:
            handle = default_storage.open(artifact.storage_key, "rb")
        except FileNotFoundError:
            raise exceptions.NotFound(
                f"the stored file of artifact {artifact.pk} is missing; run verify"
            ) from None
        response = FileResponse(handle, content_type=artifact.media_type)
        response["ETag"] = f'"{artifact.sha256}"'
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        response["Content-Disposition"] = f'inline; filename="{artifact.sha256}{_suffix(artifact)}"'
        return response

    @extend_schema(summary="The ancestor lineage back to the masters", responses=LineageSerializer)
    @action(detail=True, methods=["get"])
    def lineage(self, request: Request, pk: str | None = None) -> Response:
        # only data: read as rows, no model instances (issue 16); the same answer as as_dict()
        data = visible_lineage_data(int(self.kwargs["pk"]), request.user)
        if data is None:
            raise exceptions.NotFound()
        return Response(data)

    @extend_schema(
        summary="The lineage as W3C PROV",
        parameters=[_format_param(PROV_MEDIA, "json")],
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="PROV-JSON"
            ),
            (200, "application/ld+json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="PROV-JSON-LD"
            ),
            (200, "text/provenance-notation"): OpenApiResponse(
                OpenApiTypes.STR, description="PROV-N"
            ),
        },
    )
    @action(detail=True, methods=["get"])
    def prov(self, request: Request, pk: str | None = None) -> HttpResponse:
        from restoration.exports.prov import lineage_prov

        fmt = _choice(request, PROV_MEDIA, "json")
        graph = self._visible_lineage()
        body = lineage_prov(
            graph=graph,
            fmt=fmt,  # type: ignore[arg-type]
            evidence_view=lambda ev: evidence_for(ev, request.user),  # hidden: withheld
        )
        response = HttpResponse(body, content_type=PROV_MEDIA[fmt])
        response["Content-Disposition"] = f'inline; filename="artifact-{graph.root_id}.prov.{fmt}"'
        return response

    @extend_schema(
        methods=["GET"],
        summary="The last verify of the lineage",
        description="The latest recorded audit run of this artifact's lineage, as `POST` "
        'reported it: `{"last_audit": {ok, checked, problems, audit_run, started_at, '
        'ended_at}}`, or `{"last_audit": null}` when it was never verified. Reading writes '
        "nothing; anyone who may see the artifact may read it.",
        responses=LastAuditSerializer,
    )
    @extend_schema(
        methods=["POST"],
        summary="Verify the whole lineage (auditors)",
        description="Re-hashes every file and step record back to the masters, records an audit "
        "run and reports `{ok, checked, problems}`. Needs the auditor role.",
        request=None,
        responses=AuditReportSerializer,
    )
    @action(detail=True, methods=["get", "post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        from restoration.audit import artifact_verify, audit_report, last_audit

        if request.method == "POST":  # RUN_VERIFY, checked by ArchivePermission
            report = artifact_verify(graph=self._visible_lineage(), user=request.user)
            return Response(AuditReportSerializer(report).data)
        artifact = self._visible_artifact()
        run = last_audit(artifact_id=artifact.pk)
        data = {"last_audit": audit_report(run) if run is not None else None}
        return Response(LastAuditSerializer(data).data)

    @extend_schema(
        summary="The image with signed Content Credentials (C2PA)",
        description="The artifact re-encoded as JPEG or PNG with an embedded, signed C2PA "
        "manifest describing its whole lineage; a video (an animation, a film) as H.264 MP4 "
        "(`format=mp4`, its default), whose manifest gives generated media the IPTC digital "
        "source type of generated media.",
        parameters=[_format_param(EXPORT_MEDIA, "jpeg")],
        responses=_binary("the image with its C2PA manifest", list(EXPORT_MEDIA.values())),
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str | None = None) -> HttpResponse:
        graph = self._visible_lineage()
        # issue 12: a video (an animation, a film) is exported as a signed MP4 only
        video = str(graph.root.media_type).startswith("video/")
        fmt = _choice(request, EXPORT_MEDIA, "mp4" if video else "jpeg")
        if video != (fmt == "mp4"):
            raise exceptions.ValidationError(
                {"format": ["mp4 for a video, jpeg or png for a still image"]}
            )
        data = c2pa_export(
            graph=graph, fmt=fmt, evidence_view=lambda ev: evidence_for(ev, request.user)
        )
        response = HttpResponse(data, content_type=EXPORT_MEDIA[fmt])
        response["Content-Disposition"] = (
            f'attachment; filename="artifact-{graph.root_id}.c2pa.{fmt}"'
        )
        return response

    def _visible_artifact(self) -> Artifact:
        artifact = visible_artifact(int(self.kwargs["pk"]), self.request.user)
        if artifact is None:
            raise exceptions.NotFound()
        return artifact

    def _visible_lineage(self) -> LineageGraph:
        """The artifact's ancestor graph (fetched once, for the route and what it calls), or
        404: the same ``access`` check as every other artifact route, pages included."""
        graph = visible_lineage(int(self.kwargs["pk"]), self.request.user)
        if graph is None:
            raise exceptions.NotFound()
        return graph


def c2pa_export(*, graph: LineageGraph, fmt: str, evidence_view: Any = None) -> bytes:
    """The signed export of ``restoration.exports.c2pa``; a missing signing setup or a C2PA
    library refusal is a 422 with the reason, not a 500."""
    import c2pa

    from api.errors import Unprocessable
    from restoration.exports.c2pa import C2paNotConfigured, artifact_export_c2pa

    try:
        if fmt == "mp4":  # issue 12
            from restoration.exports.c2pa_video import artifact_export_c2pa_video

            return artifact_export_c2pa_video(graph=graph, evidence_view=evidence_view)
        return artifact_export_c2pa(
            graph=graph,
            fmt=fmt,  # type: ignore[arg-type]
            evidence_view=evidence_view,
        )
    except C2paNotConfigured as exc:
        raise Unprocessable(str(exc), code="c2pa_not_configured") from exc
    except c2pa.C2paError as exc:
        logger.exception("C2PA export of artifact %s failed", graph.root_id)
        raise Unprocessable(f"the Content Credentials could not be made: {exc}") from exc


def _choice(request: Request, choices: dict[str, str], default: str) -> str:
    value = request.query_params.get("format", default) or default
    if value not in choices:
        raise exceptions.ValidationError({"format": [f"must be one of {', '.join(choices)}"]})
    return value


def _suffix(artifact: Artifact) -> str:
    return {
        "image/jpeg": ".jpg",
        "image/png": ".png",
        "image/tiff": ".tif",
        "image/webp": ".webp",
    }.get(artifact.media_type, "")


@extend_schema_view(
    list=extend_schema(summary="List restoration steps (lineage activities)"),
    retrieve=extend_schema(summary="One step's full record"),
)
class StepViewSet(
    ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Restoration steps: the lineage activities, each with its hashed record."""

    queryset = Step.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = api_serializers.StepSerializer
    lookup_value_regex = r"[^/]+"  # checked in ApiViewMixin.initial: JSON 404, not HTML
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = filters.StepFilter
    ordering_fields = ["id", "started_at"]
    write_permissions = {"manual": [RECORD_MANUAL_STEP]}
    extra_error_codes = {"manual": ("413",)}

    def get_queryset(self):
        steps = visible_steps(Step.objects.all(), self.request.user)
        if getattr(self, "action", None) == "list":
            return steps  # link rows: api.links.attach_step_links, once per page
        return steps.prefetch_related("inputs", "produced", "citations", "references")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        steps = list(page if page is not None else queryset)
        attach_step_links(steps)
        data = self.get_serializer(steps, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def get_parsers(self):
        if getattr(self, "action", None) == "manual" or self.request is None:
            return [MultiPartParser(), FormParser()]
        return super().get_parsers()

    @extend_schema(
        summary="Record a manual step (a retouch made by hand in another tool)",
        request={"multipart/form-data": api_serializers.ManualStepSerializer},
        responses={201: api_serializers.StepSerializer},
    )
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def manual(self, request: Request) -> Response:
        from restoration.manual import step_record_manual

        _check_content_length(request)
        form = api_serializers.ManualStepSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        image = data["image"]
        from restoration.manual_animation import is_animation_upload, step_record_manual_animation

        # issue 12: an animation made in another tool is recorded as synthetic, not a retouch
        animated = is_animation_upload(image, image.name or "")
        record = step_record_manual_animation if animated else step_record_manual
        step = record(
            input_artifact_id=data["input"].pk,
            image=image,
            filename=image.name,
            rationale=data["rationale"],
            user=request.user,
            citation_ids=[c.pk for c in data.get("citations", [])],
            reference_ids=[r.pk for r in data.get("references", [])],
            on_behalf_of=data.get("on_behalf_of", ""),
            tool=data.get("tool", ""),
        )
        fresh = self.reread(step)
        return Response(self.get_serializer(fresh).data, status=201)
