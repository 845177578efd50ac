"""python manage.py import_films PATH... --user NAME [--fps RATE] [--title T] [--carrier C]
[--original-fps RATE] [--date EDTF] [--report CSV]

Each PATH is a video file (MP4, MOV, MKV, AVI...), a folder of numbered PNG/TIFF frames, or a
zip of them (frames need ``--fps``, the rate they were scanned to be shown at), or a folder of
any of these (one film each). One line per film: ``ingested``, ``duplicate``, ``refused:
<reason>``; exits 1 if any was refused."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from archive.films import film_ingest, film_ingest_sequence
from archive.imports import ImportRefused, importing_user
from restoration.engine.video import VIDEO_EXTENSIONS
from restoration.imagefile import ImageRejected
from restoration.services import sequence_members, zip_sequence_frames


class Command(BaseCommand):
    help = (
        "Ingest films: video files, folders or zips of numbered PNG/TIFF frames (with --fps). "
        "Each is validated by decoding every frame, hashed, probed and catalogued as a Film."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--user", required=True, help="who ingests (recorded on each step)")
        parser.add_argument("--fps", help="frame rate of image sequences: 16, 18, 24000/1001")
        parser.add_argument("--title", default="", help="title (default: the file name)")
        parser.add_argument("--carrier", default="")
        parser.add_argument("--original-fps", default="", help="rate the film was shot at")
        parser.add_argument("--date", default="", help="EDTF date of the film")
        parser.add_argument("--repository", default="")
        parser.add_argument("--restricted", action="store_true")
        parser.add_argument("--report", type=Path, help="write one CSV line per film")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = importing_user(options["user"], permission="archive.add_film", what="films")
        except ImportRefused as exc:
            raise CommandError(str(exc)) from exc
        metadata = {
            key: value
            for key, value in {
                "carrier": options["carrier"],
                "original_fps": options["original_fps"],
                "date": options["date"],
                "repository": options["repository"],
            }.items()
            if value
        }
        if options["restricted"]:
            metadata["restricted"] = True
        outcomes: list[tuple[str, str, str]] = []
        for path in options["paths"]:
            for item in self._films(path):
                outcome = self._one(item, user, options, metadata)
                outcomes.append(outcome)
                self.stdout.write(f"{outcome[1]:9} {outcome[0]}: {outcome[2]}")
        if options["report"]:
            with options["report"].open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["path", "status", "detail"])
                writer.writerows(outcomes)
        refused = [o for o in outcomes if o[1] == "refused"]
        self.stdout.write(
            f"{len(outcomes)} film(s): {len(outcomes) - len(refused)} ingested or duplicate, "
            f"{len(refused)} refused"
        )
        if refused:
            raise SystemExit(1)

    @staticmethod
    def _films(path: Path) -> list[Path]:
        if not path.exists():
            return [path]
        if path.is_file():
            return [path]
        frames = sequence_members([p.name for p in path.iterdir() if p.is_file()])
        if frames:
            return [path]  # a folder of frames is one film
        return sorted(
            p
            for p in path.iterdir()
            if (p.is_file() and p.suffix.lower() in {*VIDEO_EXTENSIONS, ".zip"})
            or (p.is_dir() and sequence_members([q.name for q in p.iterdir() if q.is_file()]))
        )

    def _one(
        self, path: Path, user: Any, options: dict[str, Any], metadata: dict[str, Any]
    ) -> tuple[str, str, str]:
        title = options["title"] or path.stem
        common = {"title": title, "user": user, "metadata": dict(metadata)}
        try:
            if not path.exists():
                raise ImageRejected(f"{path} does not exist", code="missing")
            if path.is_dir() or path.suffix.lower() == ".zip":
                if not options["fps"]:
                    raise ImageRejected(
                        "image sequences need --fps (the rate they are shown at)", code="fps"
                    )
                if path.is_dir():
                    names = sequence_members([p.name for p in path.iterdir() if p.is_file()])
                    frames = [(n, (lambda p=path / n: p.open("rb"))) for n in names]
                    result = film_ingest_sequence(
                        frames=frames, fps=options["fps"], source_name=path.name, **common
                    )
                else:
                    with zipfile.ZipFile(path) as archive:
                        result = film_ingest_sequence(
                            frames=zip_sequence_frames(archive),
                            fps=options["fps"],
                            source_name=path.name,
                            **common,
                        )
            else:
                with path.open("rb") as fh:
                    result = film_ingest(stream=fh, filename=path.name, **common)
        except ImageRejected as exc:
            return str(path), "refused", str(exc)
        except (ValidationError, zipfile.BadZipFile) as exc:
            return str(path), "refused", str(exc)
        except OSError as exc:
            return str(path), "refused", f"cannot read: {exc}"
        if result.duplicate:
            return str(path), "duplicate", result.notes[0] if result.notes else "already there"
        master = result.artifact
        return (
            str(path),
            "ingested",
            f"film {result.film.pk if result.film else '?'}, artifact {master.pk}, "
            f"{master.frame_count} frames at {master.fps} fps",
        )
