"""python manage.py import_photos DIR --user NAME [--manifest CSV] [--recursive] [--report CSV]"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from archive.imports import (
    ImportJournal,
    ImportRefused,
    Manifest,
    ManifestError,
    ManifestRow,
    importing_user,
    read_manifest,
    scan_directory,
)
from archive.services import photo_ingest
from restoration.imagefile import ImageRejected

#: Outcomes that make the run fail (exit status 1); the others are fine.
FAILED = {"refused", "bad row", "missing"}


@dataclass
class Outcome:
    file: str
    status: str  # ingested, duplicate, skipped, refused, bad row, missing
    detail: str
    line: int = 0  # manifest line, when a row was involved


class Command(BaseCommand):
    help = (
        "Ingest a directory of master scans, recorded as ingested by --user. Resumable: files "
        "already ingested are skipped. A bad manifest row (unknown figure, missing file, bad "
        "date) is reported with its line number and skipped; the other rows are imported. Ends "
        "with a summary; exits 1 if any file or row failed."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--manifest", type=Path, help="CSV with a 'filename' column and photo fields"
        )
        parser.add_argument("--recursive", action="store_true")
        parser.add_argument("--report", type=Path, help="write the per-file outcome as CSV")
        parser.add_argument("--user", help="username recorded as the one who ingested (required)")

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["directory"]
        user = self._user(options.get("user"))
        if not root.is_dir():
            raise CommandError(f"{root} is not a directory")
        try:
            manifest = read_manifest(options["manifest"]) if options["manifest"] else Manifest()
        except (ManifestError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        files = list(scan_directory(root, recursive=options["recursive"]))
        journal = ImportJournal(root)
        outcomes: list[Outcome] = []
        for bad in manifest.problems:  # rows that name no usable file
            outcomes.append(self._report(Outcome(bad.filename, "bad row", bad.error, bad.line)))
        used: set[str] = set()
        bar = tqdm(files, unit="file", file=sys.stderr, disable=None, desc="importing")
        for path in bar:
            rel = str(path.relative_to(root))
            row = manifest.row_for(rel, path.name)
            if row is not None:
                used.add(row.filename)
            outcomes.append(self._report(self._import_one(path, rel, row, journal, user)))
        for name, row in manifest.rows.items():
            if name not in used:
                outcomes.append(
                    self._report(
                        Outcome(name, "missing", f"no such image file in {root}", row.line)
                    )
                )
        self._summary(outcomes, options.get("report"))

    def _report(self, outcome: Outcome) -> Outcome:
        where = f"line {outcome.line}: " if outcome.line and outcome.status in FAILED else ""
        tqdm.write(f"{outcome.status:9} {outcome.file}: {where}{outcome.detail}", file=self.stdout)
        return outcome

    def _import_one(
        self, path: Path, rel: str, row: ManifestRow | None, journal: ImportJournal, user: Any
    ) -> Outcome:
        line = row.line if row else 0
        if row is not None and row.error:
            return Outcome(rel, "bad row", row.error, line)
        already = journal.artifact_for(path)
        if already is not None:
            return Outcome(rel, "skipped", f"already imported as artifact {already}", line)
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
            return Outcome(rel, "refused", str(exc), line)
        except ValidationError as exc:
            return Outcome(rel, "refused", "; ".join(exc.messages), line)
        except OSError as exc:
            return Outcome(rel, "refused", f"cannot read the file: {exc}", line)
        journal.mark(path, result.artifact.pk)
        if result.duplicate:
            return Outcome(rel, "duplicate", result.notes[0], line)
        photo_id = result.photo.pk if result.photo else None
        extra = f" ({'; '.join(result.notes)})" if result.notes else ""
        return Outcome(
            rel, "ingested", f"photo {photo_id}, artifact {result.artifact.pk}{extra}", line
        )

    def _summary(self, outcomes: list[Outcome], report: Path | None) -> None:
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        summary = (
            ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no image files"
        )
        self.stdout.write(f"done: {summary}")
        failed = [o for o in outcomes if o.status in FAILED]
        for outcome in sorted(failed, key=lambda o: (o.line or 10**9, o.file)):
            where = f"line {outcome.line}" if outcome.line else "no manifest row"
            self.stdout.write(
                f"  failed: {where}: {outcome.file}: {outcome.status}: {outcome.detail}"
            )
        if report:
            with report.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["file", "status", "detail", "line"])
                writer.writerows((o.file, o.status, o.detail, o.line or "") for o in outcomes)
        if failed:
            raise CommandError(
                f"{len(failed)} file(s) or row(s) failed ({', '.join(sorted({o.status for o in failed}))}); "
                "see the lines above"
            )

    def _user(self, username: str | None) -> Any:
        try:
            return importing_user(username, permission="archive.add_photo", what="photos")
        except ImportRefused as exc:
            raise CommandError(str(exc)) from exc
