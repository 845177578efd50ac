"""Importing a whole box of scans: manifest reading and the resume journal.

A manifest is read row by row: a bad row (a figure nobody is called, a name several figures
share, a bad EDTF date or carrier, a file listed twice) keeps its line number and reason and
is skipped by ``import_photos``, which imports the other rows and reports it. Figures are
named by id or by any of their names, matched through ``archive.folding``.

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

from archive import folding
from archive.models import Figure
from archive.services import PHOTO_FIELDS

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}
MANIFEST_COLUMNS = {"filename", "title", "figures", *PHOTO_FIELDS}


class ManifestError(ValueError):
    """The manifest as a whole cannot be used (unreadable, no ``filename`` column, unknown
    columns): nothing is imported. A bad *row* is a ``ManifestRow.error`` instead."""


@dataclass
class ManifestRow:
    line: int = 0  # line number in the CSV file (the header is line 1); 0: no manifest row
    filename: str = ""
    title: str = ""
    figure_ids: list[int] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # why the row cannot be imported; the file is skipped and reported


@dataclass
class Manifest:
    rows: dict[str, ManifestRow] = field(default_factory=dict)  # by filename as written
    problems: list[ManifestRow] = field(default_factory=list)  # bad rows without a usable name

    def row_for(self, rel: str, name: str) -> ManifestRow | None:
        return self.rows.get(rel) or self.rows.get(name)


def read_manifest(path: Path, *, figures: FigureMatcher | None = None) -> Manifest:
    """Read a CSV manifest (UTF-8, header row; ``filename`` required, other columns optional:
    title, figures (ids or names separated by ';'), and the photo fields).

    Each row is checked on its own (figures named, date, carrier); a bad row carries its line
    number and reason in ``error`` and the rest of the manifest is still imported."""
    figures = figures or FigureMatcher()
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return _read_rows(csv.DictReader(fh), path, figures)
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise ManifestError(f"{path}: not a readable CSV file: {exc}") from exc


def _read_rows(reader: csv.DictReader[str], path: Path, figures: FigureMatcher) -> Manifest:
    columns = set(reader.fieldnames or [])
    if "filename" not in columns:
        raise ManifestError(f"{path}: the manifest needs a 'filename' column")
    unknown = sorted(columns - MANIFEST_COLUMNS)
    if unknown:
        raise ManifestError(
            f"{path}: unknown column(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(MANIFEST_COLUMNS))}"
        )
    manifest = Manifest()
    for raw in reader:
        line_no = reader.line_num
        name = (raw.pop("filename", "") or "").strip()
        row = ManifestRow(line=line_no, filename=name, title=(raw.pop("title", "") or "").strip())
        if None in raw:  # more cells than columns
            row.error = f"{len(raw[None])} more cell(s) than there are columns"
            raw.pop(None)
        errors = [row.error] if row.error else []
        row.figure_ids, figure_errors = figures.resolve(raw.pop("figures", "") or "")
        errors += figure_errors
        row.metadata = _metadata(raw)
        errors += _check_metadata(row.metadata)
        row.error = "; ".join(errors)
        if not name:
            row.error = "empty filename" + (f"; {row.error}" if row.error else "")
            manifest.problems.append(row)
        elif name in manifest.rows:
            first = manifest.rows[name].line
            row.error = f"{name!r} is listed twice (first on line {first})"
            manifest.problems.append(row)
        else:
            manifest.rows[name] = row
    return manifest


def _metadata(raw: dict[str, str | None]) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for key, value in raw.items():
        value = (value or "").strip()
        if not value:
            continue
        metadata[key] = value.lower() in {"1", "true", "yes"} if key == "restricted" else value
    return metadata


def _check_metadata(metadata: dict[str, Any]) -> list[str]:
    from django.core.exceptions import ValidationError

    from archive.dates import edtf_bounds
    from archive.models import Photo

    errors = []
    if metadata.get("date"):
        try:
            edtf_bounds(str(metadata["date"]))
        except ValidationError as exc:
            errors.append(f"date: {exc.messages[0]}")
    carrier = metadata.get("carrier")
    if carrier and carrier not in Photo.Carrier.values:
        errors.append(f"carrier {carrier!r} is not one of {', '.join(Photo.Carrier.values)}")
    return errors


class FigureMatcher:
    """Figures named in a manifest: by id, or by any of their names through the archive's
    folding (``archive.folding``: 李大釗, Li Dazhao, li ta-chao and LI DAZHAO are one person).

    A name matches a figure when its fold equals the fold, or one of the readings, of the
    figure's display name, sort name or one of its name variants; a name shared by several
    figures is ambiguous and reported, never guessed. Answers are cached per run."""

    def __init__(self) -> None:
        self._cache: dict[str, list[int]] = {}

    def resolve(self, cell: str) -> tuple[list[int], list[str]]:
        ids: list[int] = []
        errors: list[str] = []
        for token in (t.strip() for t in cell.split(";")):
            if not token:
                continue
            if token.isdigit():
                if not Figure.objects.filter(pk=int(token)).exists():
                    errors.append(f"no figure with id {token}")
                    continue
                ids.append(int(token))
                continue
            matches = self.matches(token)
            if not matches:
                errors.append(f"no figure named {token!r}")
            elif len(matches) > 1:
                errors.append(
                    f"{token!r} names {len(matches)} figures (ids {', '.join(map(str, matches))}):"
                    " give the id"
                )
            elif matches[0] not in ids:
                ids.append(matches[0])
        return ids, errors

    def matches(self, name: str) -> list[int]:
        folded = folding.fold(name)
        if not folded:
            return []
        if folded not in self._cache:
            found = []
            # The search key narrows the candidates (a trigram index on PostgreSQL); the exact
            # comparison of folded names decides.
            candidates = Figure.objects.filter(search_key__contains=folded).prefetch_related(
                "names"
            )
            for figure in candidates[:1000]:
                names = [figure.name, figure.sort_name, *(n.name for n in figure.names.all())]
                if folded in folding.all_readings_of(names):
                    found.append(figure.pk)
            self._cache[folded] = sorted(found)
        return self._cache[folded]


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


class ImportRefused(Exception):
    """The importing user cannot import: unknown, inactive, or without the permission."""


def importing_user(username: str | None, *, permission: str, what: str) -> Any:
    """The user a bulk import records on every ingest step (import_photos, import_films): one
    rule for both, so neither imports as an inactive user or one who may not add ``what``."""
    from django.contrib.auth import get_user_model

    if not username:
        raise ImportRefused("give --user USERNAME: every ingest step records who imported the file")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ImportRefused(f"no user {username!r}")
    if not user.is_active:
        raise ImportRefused(f"user {username!r} is not active")
    if not user.has_perm(permission):
        raise ImportRefused(f"user {username!r} may not add {what} ({permission})")
    return user
