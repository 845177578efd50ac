"""Derived, regenerable data of the interop layer: IIIF tile sets. Not lineage: a tile set
can be deleted and made again from its artifact at any time."""

from __future__ import annotations

from django.db import models


class TileSet(models.Model):
    """The static IIIF Image API 3 (level 0) tiles of one image artifact, plus a full-size
    access JPEG, stored under ``previews/iiif/<sha256>/`` through the storage API."""

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    artifact = models.OneToOneField(
        "restoration.Artifact", on_delete=models.PROTECT, related_name="tileset"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    prefix = models.CharField(max_length=200)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    tile_size = models.PositiveIntegerField(default=512)
    info = models.JSONField(default=dict, blank=True, help_text="info.json as dzsave wrote it")
    files = models.PositiveIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0.0)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"tiles of artifact {self.artifact_id} ({self.status})"


class BagImport(models.Model):
    """Where imported records came from: one row per imported bag, written in the import's
    transaction (the bag's own metadata, its manifest's hash, what it recreated)."""

    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    bag_name = models.CharField(max_length=300)
    source_organization = models.CharField(max_length=300, blank=True)
    origin = models.CharField(
        max_length=300, blank=True, help_text="the exporting archive's log origin"
    )
    external_identifier = models.CharField(max_length=300, blank=True)
    bagging_date = models.CharField(max_length=40, blank=True)
    payload_oxum = models.CharField(max_length=60, blank=True)
    manifest_sha256 = models.CharField(max_length=64, help_text="sha256 of manifest-sha256.txt")
    bag_info = models.JSONField(default=dict, blank=True)
    photo = models.ForeignKey(
        "archive.Photo", on_delete=models.PROTECT, null=True, related_name="bag_imports"
    )
    artifacts_created = models.JSONField(default=list, blank=True)
    steps_created = models.JSONField(default=list, blank=True)
    record_hashes = models.JSONField(default=list, blank=True, help_text="every step record hash")
    checkpoint = models.JSONField(default=dict, blank=True, help_text="the origin's checkpoint")

    class Meta:
        ordering = ["-imported_at", "-id"]

    def __str__(self) -> str:
        return f"bag {self.bag_name} imported {self.imported_at:%Y-%m-%d}"


class ImportedEvidence(models.Model):
    """A catalogue record (source, citation, reference image) recreated here from a bag's
    evidence snapshots, with the id it has in the exporting archive. Rows with a ``step``
    link that step's evidence: its hashed record names ``origin_id``, its link row points at
    ``local_id``, and ``verify`` re-hashes the record with ``origin_id`` (the original record
    hash, never a recomputed one). Written once, in the import's transaction."""

    class Kind(models.TextChoices):
        SOURCE = "source"
        CITATION = "citation"
        REFERENCE = "reference"

    bag_import = models.ForeignKey(BagImport, on_delete=models.PROTECT, related_name="evidence")
    step = models.ForeignKey(
        "restoration.Step",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="imported_evidence",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    origin_id = models.BigIntegerField(help_text="the record's id in the exporting archive")
    origin_revision = models.PositiveIntegerField(default=0)
    local_id = models.BigIntegerField(help_text="the record recreated here")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["step", "kind"], name="imported_evidence_step")]

    def __str__(self) -> str:
        return f"{self.kind} {self.origin_id} -> {self.local_id}"
