"""python manage.py faces_index: index by face the artifacts that are not yet (issue 22).

New artifacts are indexed in the background after ingest; this command is the backfill for an
archive that existed before, for artifacts whose message was lost (a broker down), and, with
``--retry-failed``, for those whose measurement failed (a worker over its budget)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from restoration.faces import faces_index_artifact
from restoration.models import Artifact, FaceIndexRun


class Command(BaseCommand):
    help = "Index by face every image and video artifact not indexed yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--retry-failed", action="store_true", help="measure again where it failed before"
        )
        parser.add_argument("--limit", type=int, default=0, help="at most this many (0: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.ARCHIVE_FACE_INDEX:
            raise CommandError("face indexing is turned off here (ARCHIVE_FACE_INDEX=0)")
        if options["retry_failed"]:
            failed = FaceIndexRun.objects.exclude(error="")
            self.stdout.write(f"retrying {failed.count()} failed artifact(s)")
            failed.delete()
        indexed = FaceIndexRun.objects.values("artifact_id")
        todo = (
            Artifact.objects.filter(
                Q(media_type__startswith="image/") | Q(media_type__startswith="video/")
            )
            .exclude(pk__in=indexed)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        ids = list(todo[: options["limit"]] if options["limit"] else todo)
        faces = failures = 0
        for n, pk in enumerate(ids, 1):
            run = faces_index_artifact(artifact_id=pk)
            if run is None:
                continue
            faces += run.faces
            if run.error:
                failures += 1
                self.stderr.write(f"artifact {pk}: {run.error}")
            if n % 50 == 0 or n == len(ids):
                self.stdout.write(f"{n}/{len(ids)} artifacts, {faces} faces")
        self.stdout.write(f"indexed {len(ids)} artifact(s): {faces} face(s), {failures} failure(s)")
        if failures:
            raise CommandError(f"{failures} artifact(s) could not be measured: see above")
