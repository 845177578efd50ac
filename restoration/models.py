"""Lineage (PROV-aligned): Artifacts are entities, Steps are activities; plus jobs and weights.

Artifacts and Steps are append-only: the ORM refuses updates and deletes here, and on
PostgreSQL a trigger refuses them too (see the migrations). ``record_hash`` is defined in
``restoration.hashing`` and documented in docs/lineage.md.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete a lineage record."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} records are append-only: update refused")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model.__name__} records are append-only: delete refused")

    # Bulk paths that bypass save() are refused as well.
    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyError(f"{self.model.__name__} records are append-only: update refused")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(
                f"{type(self).__name__} #{self.pk} is append-only: update refused"
            )
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} #{self.pk} is append-only: delete refused")


class ModelWeights(models.Model):
    """A registered weights file. Steps cite it by sha256; the file is found by ``path``."""

    class License(models.TextChoices):
        PERMISSIVE = "permissive", _("permissive")
        NON_COMMERCIAL = "non-commercial", _("non-commercial")
        UNKNOWN = "unknown", _("unknown")

    name = models.CharField(max_length=200, unique=True)
    sha256 = models.CharField(max_length=64, unique=True)
    architecture = models.CharField(max_length=100)
    purpose = models.CharField(
        max_length=40, help_text="sr, face_restore, colorize, restoration, other"
    )
    scale = models.PositiveSmallIntegerField(default=1)
    license = models.CharField(max_length=20, choices=License.choices, default=License.UNKNOWN)
    license_note = models.CharField(max_length=300, blank=True)
    source_url = models.URLField(max_length=1000, blank=True)
    path = models.CharField(max_length=1000, help_text="where the file is on this installation")
    size = models.BigIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)
    registered_at = models.DateTimeField(auto_now_add=True)
    available = models.BooleanField(default=True, help_text="false when the file went missing")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "model weights"

    def __str__(self) -> str:
        return f"{self.name} ({self.architecture}, {self.sha256[:12]})"


class Artifact(AppendOnlyModel):
    """One immutable file, content-addressed by sha256 (stored at objects/ab/cd/<sha256>)."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField()
    media_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    mode = models.CharField(max_length=20, blank=True, help_text="Pillow mode, e.g. RGB, L, I;16")
    bit_depth = models.PositiveSmallIntegerField(default=8)
    has_icc_profile = models.BooleanField(default=False)
    role = models.CharField(max_length=30, default="image", help_text="image, mask, ...")
    info = models.JSONField(default=dict, blank=True, help_text="facts read at ingest (pages, ...)")
    # Moving images (films, animations): empty for stills. The frame rate is a rational
    # ("24000/1001"), never a float, so 23.976 fps round-trips exactly.
    frame_count = models.PositiveIntegerField(null=True, blank=True)
    fps = models.CharField(max_length=32, blank=True, help_text='frame rate as "num/den"')
    duration = models.FloatField(null=True, blank=True, help_text="seconds")
    generated_by = models.ForeignKey(
        "Step",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="outputs",
        help_text="the step that made it; empty for an ingested master",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["created_at"], name="artifact_created")]

    def __str__(self) -> str:
        return f"artifact {self.pk} ({self.sha256[:12]})"

    @property
    def storage_key(self) -> str:
        from restoration.storage import object_key

        return object_key(self.sha256)


class Step(AppendOnlyModel):
    """One operation applied to input artifacts, producing output artifacts (PROV activity)."""

    class Kind(models.TextChoices):
        INGEST = "ingest", _("ingest")
        CLASSICAL = "classical", _("classical")
        AI = "ai", _("AI")
        MANUAL = "manual", _("manual")
        # Generated media (portrait animation): not a restoration, labelled so everywhere.
        SYNTHETIC = "synthetic", _("synthetic")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    operation = models.CharField(max_length=60)
    operation_version = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict, blank=True)
    weights = models.ForeignKey(
        ModelWeights, on_delete=models.PROTECT, null=True, blank=True, related_name="steps"
    )
    model_sha256 = models.CharField(max_length=64, blank=True)
    model_architecture = models.CharField(max_length=100, blank=True)
    software = models.JSONField(default=dict, blank=True)
    device = models.CharField(max_length=60, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=150, blank=True, help_text="username at the time")
    on_behalf_of = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    rationale = models.TextField(blank=True)
    citations = models.ManyToManyField(
        "archive.Citation", through="StepCitation", related_name="steps", blank=True
    )
    references = models.ManyToManyField(
        "archive.ReferenceImage", through="StepReference", related_name="steps", blank=True
    )
    run_record = models.JSONField(default=dict, blank=True, help_text="the engine's run record")
    change_summary = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(
        "Job", on_delete=models.PROTECT, null=True, blank=True, related_name="steps"
    )
    job_index = models.PositiveSmallIntegerField(null=True, blank=True)
    record_hash = models.CharField(max_length=64, unique=True)
    # The hashing rule the record was written under (restoration.hashing.RECORD_VERSIONS):
    # 1 for steps written before evidence snapshots, 2 since.
    record_version = models.PositiveSmallIntegerField(default=1)
    # Version 2: the citations (with sources) and reference images as they were when the step
    # used them, {"citations": [...], "references": [...]}; part of the hashed record.
    evidence = models.JSONField(default=dict, blank=True)
    # Version 3: the identity check of the input's faces (restoration.engine.identity), part of
    # the hashed record; {} when none was made.
    identity = models.JSONField(default=dict, blank=True)
    # The worst verdict among those faces (same, uncertain, different, unmeasured; "" for none):
    # derived from ``identity`` at write time so that lists can filter on it.
    identity_verdict = models.CharField(max_length=12, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "job_index"], name="one_step_per_job_position")
        ]
        indexes = [models.Index(fields=["created_at"], name="step_created")]

    def __str__(self) -> str:
        return f"step {self.pk} {self.operation}"

    def output(self, role: str = "image") -> Artifact | None:
        """The artifact this step produced in ``role`` (from memory after ``step_record``)."""
        for link in self.produced.all():
            if link.role == role:
                return link.artifact
        return None


class StepInput(AppendOnlyModel):
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="inputs")
    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="used_by")
    role = models.CharField(max_length=30, default="image")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["step_id", "role", "position"]
        constraints = [
            models.UniqueConstraint(fields=["step", "role", "position"], name="step_input_unique")
        ]


class StepOutput(AppendOnlyModel):
    """What a step produced. Usually also the artifact's ``generated_by``; a step whose output
    bytes already existed (a deterministic re-run) links the existing artifact here only."""

    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="produced")
    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="produced_by")
    role = models.CharField(max_length=30, default="image")

    class Meta:
        ordering = ["step_id", "role"]
        constraints = [models.UniqueConstraint(fields=["step", "role"], name="step_output_unique")]


class StepCitation(AppendOnlyModel):
    step = models.ForeignKey(Step, on_delete=models.PROTECT)
    citation = models.ForeignKey("archive.Citation", on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "citation"], name="step_citation_unique")
        ]


class StepReference(AppendOnlyModel):
    step = models.ForeignKey(Step, on_delete=models.PROTECT)
    reference = models.ForeignKey("archive.ReferenceImage", on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "reference"], name="step_reference_unique")
        ]


class Job(models.Model):
    """A requested pipeline on one input artifact. Status changes only via ``job_transition``
    (``restoration.jobstate``), which writes a ``JobEvent`` beside each change."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    input = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="jobs")
    pipeline = models.JSONField(help_text='ordered list of {"op": ..., "params": {...}}')
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0)
    current_step = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Who asked: the worker that stops a running job writes the transition, so the history's
    # "by" for that cancel comes from here.
    cancel_requested_by = models.CharField(max_length=150, blank=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="jobs",
    )
    on_behalf_of = models.CharField(max_length=300, blank=True)
    seed = models.BigIntegerField(default=0)
    output = models.ForeignKey(
        Artifact, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    claimed_by = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="last sign of life of the claiming worker (the lease)"
    )
    time_limit_s = models.PositiveIntegerField(
        default=0, help_text="hard limit of one run of the whole job, fixed at creation"
    )
    step_time_limits = models.JSONField(
        default=list, blank=True, help_text="limit in seconds of each step, fixed at creation"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="job_sort")]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"


class JobEvent(AppendOnlyModel):
    """One status change of a job (or its creation), written by ``job_transition`` in the
    transaction that made the change: the job's history, who/what moved it and why."""

    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    actor = models.CharField(
        max_length=150, blank=True, help_text="the user who asked, if a person did"
    )
    worker = models.CharField(max_length=200, blank=True, help_text="the worker's tag, if any")
    from_status = models.CharField(max_length=20, blank=True, help_text="empty at creation")
    to_status = models.CharField(max_length=20)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["job_id", "at", "id"]
        indexes = [models.Index(fields=["job", "id"], name="job_event_by_job")]

    def __str__(self) -> str:
        return f"job {self.job_id}: {self.from_status or '-'} -> {self.to_status}"


class AuditRun(models.Model):
    """One fixity audit (verify) run: when, what, result."""

    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    scope = models.CharField(max_length=20, help_text="artifact or all")
    artifact = models.ForeignKey(
        Artifact, on_delete=models.PROTECT, null=True, blank=True, related_name="audits"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ok = models.BooleanField()
    checked = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True)
    # sha256 of the run's canonical record (restoration.ledger.audit_run_hash), appended to the
    # transparency log; empty for runs recorded before the log existed.
    record_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]


# --- the transparency log (restoration.ledger; RFC 9162 hashing) ----------------------------


class LogLeaf(AppendOnlyModel):
    """One entry of the transparency log: a record hash (step, revision or audit run), in
    order. ``index`` is the leaf's position, 0-based and gap-free; leaves never change."""

    index = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=20, help_text="step, revision or audit")
    record_id = models.BigIntegerField()
    record_hash = models.CharField(max_length=64)
    leaf_hash = models.CharField(max_length=64, help_text="SHA-256(0x00 || leaf data), hex")
    appended_at = models.DateTimeField()

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "record_id"], name="log_leaf_one_per_record")
        ]

    def __str__(self) -> str:
        return f"leaf {self.index} ({self.kind} {self.record_id})"


class LogNode(AppendOnlyModel):
    """The hash of a complete subtree of 2**level leaves starting at leaf index * 2**level,
    stored once it is complete (it never changes after), so proofs read O(log n) rows."""

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="log_node_unique")]


class LogHead(models.Model):
    """The log's one row: its size and the frontier (the roots of the complete subtrees of the
    left edge, largest first). Appends lock it, which keeps the leaves gap-free and in order."""

    size = models.BigIntegerField(default=0)
    frontier = models.JSONField(default=list, blank=True)


class Checkpoint(AppendOnlyModel):
    """A signed statement of the log: ``tree_size`` leaves have root ``root`` (Ed25519 over
    ``restoration.ledger.checkpoint_body``)."""

    tree_size = models.BigIntegerField()
    root = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    origin = models.CharField(max_length=200)
    key_id = models.CharField(max_length=64, help_text="sha256 of the raw public key, hex")
    public_key = models.CharField(max_length=100, help_text="raw Ed25519 public key, base64")
    signature = models.CharField(max_length=200, help_text="Ed25519 signature, base64")
    reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-tree_size", "-id"]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} {self.root[:12]}"


class FilmChunk(models.Model):
    """One chunk of a chunked film step (``restoration.film_jobs``): frames ``[emit_start,
    emit_stop)`` of the step's input, read with the operation's window of context
    (``[read_start, read_stop)``). Any worker claims a pending chunk, or one whose claimant
    stopped heartbeating, with a conditional update; a killed worker costs only its chunk.
    ``attempts`` counts claims. Bookkeeping, not lineage: the step records the joined result."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        DONE = "done", _("done")

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="film_chunks")
    job_index = models.PositiveSmallIntegerField()
    number = models.PositiveIntegerField()
    read_start = models.PositiveIntegerField()
    read_stop = models.PositiveIntegerField()
    emit_start = models.PositiveIntegerField()
    emit_stop = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    frames_done = models.PositiveIntegerField(default=0)
    output_key = models.CharField(max_length=300, blank=True)
    frames_out = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True, help_text="analysis, record, hashes")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job_id", "job_index", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "job_index", "number"], name="one_film_chunk_per_position"
            )
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} step {self.job_index} chunk {self.number} ({self.status})"


class Face(AppendOnlyModel):
    """A face measured on an artifact (issue 22): where it is, how large and sharp, and its
    dlib ResNet embedding (128 float32, little-endian) when it could be measured. For a video,
    ``frame`` names the sampled frame. Faces are measurements, append-only like the artifacts
    they describe; which figure a face shows is a catalogue fact (archive.FaceIdentification)."""

    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="faces")
    frame = models.PositiveIntegerField(null=True, blank=True)
    number = models.PositiveSmallIntegerField(help_text="position among the image's faces")
    box = models.JSONField(help_text="[x0, y0, x1, y1] in the artifact's pixels")
    size = models.FloatField(help_text="box width in pixels")
    sharpness = models.FloatField()
    score = models.FloatField()
    embedding = models.BinaryField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True, help_text="why it is unmeasured")
    method = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["artifact_id", "frame", "number"]
        # A still's faces have no frame: two partial constraints, as SQLite has no
        # NULLS NOT DISTINCT.
        constraints = [
            models.UniqueConstraint(
                fields=["artifact", "number"],
                condition=models.Q(frame__isnull=True),
                name="one_face_per_position_still",
            ),
            models.UniqueConstraint(
                fields=["artifact", "frame", "number"],
                condition=models.Q(frame__isnull=False),
                name="one_face_per_position_frame",
            ),
        ]

    def __str__(self) -> str:
        return f"face {self.number} of artifact {self.artifact_id}"


class FaceIndexRun(models.Model):
    """That an artifact's faces were looked for (even when none were found), so indexing is
    idempotent: a redelivered message finds the run and does nothing."""

    artifact = models.OneToOneField(Artifact, on_delete=models.PROTECT, related_name="+")
    faces = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
