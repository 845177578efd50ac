"""Serializers: shapes of the API's JSON. Validation of a record's own rules (EDTF dates, ...)
stays in the models and services; what a serializer adds is the shape and "can this user
point at that record" (a hidden record is the same as a missing one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Model, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from access import visibility
from archive.models import Citation, Figure, FigureName, Note, Photo, ReferenceImage, Source
from archive.services import PHOTO_FIELDS
from restoration.models import Artifact, Job, JobEvent, ModelWeights, Step
from restoration.selectors import identity_faces, identity_method

if TYPE_CHECKING:
    from restoration.users import UserModel


def _user(serializer: serializers.Field | serializers.Serializer) -> Any:
    request = serializer.context.get("request")
    return getattr(request, "user", None)


class VisiblePrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A primary key that must name a record the requesting user can see."""

    def __init__(self, *, visible_with: Any, **kwargs: Any) -> None:
        self.visible_with = visible_with
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Model]:
        return self.visible_with(super().get_queryset(), _user(self))

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or (isinstance(data, int) and not 0 < data < 2**63):
            self.fail("does_not_exist", pk_value=data)
        if isinstance(data, str) and not (data.isdigit() and 0 < int(data) < 2**63):
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


def visible_pk(model: type[Model], visible_with: Any, **kwargs: Any) -> VisiblePrimaryKeyField:
    return VisiblePrimaryKeyField(
        queryset=model._default_manager.all(), visible_with=visible_with, **kwargs
    )


def _citation_ids(obj: Any) -> list[int]:
    # Filled by a Prefetch of visible citations (see the views); never a query per record.
    return [c.pk for c in getattr(obj, "visible_citations", [])]


class CitedMixin(serializers.Serializer):
    citations = serializers.SerializerMethodField(
        help_text="ids of the (visible) citations attached to this record"
    )

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_citations(self, obj: Any) -> list[int]:
        return _citation_ids(obj)


# --- catalogue -------------------------------------------------------------------------------


class _RowsOrRecords(serializers.ListSerializer):
    """Names handed over as rows (``api.links.attach_figure_parts``: a list page) are shown
    as they are; records (a detail, a write's answer) go through the child serializer."""

    def to_representation(self, data: Any) -> list[Any]:
        items = list(data.all() if hasattr(data, "all") else data)
        if items and isinstance(items[0], dict):
            return [dict(item) for item in items]
        return super().to_representation(items)


class FigureNameSerializer(serializers.ModelSerializer):
    class Meta:
        model = FigureName
        fields = ["name", "language", "kind"]
        list_serializer_class = _RowsOrRecords


class FigureSerializer(CitedMixin, serializers.ModelSerializer):
    names = FigureNameSerializer(
        many=True,
        required=False,
        help_text="names in any script (鲁迅 zh-Hans, Lu Xun zh-Latn-pinyin); replaces all on write",
    )

    class Meta:
        model = Figure
        fields = [
            "id",
            "name",
            "sort_name",
            "names",
            "birth_date",
            "death_date",
            "birth_earliest",
            "birth_latest",
            "death_earliest",
            "death_latest",
            "biography",
            "wikidata_id",
            "external_ids",
            "restricted",
            "citations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "birth_earliest",
            "birth_latest",
            "death_earliest",
            "death_latest",
            "created_at",
            "updated_at",
        ]

    def validate_external_ids(self, value: Any) -> Any:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise serializers.ValidationError('an object of strings, e.g. {"viaf": "12345"}')
        return value

    def validate_names(self, value: list[dict[str, str]]) -> list[dict[str, str]]:
        # The same name in the same language twice is one name, not a database error.
        unique: dict[tuple[str, str], dict[str, str]] = {}
        # A PATCH is partial for the figure, not for each name: a variant needs its name.
        missing = [i for i, variant in enumerate(value) if not variant.get("name")]
        if missing:
            raise serializers.ValidationError(
                {i: {"name": ["This field is required."]} for i in missing}
            )
        for variant in value:
            unique.setdefault((variant["name"], variant.get("language", "")), dict(variant))
        return list(unique.values())


class SourceSerializer(CitedMixin, serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = [
            "id",
            "kind",
            "title",
            "author",
            "publisher",
            "date",
            "date_earliest",
            "date_latest",
            "repository",
            "identifier",
            "url",
            "notes",
            "restricted",
            "citations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["date_earliest", "date_latest", "created_at", "updated_at"]

    def get_citations(self, obj: Any) -> list[int]:
        return [c.pk for c in getattr(obj, "visible_citations_about", [])]


class CitationTargetSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=sorted(visibility.citation_target_models()))
    id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


@extend_schema_field(CitationTargetSerializer(allow_null=True))
class CitationTargetField(serializers.Field):
    """``{"type": "figure", "id": 3}`` or null. Read from the citation's own columns (no query
    per citation); on write, the record must exist and be visible to the user."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", **kwargs)

    def to_representation(self, citation: Citation) -> dict[str, Any] | None:
        return _target_ref(citation)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if data is None:
            return {"target": None}
        inner = CitationTargetSerializer(data=data)
        inner.is_valid(raise_exception=True)
        kind, pk = inner.validated_data["type"], inner.validated_data["id"]
        model = visibility.citation_target_models()[kind]
        record = _visible_for_model(model, _user(self)).filter(pk=pk).first()
        if record is None:
            raise serializers.ValidationError(f"no {kind} with id {pk}")
        return {"target": record}

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return True, {"target": None}
        return super().validate_empty_values(data)


class CitationSerializer(serializers.ModelSerializer):
    # A declared field: the serializer metaclass pops it off the class (the stubs
    # see it override the attribute of the same name).
    source = visible_pk(Source, visibility.visible_sources)  # type: ignore[assignment]
    target = CitationTargetField(
        required=False,
        allow_null=True,
        help_text='the record this citation supports, e.g. {"type": "figure", "id": 3}; '
        "null to detach",
    )

    class Meta:
        model = Citation
        fields = [
            "id",
            "source",
            "locator",
            "quote",
            "confidence",
            "claim",
            "target",
            "restricted",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


def _visible_for_model(model: type[Model], user: Any) -> QuerySet[Model]:
    return visibility.visible_records(model._default_manager.all(), user)


_TARGET_NAMES = {m._meta.model_name: n for n, m in visibility.citation_target_models().items()}


def _target_ref(citation: Citation) -> dict[str, Any] | None:
    if citation.target_type_id is None or citation.target_id is None:
        return None
    from django.contrib.contenttypes.models import ContentType

    model_name = ContentType.objects.get_for_id(citation.target_type_id).model
    return {"type": _TARGET_NAMES.get(model_name, model_name), "id": citation.target_id}


class ArtifactSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Artifact
        fields = ["id", "sha256", "media_type", "width", "height", "frame_count", "fps", "duration"]


class ReferenceSerializer(CitedMixin, serializers.ModelSerializer):
    artifact = visible_pk(
        Artifact,
        visibility.visible_artifacts,
        required=False,
        help_text="an existing artifact; or send `image` (multipart) to upload a new file",
    )
    image = serializers.FileField(
        write_only=True, required=False, help_text="the reference image file (multipart)"
    )
    figure = visible_pk(Figure, visibility.visible_figures, required=False, allow_null=True)
    file = ArtifactSummarySerializer(source="artifact", read_only=True)

    class Meta:
        model = ReferenceImage
        fields = [
            "id",
            "artifact",
            "image",
            "file",
            "figure",
            "kind",
            "title",
            "description",
            "restricted",
            "citations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("artifact") and not attrs.get("image"):
            raise serializers.ValidationError({"image": ["send `image` or `artifact`"]})
        if self.instance is not None and ("artifact" in attrs or "image" in attrs):
            raise serializers.ValidationError(
                {"artifact": ["a reference's file cannot change; create a new reference"]}
            )
        return attrs


class NoteSerializer(CitedMixin, serializers.ModelSerializer):
    figure = visible_pk(Figure, visibility.visible_figures, required=False, allow_null=True)
    photo = visible_pk(Photo, visibility.visible_photos, required=False, allow_null=True)
    author: serializers.SlugRelatedField[UserModel] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Note
        fields = [
            "id",
            "title",
            "body",
            "author",
            "figure",
            "photo",
            "restricted",
            "citations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class PhotoSerializer(CitedMixin, serializers.ModelSerializer):
    master_artifact: serializers.PrimaryKeyRelatedField[Artifact] = (
        serializers.PrimaryKeyRelatedField(
            source="master", read_only=True, help_text="the master scan's artifact id"
        )
    )
    master = ArtifactSummarySerializer(read_only=True)
    figures = serializers.SerializerMethodField(help_text="ids of the (visible) figures shown")
    approved_artifact = serializers.SerializerMethodField(
        help_text="the artifact id of the restoration a curator approved (null: none, or one "
        "you may not see)"
    )

    class Meta:
        model = Photo
        fields = [
            "id",
            "title",
            "description",
            "figures",
            "date",
            "date_earliest",
            "date_latest",
            "place",
            "photographer",
            "repository",
            "accession_number",
            "carrier",
            "physical_description",
            "rights_statement",
            "restricted",
            "exif",
            "master_artifact",
            "master",
            "approved_artifact",
            "citations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["date_earliest", "date_latest", "exif", "created_at", "updated_at"]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_figures(self, obj: Photo) -> list[int]:
        return [f.pk for f in getattr(obj, "visible_figures", [])]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_approved_artifact(self, obj: Photo) -> int | None:
        pk = obj.approved_artifact_id
        if pk is None:
            return None
        # One query for a whole page of photos: which of their approved artifacts may be seen.
        shown = self.context.get("_approved_visible")
        if shown is None or pk not in shown[0]:
            page = getattr(self.parent, "instance", None) or [obj]
            ids = {p.approved_artifact_id for p in page if p.approved_artifact_id} | {pk}
            request = self.context.get("request")
            visible = visibility.visible_artifacts(
                Artifact.objects.filter(pk__in=ids), getattr(request, "user", None)
            ).values_list("pk", flat=True)
            shown = (ids, set(visible))
            # The context is the view's get_serializer_context() dict; the stubs say Mapping.
            self.context["_approved_visible"] = shown  # type: ignore[index]
        return int(pk) if pk in shown[1] else None


class PhotoUpdateSerializer(serializers.ModelSerializer):
    """What can change on a catalogued photo (never its master scan)."""

    figures = serializers.ListField(
        child=visible_pk(Figure, visibility.visible_figures), required=False
    )

    class Meta:
        model = Photo
        fields = ["title", "figures", *PHOTO_FIELDS]


class PhotoIngestSerializer(serializers.Serializer):
    """``multipart/form-data``: the master scan and its catalogue metadata."""

    image = serializers.FileField(help_text="the master scan: JPEG, PNG, TIFF (8/16 bit) or WebP")
    title = serializers.CharField(max_length=500, required=False, allow_blank=True)
    figures = serializers.ListField(
        child=visible_pk(Figure, visibility.visible_figures),
        required=False,
        help_text="ids of the figures shown (repeat the field for several)",
    )
    description = serializers.CharField(required=False, allow_blank=True)
    date = serializers.CharField(max_length=100, required=False, allow_blank=True)
    place = serializers.CharField(max_length=300, required=False, allow_blank=True)
    photographer = serializers.CharField(max_length=300, required=False, allow_blank=True)
    repository = serializers.CharField(max_length=300, required=False, allow_blank=True)
    accession_number = serializers.CharField(max_length=100, required=False, allow_blank=True)
    carrier = serializers.ChoiceField(choices=Photo.Carrier.choices, required=False)
    physical_description = serializers.CharField(required=False, allow_blank=True)
    rights_statement = serializers.CharField(max_length=300, required=False, allow_blank=True)
    restricted = serializers.BooleanField(required=False)


class DuplicateSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    # A declared field: the serializer metaclass pops it off the class (the stubs
    # see it override the attribute of the same name).
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
    )
    photo = serializers.IntegerField(allow_null=True, help_text="the existing photo, if visible")
    master_artifact = serializers.IntegerField(
        allow_null=True, help_text="the existing artifact with these bytes, if visible"
    )


# --- lineage, jobs, models -------------------------------------------------------------------


class ArtifactSerializer(serializers.ModelSerializer):
    generated_by: serializers.PrimaryKeyRelatedField[Step] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="the step that made it; null for a master"
    )

    class Meta:
        model = Artifact
        fields = [
            "id",
            "sha256",
            "size",
            "media_type",
            "width",
            "height",
            "mode",
            "bit_depth",
            "has_icc_profile",
            "role",
            "frame_count",
            "fps",
            "duration",
            "generated_by",
            "created_at",
        ]


class StepSerializer(serializers.ModelSerializer):
    inputs = serializers.SerializerMethodField()
    output = serializers.SerializerMethodField(help_text="the main output artifact id")
    outputs = serializers.SerializerMethodField()
    citations = serializers.SerializerMethodField()
    references = serializers.SerializerMethodField()
    identity = serializers.SerializerMethodField(
        help_text="one entry per face of the input: box_in, box_out, distance, verdict "
        "(same, uncertain, different, unmeasured) and, where it applies, reason"
    )
    identity_check = serializers.SerializerMethodField(
        help_text="how identity was measured: method, model sha256s, thresholds (or error)"
    )

    class Meta:
        model = Step
        fields = [
            "id",
            "kind",
            "operation",
            "operation_version",
            "parameters",
            "model_sha256",
            "model_architecture",
            "software",
            "device",
            "seed",
            "actor",
            "on_behalf_of",
            "started_at",
            "ended_at",
            "rationale",
            "inputs",
            "output",
            "outputs",
            "citations",
            "references",
            "job",
            "job_index",
            "record_hash",
            "identity",
            "identity_verdict",
            "identity_check",
        ]

    @extend_schema_field(
        serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))
    )
    def get_identity(self, obj: Step) -> list[dict[str, Any]]:
        return identity_faces(obj.identity)

    @extend_schema_field(serializers.DictField(child=serializers.JSONField()))
    def get_identity_check(self, obj: Step) -> dict[str, Any]:
        return identity_method(obj.identity)

    @extend_schema_field(
        serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))
    )
    def get_inputs(self, obj: Step) -> list[dict[str, Any]]:
        if (links := getattr(obj, "links", None)) is not None:  # api.links: read once per page
            return links.inputs
        return [
            {"artifact": i.artifact_id, "role": i.role, "position": i.position}
            for i in obj.inputs.all()
        ]

    @extend_schema_field(OpenApiTypes.INT)
    def get_output(self, obj: Step) -> int | None:
        if (links := getattr(obj, "links", None)) is not None:
            main_links = [o for o in links.outputs if o["role"] == "image"] or links.outputs
            return main_links[0]["artifact"] if main_links else None
        produced = list(obj.produced.all())
        main = [p for p in produced if p.role == "image"] or produced
        return main[0].artifact_id if main else None

    @extend_schema_field(
        serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))
    )
    def get_outputs(self, obj: Step) -> list[dict[str, Any]]:
        if (links := getattr(obj, "links", None)) is not None:
            return links.outputs
        return [{"artifact": p.artifact_id, "role": p.role} for p in obj.produced.all()]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_citations(self, obj: Step) -> list[int]:
        if (links := getattr(obj, "links", None)) is not None:
            return links.citations
        return [c.pk for c in obj.citations.all()]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_references(self, obj: Step) -> list[int]:
        if (links := getattr(obj, "links", None)) is not None:
            return links.references
        return [r.pk for r in obj.references.all()]


class JobStepSerializer(serializers.Serializer):
    op = serializers.CharField(max_length=60, help_text="an operation name (see operations/)")
    params = serializers.DictField(
        required=False, default=dict, help_text="the operation's parameters (its json_schema)"
    )


class JobCreateSerializer(serializers.Serializer):
    """The request's shape; ``restoration.jobs.job_create`` checks the rest (visibility,
    operations, parameters, models) and names each bad field."""

    input = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="the input artifact id"
    )
    steps = JobStepSerializer(many=True, allow_empty=False)
    on_behalf_of = serializers.CharField(max_length=300, required=False, allow_blank=True)
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1)


class JobEventSerializer(serializers.ModelSerializer):
    """One line of a job's history: a status change (or the creation, ``from_status`` empty)."""

    class Meta:
        model = JobEvent
        fields = ["at", "from_status", "to_status", "actor", "worker", "reason"]
        read_only_fields = fields


class JobSerializer(serializers.ModelSerializer):
    steps = StepSerializer(many=True, read_only=True)
    events = JobEventSerializer(
        many=True,
        read_only=True,
        help_text="the job's history, oldest first: who or which worker moved it, when, why",
    )
    pipeline = serializers.JSONField(read_only=True)
    requester: serializers.SlugRelatedField[UserModel] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "status",
            "progress",
            "current_step",
            "attempts",
            "error",
            "cancel_requested",
            "input",
            "pipeline",
            "steps",
            "events",
            "output",
            "requester",
            "on_behalf_of",
            "seed",
            "time_limit_s",
            "step_time_limits",
            "heartbeat_at",
            "created_at",
            "started_at",
            "ended_at",
            "updated_at",
        ]
        read_only_fields = fields


class ModelWeightsSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelWeights
        fields = [
            "id",
            "name",
            "sha256",
            "architecture",
            "purpose",
            "scale",
            "license",
            "license_note",
            "source_url",
            "size",
            "available",
            "registered_at",
        ]


class OperationSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    kind = serializers.ChoiceField(choices=["classical", "ai", "synthetic"])
    description = serializers.CharField()
    params_schema = serializers.DictField(
        child=serializers.JSONField(), help_text="JSON schema of `params`"
    )
    input_roles = serializers.DictField(
        child=serializers.BooleanField(), help_text="extra inputs by role: true = required"
    )
    output_roles = serializers.ListField(child=serializers.CharField())
    available = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True, help_text="why it is unavailable")


class VerifySerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checked = serializers.IntegerField(help_text="files and step records re-hashed")
    problems = serializers.ListField(
        child=serializers.DictField(child=serializers.JSONField()),
        help_text="each with kind (file_missing, file_changed, record_changed, chain_broken), "
        "artifact and/or step, expected/actual, message",
    )
    audit_run = serializers.IntegerField(help_text="the recorded audit run")


class ManualStepSerializer(serializers.Serializer):
    """``multipart/form-data``: a hand-retouched result of an input artifact."""

    input = visible_pk(Artifact, visibility.visible_artifacts, help_text="the artifact retouched")
    image = serializers.FileField(help_text="the retouched image")
    rationale = serializers.CharField(help_text="what was done by hand, and why")
    tool = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="software used, e.g. GIMP 2.10"
    )
    citations = serializers.ListField(
        child=visible_pk(Citation, visibility.visible_citations), required=False
    )
    references = serializers.ListField(
        child=visible_pk(ReferenceImage, visibility.visible_references), required=False
    )
    on_behalf_of = serializers.CharField(max_length=300, required=False, allow_blank=True)


class PhotoApproveSerializer(serializers.Serializer):
    """``POST photos/{id}/approve/``: the curator's choice of restoration (null withdraws it)."""

    artifact = serializers.IntegerField(allow_null=True, min_value=1, max_value=2**63 - 1)
    note = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10_000,
        default="",
        help_text="required when a step that made the artifact judged a face 'different'",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["unknown field"] for name in sorted(unknown)})
        return attrs
