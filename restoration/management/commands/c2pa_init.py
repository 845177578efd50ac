"""python manage.py c2pa_init: a local signing CA and leaf for Content Credentials (development).

Production points C2PA_CERT_CHAIN / C2PA_PRIVATE_KEY at real material instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from restoration.exports.c2pa import signing_material_create


class Command(BaseCommand):
    help = "Create a development C2PA signing CA and leaf certificate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="replace existing material")
        parser.add_argument("--organization", default="Photo archive (development)")

    def handle(self, *args: Any, **options: Any) -> None:
        paths = {
            "cert_chain": Path(settings.C2PA_CERT_CHAIN),
            "private_key": Path(settings.C2PA_PRIVATE_KEY),
            "trust_anchors": Path(settings.C2PA_TRUST_ANCHORS),
        }
        try:
            signing_material_create(
                **paths, organization=options["organization"], force=options["force"]
            )
        except FileExistsError as exc:
            raise CommandError(f"{exc}; use --force to replace it") from exc
        for what, path in paths.items():
            self.stdout.write(f"{what}: {path}")
        self.stdout.write(self.style.SUCCESS("C2PA development signing material created"))
