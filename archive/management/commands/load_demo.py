"""python manage.py load_demo: a small demo catalogue from ../shared/corpus (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from archive.demo import load_demo


class Command(BaseCommand):
    help = (
        "Load the demo catalogue from ../shared/corpus and register ../shared/models (idempotent)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--corpus", type=Path, default=settings.SHARED_DIR / "corpus")
        parser.add_argument("--models", type=Path, default=settings.SHARED_DIR / "models")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = load_demo(options["corpus"], options["models"])
        self.stdout.write(
            f"demo catalogue: {summary.photos} photos from {options['corpus']}, "
            f"{summary.figures} figures, {summary.models} registered models"
        )
        if summary.user_created:
            self.stdout.write(f"created a development superuser: {summary.user_created}")
