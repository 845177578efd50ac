"""python manage.py import_photos DIR [--manifest CSV] [--recursive] [--report CSV]"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from archive.imports import ImportJournal, ManifestError, ManifestRow, read_manifest, scan_directory
from archive.services import photo_ingest
from restoration.imagefile import ImageRejected


class Command(BaseCommand):
    help = (
        "Ingest a directory of master scans. Resumable: files already ingested are skipped. "
        "Reports one line per file; exits 1 if any file was refused."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--manifest", type=Path, help="CSV with a 'filename' column and photo fields"
        )
        parser.add_argument("--recursive", action="store_true")
        parser.add_argument("--report", type=Path, help="write the per-file outcome as CSV")
        parser.add_argument("--user", help="username recorded as the one who ingested")

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["directory"]
        if not root.is_dir():
            raise CommandError(f"{root} is not a directory")
        try:
            manifest = read_manifest(options["manifest"]) if options["manifest"] else {}
        except (ManifestError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        user = self._user(options.get("user"))
        files = list(scan_directory(root, recursive=options["recursive"]))
        journal = ImportJournal(root)
        outcomes: list[tuple[str, str, str]] = []
        bar = tqdm(files, unit="file", file=sys.stderr, disable=None, desc="importing")
        for path in bar:
            rel = str(path.relative_to(root))
            outcome = self._import_one(
                path, rel, manifest.get(rel) or manifest.get(path.name), journal, user
            )
            outcomes.append((rel, *outcome))
            tqdm.write(f"{outcome[0]:9} {rel}: {outcome[1]}", file=self.stdout)
        self._summary(outcomes, options.get("report"))

    def _import_one(
        self, path: Path, rel: str, row: ManifestRow | None, journal: ImportJournal, user: Any
    ) -> tuple[str, str]:
        already = journal.artifact_for(path)
        if already is not None:
            return "skipped", f"already imported as artifact {already}"
        row = row or ManifestRow()
        try:
            with path.open("rb") as fh:
                result = photo_ingest(
                    stream=fh,
                    filename=path.name,
                    title=row.title or path.stem,
                    user=user,
                    figure_ids=row.figure_ids,
                    metadata=row.metadata,
                )
        except ImageRejected as exc:
            return "refused", str(exc)
        except ValidationError as exc:
            return "refused", "; ".join(exc.messages)
        except OSError as exc:
            return "refused", f"cannot read the file: {exc}"
        journal.mark(path, result.artifact.pk)
        if result.duplicate:
            return "duplicate", result.notes[0]
        photo_id = result.photo.pk if result.photo else None
        extra = f" ({'; '.join(result.notes)})" if result.notes else ""
        return "ingested", f"photo {photo_id}, artifact {result.artifact.pk}{extra}"

    def _summary(self, outcomes: list[tuple[str, str, str]], report: Path | None) -> None:
        counts: dict[str, int] = {}
        for _, status, _ in outcomes:
            counts[status] = counts.get(status, 0) + 1
        summary = (
            ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no image files"
        )
        self.stdout.write(f"done: {summary}")
        if report:
            with report.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["file", "status", "detail"])
                writer.writerows(outcomes)
        if counts.get("refused"):
            raise CommandError(f"{counts['refused']} file(s) refused; see the lines above")

    def _user(self, username: str | None) -> Any:
        if not username:
            return None
        from django.contrib.auth import get_user_model

        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"no user {username!r}") from exc
