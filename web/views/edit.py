"""Cataloguing pages (the cataloguer role): create and edit figures (names in any script),
photos (one or many scans at once), sources, citations (attached from any record's page),
notes and reference images. Every write goes through ``archive.services``."""

from __future__ import annotations

import inspect
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.actions import can_catalogue
from access.visibility import (
    visible_figures,
    visible_notes,
    visible_photos,
    visible_references,
    visible_sources,
)
from archive import services
from archive.dates import edtf_bounds
from archive.models import Citation, Figure, FigureName, Note, Photo, ReferenceImage, Source
from restoration.imagefile import ImageRejected
from web.views.common import login_required_unless_public

MAX_NAMES = 50


def _require_cataloguer(request: HttpRequest) -> HttpResponse | None:
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    if not can_catalogue(request.user):
        raise PermissionDenied(_("Only cataloguers may edit the catalogue."))
    return None


def _call(service: Any, request: HttpRequest, **kwargs: Any) -> Any:
    """Call a catalogue service, naming the user when it takes one (revisions record who)."""
    if "user" in inspect.signature(service).parameters and "user" not in kwargs:
        kwargs["user"] = request.user
    return service(**kwargs)


class EdtfInput(forms.TextInput):
    """A text box the page checks as you type (``/edtf/?value=``)."""

    def __init__(self) -> None:
        super().__init__(attrs={"data-edtf": "1", "autocomplete": "off", "spellcheck": "false"})


class FigureForm(forms.ModelForm):
    class Meta:
        model = Figure
        fields = [
            "name",
            "sort_name",
            "birth_date",
            "death_date",
            "biography",
            "wikidata_id",
            "restricted",
        ]
        widgets = {
            "birth_date": EdtfInput(),
            "death_date": EdtfInput(),
            "biography": forms.Textarea(attrs={"rows": 5}),
        }


class PhotoForm(forms.ModelForm):
    class Meta:
        model = Photo
        fields = [
            "title",
            "description",
            "figures",
            "date",
            "place",
            "photographer",
            "repository",
            "accession_number",
            "carrier",
            "physical_description",
            "rights_statement",
            "restricted",
        ]
        widgets = {
            "date": EdtfInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
            "physical_description": forms.Textarea(attrs={"rows": 2}),
            "figures": forms.SelectMultiple(attrs={"size": 6}),
        }

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["figures"].queryset = visible_figures(Figure.objects.all(), user)  # type: ignore[attr-defined]


class UploadForm(PhotoForm):
    """The metadata shared by every scan of one upload (the title defaults to the file name)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        self.fields["title"].help_text = gettext_lazy("Empty: each scan takes its file name.")


class SourceForm(forms.ModelForm):
    url = forms.URLField(
        label=gettext_lazy("URL"), required=False, max_length=1000, assume_scheme="https"
    )

    class Meta:
        model = Source
        fields = [
            "kind",
            "title",
            "author",
            "publisher",
            "date",
            "repository",
            "identifier",
            "url",
            "notes",
            "restricted",
        ]
        widgets = {"date": EdtfInput(), "notes": forms.Textarea(attrs={"rows": 3})}


class CitationForm(forms.ModelForm):
    class Meta:
        model = Citation
        fields = ["source", "locator", "quote", "claim", "confidence", "restricted"]
        widgets = {"quote": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = visible_sources(Source.objects.all(), user)  # type: ignore[attr-defined]


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["title", "body", "restricted"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}


class ReferenceForm(forms.ModelForm):
    image = forms.FileField(
        label=gettext_lazy("Image"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    class Meta:
        model = ReferenceImage
        fields = ["kind", "title", "description", "restricted"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


def _fields(form: forms.ModelForm, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in form.cleaned_data.items() if k not in skip}


def _service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- figures ----------------------------------------------------------------------------------


def _names_from_post(request: HttpRequest) -> tuple[list[dict[str, str]], list[str]]:
    names: list[dict[str, str]] = []
    errors: list[str] = []
    kinds = set(FigureName.Kind.values)
    for i in range(MAX_NAMES):
        name = request.POST.get(f"names-{i}-name", "").strip()
        if not name:
            continue
        language = request.POST.get(f"names-{i}-language", "").strip()[:35]
        kind = request.POST.get(f"names-{i}-kind", "variant")
        if kind not in kinds:
            errors.append(_("Unknown kind of name: %(kind)s") % {"kind": kind})
            continue
        names.append({"name": name[:300], "language": language, "kind": kind})
    return names, errors


def figure_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if (response := _require_cataloguer(request)) is not None:
        return response
    figure = (
        get_object_or_404(visible_figures(Figure.objects.all(), request.user), pk=pk)
        if pk
        else None
    )
    form = FigureForm(request.POST or None, instance=figure)
    names = (
        [{"name": n.name, "language": n.language, "kind": n.kind} for n in figure.names.all()]
        if figure
        else []
    )
    name_errors: list[str] = []
    if request.method == "POST":
        names, name_errors = _names_from_post(request)
        if form.is_valid() and not name_errors:
            fields = _fields(form)
            try:
                if figure is None:
                    figure = _call(services.figure_create, request, names=names, **fields)
                else:
                    fields.pop("name", None)
                    figure = _call(
                        services.figure_update,
                        request,
                        figure=figure,
                        names=names,
                        name=form.cleaned_data["name"],
                        **fields,
                    )
            except ValidationError as exc:
                _service_errors(form, exc)
            else:
                messages.success(request, _("Figure saved."))
                return redirect("web:figure", pk=figure.pk)
    while len(names) < 3:
        names.append({"name": "", "language": "", "kind": "variant"})
    return render(
        request,
        "web/edit_figure.html",
        {
            "form": form,
            "figure": figure,
            "names": names,
            "name_errors": name_errors,
            "kinds": FigureName.Kind.choices,
        },
        status=400 if request.method == "POST" else 200,
    )


# --- photos -----------------------------------------------------------------------------------


def photo_edit(request: HttpRequest, pk: int) -> HttpResponse:
    if (response := _require_cataloguer(request)) is not None:
        return response
    photo = get_object_or_404(visible_photos(Photo.objects.all(), request.user), pk=pk)
    form = PhotoForm(request.POST or None, instance=photo, user=request.user)
    if request.method == "POST" and form.is_valid():
        fields = _fields(form, skip=("figures",))
        try:
            _call(
                services.photo_update,
                request,
                photo=photo,
                figures=list(form.cleaned_data["figures"]),
                **fields,
            )
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            messages.success(request, _("Photo saved."))
            return redirect("web:photo", pk=photo.pk)
    return render(
        request,
        "web/edit_record.html",
        {
            "form": form,
            "title": _("Edit photo: %(title)s") % {"title": photo.title},
            "back": reverse("web:photo", args=[photo.pk]),
        },
        status=400 if form.errors else 200,
    )


def photo_upload(request: HttpRequest) -> HttpResponse:
    """Drop one or many scans; with JavaScript each goes to the API with its own progress bar
    and result; without, this view ingests them one after the other."""
    if (response := _require_cataloguer(request)) is not None:
        return response
    initial = {}
    if request.GET.get("figure", "").isdigit():
        initial["figures"] = [int(request.GET["figure"])]
    form = UploadForm(request.POST or None, initial=initial, user=request.user)
    results: list[dict[str, Any]] = []
    if request.method == "POST" and form.is_valid():
        files = request.FILES.getlist("image")
        if not files:
            form.add_error(None, _("Choose at least one scan."))
        meta = {
            k: v
            for k, v in _fields(form, skip=("figures", "title")).items()
            if k in services.PHOTO_FIELDS
        }
        for upload in files:
            try:
                result = services.photo_ingest(
                    stream=upload,
                    filename=upload.name or "upload",
                    title=form.cleaned_data["title"] or upload.name or "",
                    user=request.user,
                    figure_ids=[f.pk for f in form.cleaned_data["figures"]],
                    metadata=meta,
                )
            except ImageRejected as exc:
                results.append({"name": upload.name, "state": "refused", "message": str(exc)})
                continue
            results.append(
                {
                    "name": upload.name,
                    "state": "duplicate" if result.duplicate else "ingested",
                    "photo": result.photo.pk if result.photo else None,
                }
            )
    return render(
        request,
        "web/photo_upload.html",
        {"form": form, "results": results},
        status=400 if form.errors else 200,
    )


# --- sources, citations, notes, references ----------------------------------------------------


def source_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if (response := _require_cataloguer(request)) is not None:
        return response
    source = (
        get_object_or_404(visible_sources(Source.objects.all(), request.user), pk=pk)
        if pk
        else None
    )
    form = SourceForm(request.POST or None, instance=source)
    back = request.GET.get("next", "")
    if request.method == "POST" and form.is_valid():
        try:
            if source is None:
                source = _call(services.source_create, request, **_fields(form))
            else:
                _call(services.source_update, request, source=source, **_fields(form))
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            messages.success(request, _("Source saved."))
            if back.startswith("/") and not back.startswith("//"):
                return redirect(f"{back}{'&' if '?' in back else '?'}source={source.pk}")
            return redirect("web:source", pk=source.pk)
    return render(
        request,
        "web/edit_record.html",
        {
            "form": form,
            "title": _("Edit source") if source else _("New source"),
            "back": reverse("web:source", args=[source.pk]) if source else reverse("web:home"),
        },
        status=400 if form.errors else 200,
    )


def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    from web.views.common import citations_prefetch

    source = get_object_or_404(
        visible_sources(Source.objects.all(), request.user).prefetch_related(
            citations_prefetch(request, "citations")
        ),
        pk=pk,
    )
    return render(
        request,
        "web/source.html",
        {"source": source, "can_catalogue": can_catalogue(request.user)},
    )


TARGETS = {
    "figure": (Figure, visible_figures, "web:figure"),
    "photo": (Photo, visible_photos, "web:photo"),
    "note": (Note, visible_notes, "web:note"),
    "reference": (ReferenceImage, visible_references, "web:reference"),
    "source": (Source, visible_sources, "web:source"),
}


def _target(request: HttpRequest, spec: str) -> tuple[Any, str]:
    kind, _sep, raw = spec.partition(":")
    if kind not in TARGETS or not raw.isdigit():
        raise Http404("no such record")
    model, visible, view = TARGETS[kind]
    record = get_object_or_404(visible(model._default_manager.all(), request.user), pk=int(raw))
    if isinstance(record, Note):  # kind "note"
        return record, reverse("web:figure", args=[record.figure_id]) if record.figure_id else (
            reverse("web:photo", args=[record.photo_id]) if record.photo_id else reverse("web:home")
        )
    return record, reverse(view, args=[record.pk])


def citation_new(request: HttpRequest) -> HttpResponse:
    """Cite a source on any record (``?target=figure:3``)."""
    if (response := _require_cataloguer(request)) is not None:
        return response
    spec = request.GET.get("target", "")
    record, back = _target(request, spec)
    initial = {}
    if request.GET.get("source", "").isdigit():
        initial["source"] = int(request.GET["source"])
    form = CitationForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        fields = _fields(form)
        source = fields.pop("source")
        try:
            _call(services.citation_create, request, source=source, target=record, **fields)
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            messages.success(request, _("Citation added."))
            return redirect(back)
    return render(
        request,
        "web/edit_record.html",
        {
            "form": form,
            "title": _("Cite a source on: %(record)s") % {"record": record},
            "back": back,
            "new_source_url": reverse("web:source-new") + "?next=" + request.get_full_path(),
        },
        status=400 if form.errors else 200,
    )


def note_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if (response := _require_cataloguer(request)) is not None:
        return response
    note = get_object_or_404(visible_notes(Note.objects.all(), request.user), pk=pk) if pk else None
    owner: dict[str, Any] = {}
    if note is None:
        for key, model, visible in (
            ("figure", Figure, visible_figures),
            ("photo", Photo, visible_photos),
        ):
            raw = request.GET.get(key, "")
            if raw.isdigit():
                owner[key] = get_object_or_404(
                    visible(model.objects.all(), request.user), pk=int(raw)
                )
        if not owner:
            raise Http404(_("A note belongs to a figure or a photo."))
    form = NoteForm(request.POST or None, instance=note)
    if request.method == "POST" and form.is_valid():
        try:
            if note is None:
                note = _call(
                    services.note_create, request, author=request.user, **owner, **_fields(form)
                )
            else:
                _call(services.note_update, request, note=note, **_fields(form))
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            messages.success(request, _("Note saved."))
            return redirect(_note_back(note))
    return render(
        request,
        "web/edit_record.html",
        {"form": form, "title": _("Research note"), "back": _note_back(note) if note else "/"},
        status=400 if form.errors else 200,
    )


def _note_back(note: Note) -> str:
    if note.figure_id:
        return reverse("web:figure", args=[note.figure_id])
    if note.photo_id:
        return reverse("web:photo", args=[note.photo_id])
    return reverse("web:home")


def note_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if (redirect_response := login_required_unless_public(request)) is not None:
        return redirect_response
    note = get_object_or_404(visible_notes(Note.objects.all(), request.user), pk=pk)
    return redirect(_note_back(note) + f"#note-{note.pk}")


def reference_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if (response := _require_cataloguer(request)) is not None:
        return response
    reference = (
        get_object_or_404(visible_references(ReferenceImage.objects.all(), request.user), pk=pk)
        if pk
        else None
    )
    figure = None
    if reference is None:
        raw = request.GET.get("figure", "")
        if raw.isdigit():
            figure = get_object_or_404(
                visible_figures(Figure.objects.all(), request.user), pk=int(raw)
            )
    form = ReferenceForm(request.POST or None, request.FILES or None, instance=reference)
    if request.method == "POST" and form.is_valid():
        fields = _fields(form, skip=("image",))
        upload = form.cleaned_data.get("image")
        try:
            if reference is None:
                if upload is None:
                    raise ValidationError({"image": [_("Choose the reference image file.")]})
                reference = _call(
                    services.reference_create,
                    request,
                    stream=upload,
                    filename=upload.name or "reference",
                    figure=figure,
                    **fields,
                )
            else:
                _call(services.reference_update, request, reference=reference, **fields)
        except ValidationError as exc:
            _service_errors(form, exc)
        except ImageRejected as exc:
            form.add_error("image", str(exc))
        else:
            messages.success(request, _("Reference image saved."))
            return redirect("web:reference", pk=reference.pk)
    return render(
        request,
        "web/edit_record.html",
        {
            "form": form,
            "title": _("Reference image"),
            "multipart": True,
            "back": reverse("web:figure", args=[figure.pk]) if figure else "/",
        },
        status=400 if form.errors else 200,
    )


def edtf_check(request: HttpRequest) -> JsonResponse:
    """Checks an EDTF date as the cataloguer types it: its bounds, or why it is refused."""
    value = request.GET.get("value", "")[:200]
    try:
        bounds = edtf_bounds(value)
    except ValidationError as exc:
        return JsonResponse({"ok": False, "message": exc.messages[0]})
    return JsonResponse(
        {
            "ok": True,
            "earliest": bounds.lower.isoformat() if bounds.lower else None,
            "latest": bounds.upper.isoformat() if bounds.upper else None,
        }
    )
