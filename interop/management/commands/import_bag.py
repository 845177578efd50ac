"""manage.py import_bag BAG: import a bag made by export_bag (a directory or a .zip).

Checks every file hash, every record hash, the links between them and the transparency-log
proofs before writing anything; a bag that fails any check is refused with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from interop.bags import BagRefused, bag_import


class Command(BaseCommand):
    help = "Import a BagIt bag of a photo's lineage, verifying it completely first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("bag", help="the bag directory or its .zip")

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["bag"])
        if not source.exists():
            raise CommandError(f"{source} does not exist")
        try:
            record = bag_import(source=source)
        except BagRefused as exc:
            raise CommandError(f"refused: {exc}") from exc
        self.stdout.write(
            f"imported photo {record.photo_id} with {len(record.steps_created)} steps and "
            f"{len(record.artifacts_created)} artifacts (bag import {record.pk}, from "
            f"{record.source_organization or 'an unnamed archive'})"
        )
