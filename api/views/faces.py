"""Faces across the archive (issue 22): the measured faces of artifacts, "faces that may be this
person" by photo, by face or for a figure, and a cataloguer's confirmation of a face. Only what
the asker may see: ``access.visibility.visible_faces`` decides, inside the search."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from access import visibility
from api.base import ApiViewMixin
from archive.models import Citation, FaceIdentification, Figure
from archive.services import face_confirm
from restoration import faces as face_index
from restoration import imagefile
from restoration.executor import OperationFailed
from restoration.models import Face

MAX_RESULTS = 50


class FaceSerializer(serializers.ModelSerializer):
    measured = serializers.SerializerMethodField()
    figures = serializers.SerializerMethodField(help_text="figures this face was confirmed as")

    class Meta:
        model = Face
        fields = ["id", "artifact", "frame", "number", "box", "size", "sharpness", "score"]
        fields += ["measured", "reason", "method", "figures"]

    def get_measured(self, obj: Face) -> bool:
        return obj.embedding is not None

    def get_figures(self, obj: Face) -> list[int]:
        user = self.context["request"].user
        rows = FaceIdentification.objects.filter(face=obj)
        figures = visibility.visible_figures(Figure.objects.filter(faces__in=rows), user)
        return sorted(figures.values_list("pk", flat=True))


class FaceMatchSerializer(serializers.Serializer):
    face = serializers.IntegerField()
    artifact = serializers.IntegerField()
    frame = serializers.IntegerField(allow_null=True)
    box = serializers.ListField(child=serializers.FloatField())
    distance = serializers.FloatField()
    verdict = serializers.CharField(help_text="same (under 0.40), uncertain or different")


class FaceSearchResultSerializer(serializers.Serializer):
    matches = FaceMatchSerializer(many=True)


class FaceSearchSerializer(serializers.Serializer):
    image = serializers.ImageField(required=False, help_text="an uploaded photo: its largest face")
    artifact = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, required=False
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_RESULTS, default=20)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({n: ["unknown field"] for n in sorted(unknown)})
        if ("image" in attrs) == ("artifact" in attrs):
            raise serializers.ValidationError(
                {"image": ["give an `image` file, or an `artifact` id (with an optional `box`)"]}
            )
        return attrs


class FaceConfirmSerializer(serializers.Serializer):
    figure = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    citation = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=10_000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({n: ["unknown field"] for n in sorted(unknown)})
        return attrs


def _require_index() -> None:
    if not settings.ARCHIVE_FACE_INDEX:
        raise exceptions.NotFound("face search is turned off here (ARCHIVE_FACE_INDEX=0)")


class FaceViewSet(
    ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Faces measured on the archive's images and sampled video frames."""

    queryset = Face.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = FaceSerializer
    lookup_value_regex = r"[^/]+"  # checked in ApiViewMixin.initial: JSON 404, not HTML
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    write_permissions = {"search": [], "confirm": ["archive.change_figure"]}

    def get_queryset(self):
        faces = visibility.visible_faces(Face.objects.all(), self.request.user)
        artifact = self.request.query_params.get("artifact")
        if artifact is not None:
            if not artifact.isdigit():
                raise exceptions.ValidationError({"artifact": ["an artifact id"]})
            faces = faces.filter(artifact_id=int(artifact))
        return faces.order_by("artifact_id", "frame", "number")

    @extend_schema(
        summary="Faces that may be this person",
        request={
            "multipart/form-data": FaceSearchSerializer,
            "application/json": FaceSearchSerializer,
        },
        responses=FaceSearchResultSerializer,
    )
    @action(detail=False, methods=["post"])
    def search(self, request: Request) -> Response:
        _require_index()
        form = FaceSearchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        vector, exclude = self._query_vector(data, request.user)
        return Response(
            {"matches": face_index.matches_for(vector, request.user, data["limit"], exclude)}
        )

    def _query_vector(self, data: dict[str, Any], user: Any) -> tuple[np.ndarray, int | None]:
        if "image" in data:
            try:
                image = imagefile.decode_rgb_or_grey(
                    data["image"].read(), max_pixels=settings.ARCHIVE_MAX_PIXELS
                )
                found = face_index.measure_upload(image)
            except (imagefile.ImageRejected, ValueError, OSError) as exc:
                raise exceptions.ValidationError({"image": [str(exc)]}) from exc
            except OperationFailed as exc:
                raise exceptions.ValidationError({"image": [f"not measured: {exc}"]}) from exc
            measured = [f for f in found if f.get("embedding")]
            if not measured:
                raise exceptions.ValidationError(
                    {"image": ["no face large and sharp enough to measure was found"]}
                )
            return np.frombuffer(measured[0]["embedding"], np.float32), None
        faces = visibility.visible_faces(Face.objects.filter(artifact_id=data["artifact"]), user)
        faces = faces.exclude(embedding=None)
        chosen = face_index.face_at(list(faces), data.get("box"))
        if chosen is None:
            raise exceptions.ValidationError(
                {"artifact": [f"no measured face on artifact {data['artifact']} (at that box)"]}
            )
        vector = face_index.embedding_of(chosen)
        assert vector is not None
        return vector, chosen.pk

    @extend_schema(
        summary="Confirm that this face shows a figure",
        request=FaceConfirmSerializer,
        responses=FaceSerializer,
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        face = self.get_object()
        form = FaceConfirmSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        user = request.user
        figure = visibility.visible_figures(Figure.objects.filter(pk=data["figure"]), user).first()
        if figure is None:
            raise exceptions.ValidationError({"figure": [f"no figure {data['figure']}"]})
        citation = None
        if data.get("citation") is not None:
            citation = visibility.visible_citations(
                Citation.objects.filter(pk=data["citation"]), user
            ).first()
            if citation is None:
                raise exceptions.ValidationError({"citation": [f"no citation {data['citation']}"]})
        face_confirm(
            face_id=face.pk,
            figure=figure,
            user=user,
            citation=citation,
            rationale=data.get("rationale", ""),
        )
        return Response(self.get_serializer(face).data)


class FigureFacesSerializer(serializers.Serializer):
    confirmed = serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))
    matches = FaceMatchSerializer(many=True)


class FigureFacesView(ApiViewMixin, GenericAPIView):
    """``GET figures/{id}/faces/``: the figure's confirmed faces and faces that may be theirs."""

    queryset = Figure.objects.none()
    serializer_class = FigureFacesSerializer
    pagination_class = None

    @extend_schema(summary="A figure's confirmed faces and faces that may be this person")
    def get(self, request: Request, pk: int) -> Response:
        figure = visibility.visible_figures(Figure.objects.filter(pk=pk), request.user).first()
        if figure is None:
            raise exceptions.NotFound()
        # With face search off the confirmed faces (catalogue facts) are still shown.
        return Response(
            face_index.figure_faces(figure, request.user, search=bool(settings.ARCHIVE_FACE_INDEX))
        )
