"""python manage.py verify [--all | ARTIFACT]: a fixity audit of the lineage.

Exits non-zero when any problem is found, so it can run from cron or CI like a preservation
system's fixity check. Every run is recorded as an AuditRun."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from restoration.audit import archive_verify_all, artifact_verify, lineage_size
from restoration.models import Artifact
from restoration.selectors import lineage_ancestors


class Command(BaseCommand):
    help = "Re-hash stored files and recompute record hashes of one artifact's lineage or of all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("artifact", nargs="?", type=int, help="artifact id")
        parser.add_argument("--all", action="store_true", help="verify the whole archive")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        artifact_id, everything = options["artifact"], options["all"]
        if (artifact_id is None) == (not everything):
            raise CommandError("give either an ARTIFACT id or --all")
        graph = None
        if artifact_id is not None:
            try:  # fetched once: the progress bar's total and the verify both use it
                graph = lineage_ancestors(artifact_id=artifact_id)
            except Artifact.DoesNotExist:
                raise CommandError(f"no artifact with id {artifact_id}") from None
        total = lineage_size(graph=graph)
        bar = tqdm(total=total, unit="item", disable=options["no_progress"], file=self.stderr._out)
        try:
            if graph is None:
                result = archive_verify_all(progress=bar.update)
            else:
                result = artifact_verify(graph=graph, progress=bar.update)
        finally:
            bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            for problem in result["problems"]:
                self.stdout.write(f"{problem['kind']}: {problem['message']}")
            self.stdout.write(
                f"checked {result['checked']} files and records; "
                f"{len(result['problems'])} problem(s); audit run {result['audit_run']}"
            )
        if not result["ok"]:
            raise CommandError(f"{len(result['problems'])} problem(s) found", returncode=1)
