"""Lineage in the admin is read-only: steps and artifacts are append-only records."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from restoration.models import Artifact, AuditRun, Job, JobEvent, ModelWeights, Step


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Artifact)
class ArtifactAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "sha256",
        "media_type",
        "width",
        "height",
        "role",
        "generated_by",
        "created_at",
    )
    list_filter = ("media_type", "role")
    search_fields = ("sha256",)


@admin.register(Step)
class StepAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "operation",
        "operation_version",
        "actor",
        "started_at",
        "record_hash",
    )
    list_filter = ("kind", "operation")
    search_fields = ("record_hash", "operation", "actor", "rationale")


@admin.register(ModelWeights)
class ModelWeightsAdmin(admin.ModelAdmin):
    list_display = ("name", "architecture", "purpose", "scale", "license", "sha256", "available")
    list_filter = ("purpose", "license", "available")
    readonly_fields = ("sha256", "architecture", "purpose", "scale", "path", "size", "details")


class JobEventInline(admin.TabularInline):
    """The job's history, read-only like the rows themselves (append-only)."""

    model = JobEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "from_status", "to_status", "actor", "worker", "reason")
    ordering = ("at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "progress", "requester", "created_at", "error")
    list_filter = ("status",)
    inlines = (JobEventInline,)


@admin.register(AuditRun)
class AuditRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "scope", "artifact", "ok", "checked", "started_at", "user")
    list_filter = ("ok", "scope")
