"""Films: catalogued moving-image originals and their master videos (``/api/v1/films/``).

Like ``photos/``: ``POST`` multipart with the ``video`` file (MP4, MOV, MKV, AVI...) or a
``frames`` zip of numbered PNG/TIFF frames with ``fps``, plus catalogue fields; the answer has
``id``, ``title`` and ``master_artifact``. Reads go through ``access.visibility``."""

from __future__ import annotations

import zipfile
from typing import Any

import django_filters.rest_framework as df
from django.db.models import Prefetch, Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from access import visibility
from api import filters
from api.base import ApiViewMixin
from api.serializers import ArtifactSummarySerializer, CitedMixin, visible_pk
from api.views.catalogue import _check_content_length, _visible_citations
from archive import films as film_services
from archive.models import Figure, Film
from restoration.imagefile import ImageRejected
from restoration.models import Artifact

# --- serializers -------------------------------------------------------------------------------


class FilmSerializer(CitedMixin, serializers.ModelSerializer):
    master_artifact: serializers.PrimaryKeyRelatedField[Artifact] = (
        serializers.PrimaryKeyRelatedField(
            source="master", read_only=True, help_text="the master video's artifact id"
        )
    )
    master = ArtifactSummarySerializer(read_only=True)
    figures = serializers.SerializerMethodField(help_text="ids of the (visible) figures shown")

    class Meta:
        model = Film
        fields = [
            "id",
            "title",
            "description",
            "figures",
            "date",
            "date_earliest",
            "date_latest",
            "place",
            "maker",
            "repository",
            "accession_number",
            "carrier",
            "original_fps",
            "physical_description",
            "rights_statement",
            "restricted",
            "master_artifact",
            "master",
            "citations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["date_earliest", "date_latest", "created_at", "updated_at"]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_figures(self, obj: Film) -> list[int]:
        return [f.pk for f in getattr(obj, "visible_figures", [])]


class FilmUpdateSerializer(serializers.ModelSerializer):
    """What can change on a catalogued film (never its master)."""

    figures = serializers.ListField(
        child=visible_pk(Figure, visibility.visible_figures), required=False
    )

    class Meta:
        model = Film
        fields = ["title", "figures", *film_services.FILM_FIELDS]


class FilmIngestSerializer(serializers.Serializer):
    """``multipart/form-data``: the master video (or a zip of frames) and catalogue fields."""

    video = serializers.FileField(
        required=False, help_text="the master video: MP4, MOV, MKV, AVI (H.264, ProRes, FFV1...)"
    )
    frames = serializers.FileField(
        required=False, help_text="or: a zip of numbered PNG/TIFF frames (give `fps`)"
    )
    fps = serializers.CharField(
        required=False, help_text='frame rate of `frames`: 16, 18, 24, "24000/1001"'
    )
    title = serializers.CharField(max_length=500, required=False, allow_blank=True)
    figures = serializers.ListField(
        child=visible_pk(Figure, visibility.visible_figures),
        required=False,
        help_text="ids of the figures shown (repeat the field for several)",
    )
    description = serializers.CharField(required=False, allow_blank=True)
    date = serializers.CharField(max_length=100, required=False, allow_blank=True)
    place = serializers.CharField(max_length=300, required=False, allow_blank=True)
    maker = serializers.CharField(max_length=300, required=False, allow_blank=True)
    repository = serializers.CharField(max_length=300, required=False, allow_blank=True)
    accession_number = serializers.CharField(max_length=100, required=False, allow_blank=True)
    carrier = serializers.ChoiceField(choices=Film.Carrier.choices, required=False)
    original_fps = serializers.CharField(max_length=32, required=False, allow_blank=True)
    physical_description = serializers.CharField(required=False, allow_blank=True)
    rights_statement = serializers.CharField(max_length=300, required=False, allow_blank=True)
    restricted = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("video")) == bool(attrs.get("frames")):
            raise serializers.ValidationError(
                {"video": ["send either `video` (a video file) or `frames` (a zip of frames)"]}
            )
        if attrs.get("frames") and not attrs.get("fps"):
            raise serializers.ValidationError(
                {"fps": ["the frame rate of the frames is required (e.g. 16, 18, 24000/1001)"]}
            )
        return attrs


class FilmDuplicateSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    film = serializers.IntegerField(allow_null=True)
    master_artifact = serializers.IntegerField(allow_null=True)


class FilmFilter(df.FilterSet):
    figure = filters.IdFilter(method="filter_figure", label="shows this figure")
    date_from = df.DateFilter(field_name="date_latest", lookup_expr="gte")
    date_to = df.DateFilter(field_name="date_earliest", lookup_expr="lte")
    master_artifact = filters.IdFilter(field_name="master_id")

    class Meta:
        model = Film
        fields = ["carrier", "restricted", "accession_number", "repository"]

    def filter_figure(self, queryset: QuerySet[Film], name: str, value: int) -> QuerySet[Film]:
        user = getattr(self.request, "user", None)
        figures = visibility.visible_figures(Figure.objects.filter(pk=value), user)
        shown = Film.figures.through.objects.filter(figure__in=figures.values("pk"))
        return queryset.filter(pk__in=shown.values("film_id"))


# --- the view ------------------------------------------------------------------------------------


def _rejected(exc: ImageRejected, field: str) -> exceptions.APIException:
    from api.errors import PayloadTooLarge

    if exc.code == "too_large" and "upload limit" in str(exc):
        return PayloadTooLarge(str(exc), code="too_large")
    if exc.code in {"unknown_field", "invalid_field"}:
        return exceptions.ValidationError({"non_field_errors": [str(exc)]}, code=exc.code)
    return exceptions.ValidationError({field: [str(exc)]}, code=exc.code)


@extend_schema_view(
    create=extend_schema(
        summary="Ingest a master film",
        description="`multipart/form-data` with the `video` file (or a `frames` zip of numbered "
        "PNG/TIFF frames with `fps`) and catalogue fields. The file is validated by decoding "
        "every frame, hashed, probed (codec, rational frame rate, frame count, duration, "
        "variable rate, audio, timecode), given a per-frame hash manifest, a poster and a "
        "proxy; an `ingest` step is recorded. The same bytes twice: **409** with the existing "
        "`film` and `master_artifact`.",
        request={"multipart/form-data": FilmIngestSerializer},
        responses={
            201: FilmSerializer,
            409: OpenApiResponse(FilmDuplicateSerializer, description="duplicate file"),
        },
    ),
    update=extend_schema(request=FilmUpdateSerializer, responses=FilmSerializer),
    partial_update=extend_schema(request=FilmUpdateSerializer, responses=FilmSerializer),
)
class FilmViewSet(ApiViewMixin, viewsets.ModelViewSet):
    """Catalogued films (reels, tapes) and their untouched master videos."""

    lookup_value_regex = r"[^/]+"
    queryset = Film.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = FilmSerializer
    filter_backends = [DjangoFilterBackend, filters.ArchiveSearch, OrderingFilter]
    filterset_class = FilmFilter
    search_fields = ["title", "accession_number", "place", "maker", "figures__names__name"]
    ordering_fields = ["title", "date_earliest", "accession_number", "created_at", "id"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    extra_error_codes = {"destroy": ("409",), "create": ("409", "413")}

    def get_queryset(self):
        user = self.request.user
        return (
            visibility.visible_films(Film.objects.all(), user)
            .select_related("master")
            .prefetch_related(
                Prefetch(
                    "figures",
                    queryset=visibility.visible_figures(Figure.objects.order_by("id"), user),
                    to_attr="visible_figures",
                ),
                _visible_citations(user),
            )
        )

    def get_serializer_class(self):
        if self.action in {"update", "partial_update"}:
            return FilmUpdateSerializer
        return FilmSerializer

    @staticmethod
    def search_q(term: str, user: Any) -> Q:
        figures = visibility.visible_figures(
            Figure.objects.filter(filters.figure_name_q(term)), user
        )
        return (
            Q(title__icontains=term)
            | Q(accession_number__icontains=term)
            | Q(place__icontains=term)
            | Q(maker__icontains=term)
            | Q(
                pk__in=Film.figures.through.objects.filter(figure__in=figures.values("pk")).values(
                    "film_id"
                )
            )
        )

    def _answer(self, film: Film, code: int) -> Response:
        fresh = self.get_queryset().get(pk=film.pk)
        return Response(
            FilmSerializer(fresh, context=self.get_serializer_context()).data, status=code
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _check_content_length(request)
        form = FilmIngestSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        video = data.pop("video", None)
        frames = data.pop("frames", None)
        fps = data.pop("fps", None)
        figures = data.pop("figures", [])
        title = data.pop("title", "")
        common = {
            "title": title,
            "user": request.user,
            "figure_ids": [f.pk for f in figures],
            "metadata": data,
        }
        try:
            if video is not None:
                result = film_services.film_ingest(stream=video, filename=video.name, **common)
            else:
                result = self._ingest_frames(frames, fps, common)
        except ImageRejected as exc:
            raise _rejected(exc, "video" if video is not None else "frames") from None
        if result.duplicate:
            return self._duplicate(result)
        assert result.film is not None
        return self._answer(result.film, status.HTTP_201_CREATED)

    @staticmethod
    def _ingest_frames(upload: Any, fps: Any, common: dict[str, Any]) -> Any:
        try:
            archive = zipfile.ZipFile(upload)
        except (zipfile.BadZipFile, OSError, EOFError):
            raise ImageRejected(
                "`frames` must be a zip of numbered PNG or TIFF frames", code="invalid_video"
            ) from None
        with archive:
            from restoration.services import zip_sequence_frames

            members = zip_sequence_frames(archive)
            return film_services.film_ingest_sequence(
                frames=members, fps=fps, source_name=getattr(upload, "name", "frames.zip"), **common
            )

    def _duplicate(self, result: film_services.FilmIngestResult) -> Response:
        user = self.request.user
        film_id = result.film.pk if result.film else None
        if (
            film_id is not None
            and not visibility.visible_films(Film.objects.filter(pk=film_id), user).exists()
        ):
            film_id = None
        artifact_id = (
            result.artifact.pk if visibility.artifact_is_visible(result.artifact.pk, user) else None
        )
        message = "this file is already in the archive; it was not stored again"
        if film_id is not None:
            message += f" (film {film_id}, artifact {artifact_id})"
        return Response(
            {
                "status": 409,
                "code": "duplicate",
                "message": message,
                "fields": {},
                "film": film_id,
                "master_artifact": artifact_id,
            },
            status=status.HTTP_409_CONFLICT,
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        form = FilmUpdateSerializer(
            instance, data=request.data, partial=partial, context=self.get_serializer_context()
        )
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        try:
            film = film_services.film_update(film=instance, user=request.user, **data)
        except ImageRejected as exc:
            raise _rejected(exc, "non_field_errors") from None
        return self._answer(film, status.HTTP_200_OK)

    def perform_destroy(self, instance: Any) -> None:
        from api.errors import Conflict
        from archive import services

        try:
            services.catalogue_delete(record=instance, user=self.request.user)
        except services.HiddenDependents as exc:
            raise Conflict(str(exc)) from exc
