"""Filters (django-filter) and search. Search never joins through a record the user cannot
see: a photo is found by a figure's name only if that figure is visible to the user."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django import forms
from django.db.models import Q, QuerySet
from rest_framework.filters import SearchFilter
from rest_framework.request import Request

from access.visibility import citation_target_models, visible_figures, visible_steps
from archive.models import Citation, Figure, Note, Photo, ReferenceImage, Source
from restoration.models import Artifact, Job, ModelWeights, Step

MAX_ID = 2**63 - 1


class IdFilter(df.Filter):
    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class ArchiveSearch(SearchFilter):
    """``?search=`` terms (space separated, all must match), each matched by the view's
    ``search_q(term, user)``; that one method knows which joins are safe for which user."""

    def filter_queryset(
        self, request: Request, queryset: QuerySet[Any], view: Any
    ) -> QuerySet[Any]:
        terms = [t for t in self.get_search_terms(request) if t][:10]
        if not terms or not hasattr(view, "search_q"):
            return queryset
        for term in terms:
            queryset = queryset.filter(view.search_q(term[:200], request.user))
        if request.query_params.get("ordering"):
            return queryset  # an explicit order: OrderingFilter's
        # Best matches first (and the trigram index kept in use: archive.search.ranked).
        from archive.search import parse_query, ranked

        return ranked(queryset, parse_query(" ".join(terms)))


def _user(filterset: df.FilterSet) -> Any:
    return getattr(filterset.request, "user", None)


class FigureFilter(df.FilterSet):
    born_from = df.DateFilter(field_name="birth_latest", lookup_expr="gte")
    born_to = df.DateFilter(field_name="birth_earliest", lookup_expr="lte")
    died_from = df.DateFilter(field_name="death_latest", lookup_expr="gte")
    died_to = df.DateFilter(field_name="death_earliest", lookup_expr="lte")
    name = df.CharFilter(method="filter_name", label="any of its names contains this")
    language = df.CharFilter(field_name="names__language", distinct=True, label="has a name in")

    class Meta:
        model = Figure
        fields = ["restricted", "wikidata_id"]

    def filter_name(self, queryset: QuerySet[Figure], name: str, value: str) -> QuerySet[Figure]:
        return queryset.filter(figure_name_q(value))


def figure_name_q(term: str) -> Q:
    """Any of its names, in any script or spelling, contains every word of ``term`` (folded:
    archive.folding)."""
    from archive.folding import query_terms

    q = Q()
    for word in query_terms(term):
        q &= Q(search_key__contains=word)
    return q


class SourceFilter(df.FilterSet):
    date_from = df.DateFilter(field_name="date_latest", lookup_expr="gte")
    date_to = df.DateFilter(field_name="date_earliest", lookup_expr="lte")

    class Meta:
        model = Source
        fields = ["kind", "restricted", "identifier"]


class CitationFilter(df.FilterSet):
    source = IdFilter(field_name="source_id")
    target_type = df.ChoiceFilter(
        choices=[(n, n) for n in ("citation", "figure", "note", "photo", "reference", "source")],
        method="filter_target_type",
    )
    target_id = IdFilter(field_name="target_id")
    step = IdFilter(method="filter_step", label="cited by this restoration step")

    class Meta:
        model = Citation
        fields = ["confidence", "restricted"]

    def filter_step(self, queryset: QuerySet[Any], name: str, value: int) -> QuerySet[Any]:
        from restoration.models import Step, StepCitation

        steps = visible_steps(Step.objects.filter(pk=value), _user(self))
        cited = StepCitation.objects.filter(step__in=steps.values("pk"))
        return queryset.filter(pk__in=cited.values("citation_id"))

    def filter_target_type(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        from django.contrib.contenttypes.models import ContentType

        model = citation_target_models()[value]
        return queryset.filter(target_type=ContentType.objects.get_for_model(model))


class PhotoFilter(df.FilterSet):
    figure = IdFilter(method="filter_figure", label="shows this figure")
    date_from = df.DateFilter(field_name="date_latest", lookup_expr="gte")
    date_to = df.DateFilter(field_name="date_earliest", lookup_expr="lte")
    master_artifact = IdFilter(field_name="master_id")

    class Meta:
        model = Photo
        fields = ["carrier", "restricted", "accession_number", "repository"]

    def filter_figure(self, queryset: QuerySet[Photo], name: str, value: int) -> QuerySet[Photo]:
        # Through visible figures only: a restricted figure must not be traceable to photos.
        figures = visible_figures(Figure.objects.filter(pk=value), _user(self))
        shown = Photo.figures.through.objects.filter(figure__in=figures.values("pk"))
        return queryset.filter(pk__in=shown.values("photo_id"))


class ReferenceFilter(df.FilterSet):
    figure = IdFilter(field_name="figure_id")
    artifact = IdFilter(field_name="artifact_id")

    class Meta:
        model = ReferenceImage
        fields = ["kind", "restricted"]


class NoteFilter(df.FilterSet):
    figure = IdFilter(field_name="figure_id")
    photo = IdFilter(field_name="photo_id")

    class Meta:
        model = Note
        fields = ["restricted"]


class ArtifactFilter(df.FilterSet):
    sha256 = df.CharFilter(field_name="sha256", label="exact sha256 (hex)")
    master = df.BooleanFilter(
        field_name="generated_by", lookup_expr="isnull", label="true: ingested files only"
    )
    generated_by = IdFilter(field_name="generated_by_id")

    class Meta:
        model = Artifact
        fields = ["media_type", "role"]


class JobFilter(df.FilterSet):
    input = IdFilter(field_name="input_id")
    mine = df.BooleanFilter(method="filter_mine", label="only jobs I requested")

    class Meta:
        model = Job
        fields = ["status"]

    def filter_mine(self, queryset: QuerySet[Job], name: str, value: bool) -> QuerySet[Job]:
        user = getattr(self.request, "user", None)
        if value is None or user is None or not user.is_authenticated:
            return queryset
        return queryset.filter(requester=user) if value else queryset.exclude(requester=user)


class StepFilter(df.FilterSet):
    job = IdFilter(field_name="job_id", label="made by this job (id)")
    operation = df.CharFilter(label="operation name, e.g. denoise, ingest, manual_retouch")

    class Meta:
        model = Step
        fields = ["kind"]


class ModelWeightsFilter(df.FilterSet):
    class Meta:
        model = ModelWeights
        fields = ["purpose", "license", "architecture", "available"]


# Descriptions for the OpenAPI schema of the filters that are declared by name only.
_LABELS = {
    "restricted": "true: restricted records only (visible to auditors); false: the others",
    "wikidata_id": "exact Wikidata id, e.g. Q23114",
    "born_from": "born on or after (YYYY-MM-DD); uncertain dates included",
    "born_to": "born on or before (YYYY-MM-DD); uncertain dates included",
    "died_from": "died on or after (YYYY-MM-DD); uncertain dates included",
    "died_to": "died on or before (YYYY-MM-DD); uncertain dates included",
    "date_from": "dated on or after (YYYY-MM-DD); uncertain EDTF dates included",
    "date_to": "dated on or before (YYYY-MM-DD); uncertain EDTF dates included",
    "kind": "the kind (see the record's `kind` choices)",
    "identifier": "exact identifier (ISBN, call number, DOI...)",
    "confidence": "certain, probable, possible or speculative",
    "source": "cites this source (id)",
    "target_id": "attached to the record with this id (with target_type)",
    "carrier": "physical carrier, e.g. print, negative, glass_plate",
    "accession_number": "exact accession number",
    "repository": "exact holding repository",
    "master_artifact": "the photo whose master scan is this artifact",
    "figure": "about / showing this figure (id)",
    "photo": "about this photo (id)",
    "artifact": "over this artifact (id)",
    "media_type": "e.g. image/png",
    "role": "artifact role, e.g. image, mask",
    "input": "on this input artifact (id)",
    "status": "queued, running, succeeded, failed or cancelled",
    "purpose": "sr, face_restore, colorize, restoration or other",
    "license": "permissive, non-commercial or unknown",
    "architecture": "as spandrel reports it, e.g. ESRGAN",
    "available": "true: the weights file is present",
}

for _filterset in (
    FigureFilter, SourceFilter, CitationFilter, PhotoFilter, ReferenceFilter, NoteFilter,
    ArtifactFilter, JobFilter, ModelWeightsFilter, StepFilter,
):  # fmt: skip
    for _name, _filter in _filterset.base_filters.items():
        if _name in _LABELS and not _filter.extra.get("help_text"):
            _filter.label = _LABELS[_name]
