"""The catalogue: historical figures, their photos, sources, citations, references and notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from archive.dates import edtf_bounds, validate_edtf
from restoration.models import AppendOnlyModel

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise  # a stubs-only helper: not installed to run


class Restrictable(models.Model):
    """Restricted records are invisible to users without ``archive.view_restricted``."""

    restricted = models.BooleanField(
        _("restricted"),
        default=False,
        help_text=_("Only users with the 'view restricted records' permission can see it."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def _edtf_field(verbose: StrOrPromise) -> models.CharField:
    return models.CharField(
        verbose,
        max_length=100,
        blank=True,
        validators=[validate_edtf],
        help_text=_("EDTF: 1927-04-28, 1927-04, 1925~ (about), 1898? (uncertain), 192X, 1920/1930"),
    )


class Figure(Restrictable):
    """A historical person. Names in any script live in FigureName; this is the display name."""

    name = models.CharField(_("display name"), max_length=300)
    sort_name = models.CharField(_("sort name"), max_length=300, blank=True)
    birth_date = _edtf_field(_("birth date"))
    death_date = _edtf_field(_("death date"))
    birth_earliest = models.DateField(null=True, blank=True, editable=False)
    birth_latest = models.DateField(null=True, blank=True, editable=False)
    death_earliest = models.DateField(null=True, blank=True, editable=False)
    death_latest = models.DateField(null=True, blank=True, editable=False)
    biography = models.TextField(_("biography"), blank=True)
    wikidata_id = models.CharField(
        _("Wikidata id"),
        max_length=20,
        blank=True,
        help_text=_("e.g. Q1001"),
    )
    external_ids = models.JSONField(
        _("other external ids"),
        default=dict,
        blank=True,
        help_text=_('e.g. {"viaf": "...", "lcnaf": "...", "cbdb": "..."}'),
    )
    # Folded search key (archive.folding; kept up to date by archive.search on every save).
    search_key = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["sort_name", "name", "id"]
        permissions = [("view_restricted", "Can view restricted catalogue records")]
        indexes = [
            models.Index(fields=["sort_name", "name", "id"], name="figure_sort"),
            models.Index(fields=["created_at"], name="figure_created"),
            models.Index(fields=["birth_earliest"], name="figure_birth"),
            models.Index(fields=["id"], condition=models.Q(restricted=True), name="figure_hidden"),
            # What a list counts for a viewer: an index-only count, not a scan of every row.
            models.Index(fields=["id"], condition=models.Q(restricted=False), name="figure_public"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        birth = edtf_bounds(self.birth_date)
        death = edtf_bounds(self.death_date)
        self.birth_earliest, self.birth_latest = birth.lower, birth.upper
        self.death_earliest, self.death_latest = death.lower, death.upper
        if not self.sort_name:
            self.sort_name = self.name
        super().save(*args, **kwargs)


class FigureName(models.Model):
    """One name of a figure, in one script or romanisation (e.g. 鲁迅 zh-Hans, Lu Xun zh-Latn-pinyin)."""

    class Kind(models.TextChoices):
        PREFERRED = "preferred", _("preferred")
        BIRTH = "birth", _("birth name")
        COURTESY = "courtesy", _("courtesy name")
        PEN = "pen", _("pen name")
        MARRIED = "married", _("married name")
        ROMANISATION = "romanisation", _("romanisation")
        VARIANT = "variant", _("variant spelling")
        OTHER = "other", _("other")

    figure = models.ForeignKey(Figure, on_delete=models.CASCADE, related_name="names")
    name = models.CharField(_("name"), max_length=300, db_index=True)
    language = models.CharField(
        _("language/script"),
        max_length=35,
        blank=True,
        help_text=_("BCP 47 tag, e.g. zh-Hans, zh-Hant, zh-Latn-pinyin, ru-Cyrl, en"),
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.VARIANT)

    class Meta:
        ordering = ["figure_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["figure", "name", "language"], name="figure_name_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})" if self.language else self.name


class Source(Restrictable):
    class Kind(models.TextChoices):
        BOOK = "book", _("book")
        ARTICLE = "article", _("article")
        ARCHIVE_FONDS = "archive", _("archive fonds / collection")
        NEWSPAPER = "newspaper", _("newspaper")
        INTERVIEW = "interview", _("interview")
        LETTER = "letter", _("letter / diary")
        WEB = "web", _("web page")
        PHOTOGRAPH = "photograph", _("photograph")
        OBJECT = "object", _("object / garment")
        OTHER = "other", _("other")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.BOOK)
    title = models.CharField(_("title"), max_length=500)
    author = models.CharField(_("author"), max_length=300, blank=True)
    publisher = models.CharField(_("publisher"), max_length=300, blank=True)
    date = _edtf_field(_("date"))
    date_earliest = models.DateField(null=True, blank=True, editable=False)
    date_latest = models.DateField(null=True, blank=True, editable=False)
    repository = models.CharField(_("holding repository"), max_length=300, blank=True)
    identifier = models.CharField(
        _("identifier"), max_length=200, blank=True, help_text=_("ISBN, call number, DOI...")
    )
    url = models.URLField(_("URL"), max_length=1000, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Folded search key (archive.folding; kept up to date by archive.search on every save).
    search_key = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["title", "id"]
        indexes = [
            models.Index(fields=["title", "id"], name="source_sort"),
            models.Index(fields=["created_at"], name="source_created"),
            models.Index(fields=["date_earliest"], name="source_date"),
            models.Index(fields=["id"], condition=models.Q(restricted=True), name="source_hidden"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        bounds = edtf_bounds(self.date)
        self.date_earliest, self.date_latest = bounds.lower, bounds.upper
        super().save(*args, **kwargs)


class Citation(Restrictable):
    """A source + locator + quote backing one fact. Attached to any catalogue record (generic
    target) and, through ``restoration.Step.citations``, to the restoration steps it justified."""

    class Confidence(models.TextChoices):
        CERTAIN = "certain", _("certain")
        PROBABLE = "probable", _("probable")
        POSSIBLE = "possible", _("possible")
        SPECULATIVE = "speculative", _("speculative")

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="citations")
    locator = models.CharField(
        _("locator"), max_length=300, blank=True, help_text=_("page, folio, timestamp, box/folder")
    )
    quote = models.TextField(_("quote"), blank=True)
    confidence = models.CharField(
        _("confidence"), max_length=20, choices=Confidence.choices, default=Confidence.PROBABLE
    )
    claim = models.CharField(
        _("what it supports"),
        max_length=500,
        blank=True,
        help_text=_("e.g. 'the collar was dark blue'"),
    )
    target_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    # Folded search key (archive.folding; kept up to date by archive.search on every save).
    search_key = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"]),
            models.Index(fields=["created_at"], name="citation_created"),
            models.Index(
                fields=["id"], condition=models.Q(restricted=True), name="citation_hidden"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.locator}".strip()


class Photo(Restrictable):
    """A catalogued original (print, negative, plate, film) and its untouched master scan."""

    class Carrier(models.TextChoices):
        PRINT = "print", _("print")
        NEGATIVE = "negative", _("negative")
        GLASS_PLATE = "glass_plate", _("glass plate")
        FILM = "film", _("film")
        SLIDE = "slide", _("slide / transparency")
        TINTYPE = "tintype", _("tintype / ambrotype")
        DAGUERREOTYPE = "daguerreotype", _("daguerreotype")
        CARTE = "carte", _("carte de visite / cabinet card")
        DIGITAL = "digital", _("born digital")
        UNKNOWN = "unknown", _("unknown")

    title = models.CharField(_("title"), max_length=500)
    description = models.TextField(_("description"), blank=True)
    figures = models.ManyToManyField(
        Figure, related_name="photos", blank=True, verbose_name=_("figures shown")
    )
    date = _edtf_field(_("date taken"))
    date_earliest = models.DateField(null=True, blank=True, editable=False)
    date_latest = models.DateField(null=True, blank=True, editable=False)
    place = models.CharField(_("place"), max_length=300, blank=True)
    photographer = models.CharField(_("photographer / studio"), max_length=300, blank=True)
    repository = models.CharField(_("holding repository"), max_length=300, blank=True)
    accession_number = models.CharField(
        _("accession number"), max_length=100, blank=True, db_index=True
    )
    carrier = models.CharField(
        _("physical carrier"), max_length=20, choices=Carrier.choices, default=Carrier.UNKNOWN
    )
    physical_description = models.TextField(
        _("physical description"), blank=True, help_text=_("size, process, condition, inscriptions")
    )
    rights_statement = models.CharField(
        _("rights statement"),
        max_length=300,
        blank=True,
        help_text=_("e.g. http://rightsstatements.org/vocab/NoC-US/1.0/ or CC0"),
    )
    exif = models.JSONField(_("EXIF"), default=dict, blank=True, editable=False)
    master = models.ForeignKey(
        "restoration.Artifact",
        on_delete=models.PROTECT,
        related_name="photos",
        verbose_name=_("master scan"),
        editable=False,
    )
    # The curator's choice among this photo's restorations (issue 14): shown first, exported
    # first. A pointer, not a copy: the artifact keeps its own lineage.
    approved_artifact = models.ForeignKey(
        "restoration.Artifact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_for",
        verbose_name=_("approved restoration"),
    )
    approved_note = models.TextField(_("approval note"), blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # Issue 22: a restoration with a step judged "different person" is approved only with the
    # curator's written reason (kept here, so the revision of the approval records it).
    approved_identity_reason = models.TextField(
        _("reason for approving a changed face"), blank=True
    )
    # Folded search key (archive.folding; kept up to date by archive.search on every save).
    search_key = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            # One catalogue record per master scan: the database, not a look-before-write,
            # keeps racing uploads of the same bytes from cataloguing it twice.
            models.UniqueConstraint(fields=["master"], name="one_photo_per_master")
        ]
        indexes = [
            models.Index(fields=["title", "id"], name="photo_sort"),
            models.Index(fields=["created_at"], name="photo_created"),
            models.Index(fields=["date_earliest"], name="photo_date"),
            # The seeds of the artifact taint (access.visibility): restricted photos' masters.
            models.Index(
                fields=["master"], condition=models.Q(restricted=True), name="photo_hidden"
            ),
            models.Index(fields=["id"], condition=models.Q(restricted=False), name="photo_public"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        bounds = edtf_bounds(self.date)
        self.date_earliest, self.date_latest = bounds.lower, bounds.upper
        super().save(*args, **kwargs)


class ReferenceImage(Restrictable):
    """An image consulted while restoring: another angle, a relative, period colour, costume."""

    class Kind(models.TextChoices):
        OTHER_ANGLE = "other_angle", _("same person, other photo")
        RELATIVE = "relative", _("relative")
        PERIOD_COLOUR = "period_colour", _("period colour photograph")
        COSTUME = "costume", _("costume / uniform")
        PLACE = "place", _("place")
        OBJECT = "object", _("object")
        OTHER = "other", _("other")

    artifact = models.ForeignKey(
        "restoration.Artifact", on_delete=models.PROTECT, related_name="reference_images"
    )
    figure = models.ForeignKey(
        Figure, on_delete=models.SET_NULL, null=True, blank=True, related_name="reference_images"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.OTHER)
    title = models.CharField(_("title"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    citations = GenericRelation(
        Citation, content_type_field="target_type", object_id_field="target_id"
    )
    # Folded search key (archive.folding; kept up to date by archive.search on every save).
    search_key = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["created_at"], name="reference_created"),
            models.Index(
                fields=["id"], condition=models.Q(restricted=True), name="reference_hidden"
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"reference #{self.pk}"


class Note(Restrictable):
    """A research note, e.g. 'the collar was dark blue: interview with X, 1987, p. 12'."""

    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("text"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    figure = models.ForeignKey(
        Figure, on_delete=models.CASCADE, null=True, blank=True, related_name="notes"
    )
    photo = models.ForeignKey(
        Photo, on_delete=models.CASCADE, null=True, blank=True, related_name="notes"
    )
    citations = GenericRelation(
        Citation, content_type_field="target_type", object_id_field="target_id"
    )
    # Folded search key (archive.folding; kept up to date by archive.search on every save).
    search_key = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["-created_at", "id"], name="note_sort"),
            models.Index(fields=["id"], condition=models.Q(restricted=True), name="note_hidden"),
        ]

    def __str__(self) -> str:
        return self.title


# Reverse generic relations so that "each fact with its citations" is one prefetch.
Figure.add_to_class(
    "citations",
    GenericRelation(Citation, content_type_field="target_type", object_id_field="target_id"),
)
Photo.add_to_class(
    "citations",
    GenericRelation(Citation, content_type_field="target_type", object_id_field="target_id"),
)
Source.add_to_class(
    "citations_about",
    GenericRelation(Citation, content_type_field="target_type", object_id_field="target_id"),
)


class Batch(models.Model):
    """One pipeline run on many photos (issue 14): the jobs it queued, one per photo, in order.
    Ids, not foreign keys: a batch is a page's grouping, the jobs keep their own records."""

    title = models.CharField(_("title"), max_length=300, blank=True)
    pipeline = models.JSONField(_("pipeline"), default=list)
    photo_ids = models.JSONField(default=list)
    job_ids = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title or f"batch #{self.pk}"


class Revision(AppendOnlyModel):
    """One write of a catalogue record (DESIGN.md, "Evidence is frozen where it is used"):
    who, when, the record before and after (``archive.revisions.record_state``), written in
    the transaction of the write and appended to the transparency log by its ``record_hash``.
    Numbers count from 1 per record; a delete is a revision whose ``after`` is null."""

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("changed")
        DELETE = "delete", _("deleted")

    record_type = models.CharField(max_length=30, help_text="figure, photo, source, ...")
    record_id = models.BigIntegerField()
    number = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    at = models.DateTimeField()
    # PROTECT, like Step.user: revisions are append-only, a SET NULL would be an update.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=150, blank=True, help_text="username at the time")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    record_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["record_type", "record_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["record_type", "record_id", "number"], name="revision_number_unique"
            )
        ]
        indexes = [models.Index(fields=["record_type", "record_id", "-number"])]

    def __str__(self) -> str:
        return f"{self.record_type} {self.record_id} revision {self.number} ({self.action})"


class WithheldFile(models.Model):
    """An artifact whose last catalogue record was restricted and then deleted: its file stays
    hidden from users without ``view_restricted`` (``access.visibility``), as it was."""

    artifact = models.OneToOneField(
        "restoration.Artifact", on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)


class Film(Restrictable):
    """A catalogued moving-image original (a reel, a tape) and its untouched master video.

    The master is a video artifact (the scan or transfer as received, or a lossless FFV1 copy
    made from an image sequence). ``original_fps`` is the rate the film was shot at (16-18 fps
    for much silent film), which the transfer's own rate (``master.fps``) often is not."""

    class Carrier(models.TextChoices):
        NITRATE_35 = "35mm_nitrate", _("35 mm nitrate")
        SAFETY_35 = "35mm_safety", _("35 mm safety (acetate, polyester)")
        MM_28 = "28mm", _("28 mm")
        MM_17_5 = "17.5mm", _("17.5 mm")
        MM_16 = "16mm", _("16 mm")
        MM_9_5 = "9.5mm", _("9.5 mm")
        MM_8 = "8mm", _("8 mm")
        SUPER_8 = "super8", _("Super 8")
        TAPE = "tape", _("video tape")
        DIGITAL = "digital", _("born digital")
        UNKNOWN = "unknown", _("unknown")

    title = models.CharField(_("title"), max_length=500)
    description = models.TextField(_("description"), blank=True)
    figures = models.ManyToManyField(
        Figure, related_name="films", blank=True, verbose_name=_("figures shown")
    )
    date = _edtf_field(_("date"))
    date_earliest = models.DateField(null=True, blank=True, editable=False)
    date_latest = models.DateField(null=True, blank=True, editable=False)
    place = models.CharField(_("place"), max_length=300, blank=True)
    maker = models.CharField(_("maker / studio"), max_length=300, blank=True)
    repository = models.CharField(_("holding repository"), max_length=300, blank=True)
    accession_number = models.CharField(
        _("accession number"), max_length=100, blank=True, db_index=True
    )
    carrier = models.CharField(
        _("physical carrier"), max_length=20, choices=Carrier.choices, default=Carrier.UNKNOWN
    )
    original_fps = models.CharField(
        _("original frame rate"),
        max_length=32,
        blank=True,
        help_text=_('as shot, "num/den" (e.g. 16/1, 18/1, 24000/1001); empty if unknown'),
    )
    physical_description = models.TextField(
        _("physical description"), blank=True, help_text=_("length, gauge, condition, titles")
    )
    rights_statement = models.CharField(_("rights statement"), max_length=300, blank=True)
    master = models.ForeignKey(
        "restoration.Artifact",
        on_delete=models.PROTECT,
        related_name="films",
        verbose_name=_("master video"),
        editable=False,
    )

    class Meta:
        ordering = ["title", "id"]
        constraints = [models.UniqueConstraint(fields=["master"], name="one_film_per_master")]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        bounds = edtf_bounds(self.date)
        self.date_earliest, self.date_latest = bounds.lower, bounds.upper
        super().save(*args, **kwargs)


Film.add_to_class(
    "citations",
    GenericRelation(Citation, content_type_field="target_type", object_id_field="target_id"),
)


class FaceIdentification(models.Model):
    """A cataloguer's statement that a measured face (restoration.Face) shows a figure: a
    catalogue fact, written with a revision and logged like every other (issue 22). Backed by
    a citation, a rationale, or both."""

    face = models.ForeignKey(
        "restoration.Face", on_delete=models.PROTECT, related_name="identifications"
    )
    figure = models.ForeignKey(Figure, on_delete=models.PROTECT, related_name="faces")
    citation = models.ForeignKey(
        Citation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rationale = models.TextField(blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["figure_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["face", "figure"], name="one_identification_per_pair")
        ]

    def __str__(self) -> str:
        return f"face {self.face_id} is figure {self.figure_id}"
