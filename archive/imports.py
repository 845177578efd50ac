"""Importing a whole box of scans: manifest reading and the resume journal.

The journal (under ARCHIVE_DATA_DIR/imports/) remembers which files of a directory were
already ingested, keyed by relative path, size and mtime, so that a re-run after an
interruption skips them without re-hashing. Duplicates are still caught by sha256 if the
journal is lost.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from archive.models import Figure
from archive.services import PHOTO_FIELDS

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}
MANIFEST_COLUMNS = {"filename", "title", "figures", *PHOTO_FIELDS}


class ManifestError(ValueError):
    pass


@dataclass
class ManifestRow:
    title: str = ""
    figure_ids: list[int] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def read_manifest(path: Path) -> dict[str, ManifestRow]:
    """Read a CSV manifest (UTF-8, header row; ``filename`` required, other columns optional:
    title, figures (ids or names separated by ';'), and the photo fields)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = set(reader.fieldnames or [])
        if "filename" not in columns:
            raise ManifestError(f"{path}: the manifest needs a 'filename' column")
        unknown = sorted(columns - MANIFEST_COLUMNS)
        if unknown:
            raise ManifestError(
                f"{path}: unknown column(s) {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(MANIFEST_COLUMNS))}"
            )
        rows: dict[str, ManifestRow] = {}
        for line_no, raw in enumerate(reader, start=2):
            name = (raw.pop("filename") or "").strip()
            if not name:
                raise ManifestError(f"{path}:{line_no}: empty filename")
            rows[name] = ManifestRow(
                title=(raw.pop("title", "") or "").strip(),
                figure_ids=_figure_ids(raw.pop("figures", "") or "", f"{path}:{line_no}"),
                metadata=_metadata(raw),
            )
    return rows


def _metadata(raw: dict[str, str | None]) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for key, value in raw.items():
        value = (value or "").strip()
        if not value:
            continue
        metadata[key] = value.lower() in {"1", "true", "yes"} if key == "restricted" else value
    return metadata


def _figure_ids(cell: str, where: str) -> list[int]:
    ids: list[int] = []
    for token in (t.strip() for t in cell.split(";")):
        if not token:
            continue
        if token.isdigit():
            ids.append(int(token))
            continue
        match = (
            Figure.objects.filter(name=token).first()
            or Figure.objects.filter(names__name=token).first()
        )
        if match is None:
            raise ManifestError(f"{where}: no figure named {token!r}")
        ids.append(match.pk)
    return ids


def scan_directory(root: Path, *, recursive: bool) -> Iterator[Path]:
    pattern = "**/*" if recursive else "*"
    for path in sorted(root.glob(pattern)):
        if (
            path.is_file()
            and not path.name.startswith(".")
            and path.suffix.lower() in IMAGE_SUFFIXES
        ):
            yield path


class ImportJournal:
    """Which files of one directory are done; written after every file (crash-safe)."""

    def __init__(self, root: Path) -> None:
        digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        folder = Path(settings.ARCHIVE_DATA_DIR) / "imports"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{digest}.json"
        self.root = root
        self.done: dict[str, int] = {}
        if self.path.exists():
            try:
                self.done = json.loads(self.path.read_text())["done"]
            except (ValueError, KeyError):
                self.done = {}

    def key(self, path: Path) -> str:
        stat = path.stat()
        return f"{path.relative_to(self.root)}|{stat.st_size}|{stat.st_mtime_ns}"

    def artifact_for(self, path: Path) -> int | None:
        return self.done.get(self.key(path))

    def mark(self, path: Path, artifact_id: int) -> None:
        self.done[self.key(path)] = artifact_id
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"root": str(self.root.resolve()), "done": self.done}))
        os.replace(tmp, self.path)
