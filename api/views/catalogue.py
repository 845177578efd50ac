"""Catalogue CRUD: figures, sources, citations, reference images, notes, photos. Every
queryset goes through ``access.visibility``, so a record the user may not see is a 404 on
detail routes and simply absent from lists and searches."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from access import visibility
from access.actions import can_approve
from api import filters, serializers
from api.base import ApiViewMixin
from api.errors import Conflict, PayloadTooLarge
from api.links import attach_figure_parts, attach_photo_parts
from archive import search as archive_search
from archive import services
from archive.models import Citation, Figure, FigureName, Note, Photo, ReferenceImage, Source


def _visible_citations(
    user: Any,
    through: str = "citations",
    to_attr: str = "visible_citations",
    target: type[Any] | None = None,
) -> Prefetch:
    # One query for all the records of a page, whatever its size; with ``target`` (the model
    # whose ``through`` relation this is) only that kind of record's visibility rule is planned.
    return Prefetch(
        through,
        queryset=visibility.visible_citations(Citation.objects.order_by("id"), user, target=target),
        to_attr=to_attr,
    )


class CatalogueViewSet(ApiViewMixin, viewsets.ModelViewSet):
    """Shared by the catalogue routes: visibility, lookups, writes through the services."""

    lookup_value_regex = r"[^/]+"  # checked in ApiViewMixin.initial: JSON 404, not HTML
    filter_backends = [DjangoFilterBackend, filters.ArchiveSearch, OrderingFilter]
    extra_error_codes: dict[str, tuple[str, ...]] = {"destroy": ("409",)}  # api.schema reads it

    def perform_destroy(self, instance: Any) -> None:
        try:
            services.catalogue_delete(record=instance, user=self.request.user)
        except services.HiddenDependents as exc:
            raise Conflict(str(exc)) from exc

    def write_response(self, instance: Any, code: int) -> Response:
        # Read back through the view's queryset so the answer has its prefetches.
        fresh = self.reread(instance)
        return Response(self.get_serializer(fresh).data, status=code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.write_response(self.create_record(serializer), status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return self.write_response(self.update_record(instance, serializer), status.HTTP_200_OK)

    def create_record(self, serializer: BaseSerializer) -> Any:
        raise NotImplementedError

    def update_record(self, instance: Any, serializer: BaseSerializer) -> Any:
        raise NotImplementedError


@extend_schema_view(
    list=extend_schema(
        summary="List figures",
        description="Search (`search`) matches the display name, sort name and every name "
        "variant in any script: 鲁迅 and Lu Xun find the same figure.",
    )
)
class FigureViewSet(CatalogueViewSet):
    """Historical figures, with their names in any script, EDTF birth and death dates and external ids. Restricted figures are visible to auditors only."""

    queryset = Figure.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = serializers.FigureSerializer
    filterset_class = filters.FigureFilter
    search_fields = ["name", "sort_name", "names__name", "wikidata_id"]
    ordering_fields = ["name", "sort_name", "birth_earliest", "death_earliest", "created_at", "id"]

    def get_queryset(self):
        user = self.request.user
        figures = visibility.visible_figures(Figure.objects.all(), user)
        if getattr(self, "action", None) == "list":
            return figures  # names and citations: api.links.attach_figure_parts, per page
        return figures.prefetch_related(
            Prefetch("names", queryset=FigureName.objects.order_by("id")),
            _visible_citations(user, target=Figure),
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _lean_list(self, lambda rows: attach_figure_parts(rows, request.user))

    @staticmethod
    def search_q(term: str, user: Any) -> Q:
        # Folded: every script and spelling of every name (archive.search), and the Wikidata id.
        return archive_search.term_q("figure", term, user)

    def create_record(self, serializer: BaseSerializer) -> Any:
        data = dict(serializer.validated_data)
        return services.figure_create(user=self.request.user, **data)

    def update_record(self, instance: Any, serializer: BaseSerializer) -> Any:
        data = dict(serializer.validated_data)
        return services.figure_update(figure=instance, user=self.request.user, **data)


class SourceViewSet(CatalogueViewSet):
    """Sources behind the facts: books, archive fonds, newspapers, interviews, letters, web pages."""

    queryset = Source.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = serializers.SourceSerializer
    filterset_class = filters.SourceFilter
    search_fields = ["title", "author", "publisher", "identifier", "repository"]
    ordering_fields = ["title", "author", "date_earliest", "created_at", "id"]

    def get_queryset(self):
        user = self.request.user
        return visibility.visible_sources(Source.objects.all(), user).prefetch_related(
            _visible_citations(user, "citations_about", "visible_citations_about", Source)
        )

    @staticmethod
    def search_q(term: str, user: Any) -> Q:
        return archive_search.term_q("source", term, user)

    def create_record(self, serializer: BaseSerializer) -> Any:
        return services.source_create(user=self.request.user, **serializer.validated_data)

    def update_record(self, instance: Any, serializer: BaseSerializer) -> Any:
        return services.source_update(
            source=instance, user=self.request.user, **serializer.validated_data
        )


@extend_schema_view(
    create=extend_schema(
        summary="Cite a source",
        description='Attach with `target`: {"type": "figure"|"photo"|"source"|"note"|'
        '"reference"|"citation", "id": n}. A record you cannot see is reported as missing.',
    )
)
class CitationViewSet(CatalogueViewSet):
    """Citations: a source, a locator, a quote and a confidence, attached to any catalogue record; restoration steps cite them too."""

    queryset = Citation.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = serializers.CitationSerializer
    filterset_class = filters.CitationFilter
    search_fields = ["locator", "quote", "claim", "source__title"]
    ordering_fields = ["id", "created_at", "confidence"]

    def get_queryset(self):
        return visibility.visible_citations(Citation.objects.all(), self.request.user)

    @staticmethod
    def search_q(term: str, user: Any) -> Q:
        # Locator, quote, claim, or a visible source's title (archive.search).
        return archive_search.term_q("citation", term, user)

    def create_record(self, serializer: BaseSerializer) -> Any:
        data = dict(serializer.validated_data)
        return services.citation_create(user=self.request.user, **data)

    def update_record(self, instance: Any, serializer: BaseSerializer) -> Any:
        data = dict(serializer.validated_data)
        detach = "target" in data and data["target"] is None
        return services.citation_update(
            citation=instance, detach=detach, user=self.request.user, **data
        )


class ReferenceViewSet(CatalogueViewSet):
    """Reference images consulted while restoring (other angles, relatives, period colour, costume, places)."""

    queryset = ReferenceImage.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = serializers.ReferenceSerializer
    filterset_class = filters.ReferenceFilter
    search_fields = ["title", "description"]
    ordering_fields = ["id", "created_at", "kind", "title"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    extra_error_codes = {"destroy": ("409",), "create": ("413",)}

    def get_queryset(self):
        user = self.request.user
        return (
            visibility.visible_references(ReferenceImage.objects.all(), user)
            .select_related("artifact")
            .prefetch_related(_visible_citations(user, target=ReferenceImage))
        )

    @staticmethod
    def search_q(term: str, user: Any) -> Q:
        return archive_search.term_q("reference", term, user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _check_content_length(request)
        return super().create(request, *args, **kwargs)

    def create_record(self, serializer: BaseSerializer) -> Any:
        data = dict(serializer.validated_data)
        image = data.pop("image", None)
        try:
            return services.reference_create(
                user=self.request.user,
                stream=image,
                filename=getattr(image, "name", ""),
                **data,
            )
        except services.HiddenDuplicate as exc:
            raise Conflict(str(exc), code="duplicate") from exc

    def update_record(self, instance: Any, serializer: BaseSerializer) -> Any:
        return services.reference_update(
            reference=instance, user=self.request.user, **serializer.validated_data
        )


class NoteViewSet(CatalogueViewSet):
    """Research notes, with citations."""

    queryset = Note.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = serializers.NoteSerializer
    filterset_class = filters.NoteFilter
    search_fields = ["title", "body"]
    ordering_fields = ["id", "created_at", "title"]

    def get_queryset(self):
        user = self.request.user
        return (
            visibility.visible_notes(Note.objects.all(), user)
            .select_related("author")
            .prefetch_related(_visible_citations(user, target=Note))
        )

    @staticmethod
    def search_q(term: str, user: Any) -> Q:
        return archive_search.term_q("note", term, user)

    def create_record(self, serializer: BaseSerializer) -> Any:
        return services.note_create(author=self.request.user, **serializer.validated_data)

    def update_record(self, instance: Any, serializer: BaseSerializer) -> Any:
        return services.note_update(
            note=instance, user=self.request.user, **serializer.validated_data
        )


def _lean_list(view: Any, attach: Any) -> Response:
    """A list page whose link rows are read once and grouped in Python (api.links), not
    prefetched per record (issue 16)."""
    queryset = view.filter_queryset(view.get_queryset())
    page = view.paginate_queryset(queryset)
    rows = list(page if page is not None else queryset)
    attach(rows)
    data = view.get_serializer(rows, many=True).data
    return view.get_paginated_response(data) if page is not None else Response(data)


def _check_content_length(request: Request) -> None:
    """Refuse an oversize upload from its header, before Django spools it to disk."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.ARCHIVE_MAX_UPLOAD_BYTES
    if length > limit + 64 * 1024:  # room for the multipart envelope and metadata fields
        raise PayloadTooLarge(
            f"the request is {length:,} bytes; the upload limit is {limit / 1024 / 1024:,.0f} MiB"
        )


@extend_schema_view(
    list=extend_schema(
        summary="List photos",
        description="Search (`search`) matches titles, accession numbers, places, photographers "
        "and the names (in any script) of the figures shown.",
    ),
    create=extend_schema(
        summary="Ingest a master scan",
        description="`multipart/form-data` with the `image` file and catalogue fields. The file "
        "is validated, hashed, its EXIF read, an `ingest` step recorded. The same bytes twice "
        "are not stored twice: the answer is **409** with the existing `photo` and "
        "`master_artifact` ids (null where you may not see them).",
        request={"multipart/form-data": serializers.PhotoIngestSerializer},
        responses={
            201: serializers.PhotoSerializer,
            409: OpenApiResponse(serializers.DuplicateSerializer, description="duplicate file"),
        },
    ),
    update=extend_schema(
        request=serializers.PhotoUpdateSerializer, responses=serializers.PhotoSerializer
    ),
    partial_update=extend_schema(
        request=serializers.PhotoUpdateSerializer, responses=serializers.PhotoSerializer
    ),
)
class PhotoViewSet(CatalogueViewSet):
    """Catalogued photographs and their untouched master scans."""

    queryset = Photo.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = serializers.PhotoSerializer
    filterset_class = filters.PhotoFilter
    search_fields = ["title", "accession_number", "place", "photographer", "figures__names__name"]
    ordering_fields = ["title", "date_earliest", "accession_number", "created_at", "id"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    extra_error_codes = {"destroy": ("409",), "create": ("409", "413")}

    def get_queryset(self):
        user = self.request.user
        photos = visibility.visible_photos(Photo.objects.all(), user).select_related("master")
        if getattr(self, "action", None) == "list":
            return photos  # figures and citations: api.links.attach_photo_parts, per page
        return photos.prefetch_related(
            Prefetch(
                "figures",
                queryset=visibility.visible_figures(Figure.objects.order_by("id"), user),
                to_attr="visible_figures",
            ),
            _visible_citations(user, target=Photo),
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _lean_list(self, lambda rows: attach_photo_parts(rows, request.user))

    def get_serializer_class(self):
        if self.action in {"update", "partial_update"}:
            return serializers.PhotoUpdateSerializer
        return serializers.PhotoSerializer

    @staticmethod
    def search_q(term: str, user: Any) -> Q:
        # Only figures this user can see: a restricted figure's name must not find photos
        # (archive.search.photo_term_q); an EDTF term also matches overlapping dates.
        return archive_search.term_q("photo", term, user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _check_content_length(request)
        form = serializers.PhotoIngestSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        image = data.pop("image")
        figures = data.pop("figures", [])
        title = data.pop("title", "")
        result = services.photo_ingest(
            stream=image,
            filename=image.name,
            title=title,
            user=request.user,
            figure_ids=[f.pk for f in figures],
            metadata=data,
        )
        if result.duplicate:
            return self._duplicate(result)
        photo = self.reread(result.photo)
        return Response(
            serializers.PhotoSerializer(photo, context=self.get_serializer_context()).data,
            status=201,
        )

    def _duplicate(self, result: services.IngestResult) -> Response:
        user = self.request.user
        photo_id = result.photo.pk if result.photo else None
        if (
            photo_id is not None
            and not visibility.visible_photos(Photo.objects.filter(pk=photo_id), user).exists()
        ):
            photo_id = None
        artifact_id = (
            result.artifact.pk if visibility.artifact_is_visible(result.artifact.pk, user) else None
        )
        message = "this file is already in the archive; it was not stored again"
        if photo_id is not None:
            message += f" (photo {photo_id}, artifact {artifact_id})"
        return Response(
            {
                "status": 409,
                "code": "duplicate",
                "message": message,
                "fields": {},
                "photo": photo_id,
                "master_artifact": artifact_id,
            },
            status=status.HTTP_409_CONFLICT,
        )

    @extend_schema(
        summary="Approve one of the photo's restorations",
        description="Marks `artifact` (an image made from the photo's master) as the approved "
        "restoration, with the curator's `note`; `null` withdraws the approval. An artifact "
        "made by a step that judged a face a different person needs a written `reason` (400 "
        "without it); the approval, reason included, is a revision of the photo.",
        request=serializers.PhotoApproveSerializer,
        responses=serializers.PhotoSerializer,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        photo = self.get_object()
        if not can_approve(request.user):
            raise exceptions.PermissionDenied("only curators may approve a restoration")
        form = serializers.PhotoApproveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        artifact = None
        if (artifact_id := form.validated_data["artifact"]) is not None:
            artifact = visibility.visible_artifact(artifact_id, request.user)
            if artifact is None:
                raise exceptions.ValidationError({"artifact": [f"no artifact {artifact_id}"]})
        services.photo_approve(
            photo=photo,
            artifact=artifact,
            user=request.user,
            note=form.validated_data["note"],
            reason=form.validated_data["reason"],
        )
        fresh = self.reread(photo)
        return Response(
            serializers.PhotoSerializer(fresh, context=self.get_serializer_context()).data
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = serializers.PhotoUpdateSerializer(
            instance, data=request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        photo = services.photo_update(
            photo=instance, user=request.user, **serializer.validated_data
        )
        fresh = self.reread(photo)
        return Response(
            serializers.PhotoSerializer(fresh, context=self.get_serializer_context()).data
        )
