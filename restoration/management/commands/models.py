"""python manage.py models scan [--dir DIR ...] | models list"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from restoration.models import ModelWeights
from restoration.registry import model_usability, models_scan


class Command(BaseCommand):
    help = "Register weights files found in MODELS_DIR (scan) or show the registry (list)."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        scan = sub.add_parser("scan", help="register every weights file in MODELS_DIR")
        scan.add_argument("--dir", action="append", type=Path, help="scan this directory instead")
        sub.add_parser("list", help="list registered models")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "scan":
            self._scan(options.get("dir"))
        else:
            self._list()

    def _scan(self, dirs: list[Path] | None) -> None:
        targets = dirs or [Path(settings.MODELS_DIR)]
        for directory in targets:
            if not directory.is_dir():
                raise CommandError(f"{directory} is not a directory")
        outcomes = models_scan(directories=targets)
        for outcome in outcomes:
            self.stdout.write(f"{outcome.status:12} {outcome.path}: {outcome.detail}")
        if not outcomes:
            self.stdout.write(f"no weights files (*.pth, *.pt, *.ckpt, *.safetensors) in {targets}")

    def _list(self) -> None:
        rows = list(ModelWeights.objects.order_by("name"))
        if not rows:
            self.stdout.write(
                "no models registered; put weights in MODELS_DIR and run `models scan`"
            )
        for w in rows:
            status = model_usability(w) or "usable"
            self.stdout.write(
                f"{w.id:4} {w.name:32} {w.architecture:14} {w.purpose:13} x{w.scale} "
                f"{w.license:15} {w.sha256[:16]}  {status}"
            )
