"""The catalogue in the Django admin, usable by an archivist: names inline, citations inline,
and adding a photo means uploading its master scan (validated and ingested with its lineage)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from archive.models import (
    Citation,
    Figure,
    FigureName,
    Note,
    Photo,
    ReferenceImage,
    Revision,
    Source,
)
from archive.revisions import record_state, record_type, revision_record
from archive.services import PHOTO_FIELDS, HiddenDependents, catalogue_delete, photo_ingest
from restoration import imagefile
from restoration.models import Artifact
from restoration.services import upload_check


class RevisedAdmin(admin.ModelAdmin):
    """Admin writes make revisions too (issue 11: who, when, before, after), inside the admin's
    own transaction; deletes go through ``catalogue_delete`` (revisions, hidden dependents)."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fresh = type(obj).objects.filter(pk=obj.pk).first() if change else None
        request._revision_before = record_state(fresh) if fresh is not None else None  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        if change:
            before = getattr(request, "_revision_before", None)
            revision_record(instance=obj, action="update", before=before, user=request.user)
        elif not Revision.objects.filter(record_type=record_type(obj), record_id=obj.pk).exists():
            revision_record(instance=obj, action="create", before=None, user=request.user)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Inline rows that are catalogue records (citations) are revised like any other write:
        a revision for each row added or changed, deletes through ``catalogue_delete``."""
        if formset.model not in _REVISED_MODELS:
            super().save_formset(request, form, formset, change)
            return
        ids = [f.instance.pk for f in formset.initial_forms if f.instance.pk is not None]
        before = {
            row.pk: record_state(row) for row in formset.model._default_manager.filter(pk__in=ids)
        }
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            try:
                catalogue_delete(record=obj, user=request.user)
            except HiddenDependents as exc:
                raise PermissionDenied(str(exc)) from exc
        for obj in instances:
            adding = obj.pk is None or obj.pk not in before
            obj.save()
            revision_record(
                instance=obj,
                action="create" if adding else "update",
                before=None if adding else before[obj.pk],
                user=request.user,
            )
        formset.save_m2m()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        try:
            catalogue_delete(record=obj, user=request.user)
        except HiddenDependents as exc:
            raise PermissionDenied(str(exc)) from exc

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


_REVISED_MODELS = {Citation, Figure, Note, Photo, ReferenceImage, Source}


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    """Revisions are append-only: read here, written by the catalogue's services."""

    list_display = ("record_type", "record_id", "number", "action", "at", "actor")
    list_filter = ("record_type", "action")
    search_fields = ("actor", "record_hash")
    readonly_fields = [f.name for f in Revision._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CitationInline(GenericTabularInline):
    model = Citation
    ct_field = "target_type"
    ct_fk_field = "target_id"
    extra = 0
    fields = ("source", "locator", "quote", "claim", "confidence", "restricted")
    autocomplete_fields = ("source",)


class FigureNameInline(admin.TabularInline):
    model = FigureName
    extra = 1


@admin.register(Figure)
class FigureAdmin(RevisedAdmin):
    list_display = ("name", "all_names", "birth_date", "death_date", "wikidata_id", "restricted")
    list_filter = ("restricted",)
    search_fields = ("name", "sort_name", "names__name", "wikidata_id", "biography")
    inlines = (FigureNameInline, CitationInline)
    readonly_fields = ("birth_earliest", "birth_latest", "death_earliest", "death_latest")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("names")

    @admin.display(description=_("names"))
    def all_names(self, obj: Figure) -> str:
        return " · ".join(n.name for n in obj.names.all())


@admin.register(Source)
class SourceAdmin(RevisedAdmin):
    list_display = ("title", "kind", "author", "date", "repository", "restricted")
    list_filter = ("kind", "restricted")
    search_fields = ("title", "author", "identifier", "repository")


@admin.register(Citation)
class CitationAdmin(RevisedAdmin):
    list_display = ("source", "locator", "claim", "confidence", "target_type", "target_id")
    list_filter = ("confidence", "target_type")
    search_fields = ("source__title", "locator", "quote", "claim")
    autocomplete_fields = ("source",)


class PhotoAddForm(forms.ModelForm):
    image = forms.FileField(
        label=_("master scan"),
        help_text=_(
            "JPEG, PNG, TIFF (8/16 bit) or WebP. Stored unmodified; its sha256 is its name."
        ),
    )

    class Meta:
        model = Photo
        fields = ("title", "figures", *PHOTO_FIELDS)

    def clean_image(self) -> Any:
        """An early answer on the form, by the ingest's own checks (``upload_check``);
        ``photo_ingest`` applies them again when the form is saved."""
        upload = self.cleaned_data["image"]
        try:
            sha256 = upload_check(stream=upload, filename=upload.name)
        except imagefile.ImageRejected as exc:
            raise forms.ValidationError(str(exc)) from exc
        upload.seek(0)
        known = Artifact.objects.filter(sha256=sha256).first()
        if known is not None:
            photo = Photo.objects.filter(master=known).first()
            raise forms.ValidationError(
                _("This file is already in the archive as artifact %(artifact)s%(photo)s.")
                % {"artifact": known.pk, "photo": f" (photo {photo.pk})" if photo else ""}
            )
        return upload


@admin.register(Photo)
class PhotoAdmin(RevisedAdmin):
    list_display = ("title", "accession_number", "carrier", "date", "repository", "restricted")
    list_filter = ("carrier", "restricted", "repository")
    search_fields = ("title", "accession_number", "figures__name", "figures__names__name", "place")
    filter_horizontal = ("figures",)
    readonly_fields = ("master_link", "preview", "exif", "date_earliest", "date_latest")
    inlines = (CitationInline,)

    def get_form(
        self, request: HttpRequest, obj: Photo | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is None:
            kwargs["form"] = PhotoAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Photo | None = None) -> Any:
        return self.readonly_fields if obj else ()

    def get_fields(self, request: HttpRequest, obj: Photo | None = None) -> Any:
        if obj is None:
            return ("image", "title", "figures", *PHOTO_FIELDS)
        return super().get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: Photo, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        upload = data["image"]
        result = photo_ingest(
            stream=upload,
            filename=upload.name,
            title=data["title"],
            user=request.user,
            figure_ids=[f.pk for f in data.get("figures") or []],
            metadata={k: data[k] for k in PHOTO_FIELDS if data.get(k) not in (None, "")},
        )
        photo = result.photo
        if photo is None:  # lost a race to another upload of these bytes, not as a photo
            raise PermissionDenied(result.notes[0])
        if result.duplicate:
            self.message_user(request, result.notes[0], level="warning")
        # The admin goes on to save the figures and inlines against ``obj``: make it the
        # ingested photo.
        obj.pk, obj.master_id = photo.pk, photo.master_id
        obj._state.adding, obj._state.db = False, photo._state.db

    @admin.display(description=_("master artifact"))
    def master_link(self, obj: Photo) -> str:
        return format_html(
            '<a href="/admin/restoration/artifact/{}/change/">artifact {}</a> sha256 <code>{}</code>',
            obj.master_id,
            obj.master_id,
            obj.master.sha256,
        )

    @admin.display(description=_("preview"))
    def preview(self, obj: Photo) -> str:
        return format_html(
            '<img src="/artifacts/{}/preview/" alt="{}" style="max-width:400px">',
            obj.master_id,
            obj.title,
        )


@admin.register(ReferenceImage)
class ReferenceImageAdmin(RevisedAdmin):
    list_display = ("__str__", "kind", "figure", "restricted")
    list_filter = ("kind", "restricted")
    search_fields = ("title", "description", "figure__name")
    raw_id_fields = ("artifact",)
    inlines = (CitationInline,)


@admin.register(Note)
class NoteAdmin(RevisedAdmin):
    list_display = ("title", "figure", "photo", "author", "created_at", "restricted")
    list_filter = ("restricted",)
    search_fields = ("title", "body")
    raw_id_fields = ("figure", "photo")
    inlines = (CitationInline,)

    def save_model(self, request: HttpRequest, obj: Note, form: Any, change: bool) -> None:
        if not change and obj.author_id is None:
            obj.author = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
