"""Content-addressed object storage through Django's storage API.

Objects live at ``objects/ab/cd/<sha256>``. The local backend writes atomically (temp file in
the same directory, fsync, rename, fsync of the directory) so a crash never leaves a partly
written object under its final name. Other backends (S3-compatible) upload atomically already.

A full disk (or quota) is ``StorageFull``, raised after the partial temp file is removed; the
API answers 507, the pages show a 507 page, and a job fails with the message (``is_disk_full``
is the one test of "the disk is full", whichever layer noticed it). Previews are the exception:
regenerable, so their writes keep failing with the plain ``OSError`` that their callers already
take as "no preview this time".
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage

CHUNK = 1024 * 1024


PREVIEWS_PREFIX = "previews/"


def object_key(sha256: str) -> str:
    return f"objects/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def preview_key(sha256: str) -> str:
    return f"{PREVIEWS_PREFIX}{sha256[:2]}/{sha256}.jpg"


# "No space left on device" and "disk quota exceeded".
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13  # sqlite3's SQLITE_FULL: "database or disk is full"
_PG_DISK_FULL = "53100"  # PostgreSQL's SQLSTATE disk_full


class StorageFull(Exception):
    """The object store has no room left for a file; nothing of it was kept.

    Not an ``OSError`` on purpose: the job runner retries ``OSError`` as a transient hiccup,
    while a full disk needs an operator, so a job that meets it fails with this message."""

    def __init__(self, name: str, cause: OSError | None = None) -> None:
        reason = cause.strerror if cause is not None and cause.strerror else "no space left"
        super().__init__(
            f"storage is full: cannot store {name} ({reason}); free some space or raise the "
            "quota, then try again"
        )
        self.name = name


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception that caused it, says the disk or quota is full.

    Covers ``StorageFull``, any ``OSError`` ENOSPC/EDQUOT (an upload's temporary file, the
    spooled copy of an ingest) and the database's own "disk full" (SQLite's SQLITE_FULL,
    PostgreSQL's SQLSTATE 53100), which Django wraps in ``OperationalError``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageFull):
            return True
        if isinstance(current, OSError) and current.errno in FULL_ERRNOS:
            return True
        if getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if getattr(current, "sqlstate", None) == _PG_DISK_FULL:
            return True
        current = current.__cause__ or current.__context__
    return False


class AtomicFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose writes are atomic and never rename on collision.

    Keys are content addresses, so an existing object under the same key already holds the
    same bytes: saving it again is a no-op instead of Django's ``name_XXXX`` renaming.
    """

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name

    def _save(self, name: str, content: Any) -> str:
        try:
            return self._save_atomically(name, content)
        except OSError as exc:
            # The temp file is already gone (see below). A preview is regenerable: its callers
            # treat any OSError as "no preview", so it stays one.
            if exc.errno in FULL_ERRNOS and not name.startswith(PREVIEWS_PREFIX):
                raise StorageFull(name, exc) from exc
            raise

    def _save_atomically(self, name: str, content: Any) -> str:
        full_path = Path(self.path(name))
        if full_path.exists():
            return name
        full_path.parent.mkdir(parents=True, exist_ok=True)
        if self._link_into_place(content, full_path):
            return name
        fd, tmp_name = _temp_file(full_path.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                _copy(content, tmp)
                if not name.startswith(PREVIEWS_PREFIX):
                    os.fsync(tmp.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(tmp_name, self.file_permissions_mode)
            else:
                os.chmod(tmp_name, 0o444)
            os.replace(tmp_name, full_path)
            if not name.startswith(PREVIEWS_PREFIX):  # previews are regenerable, not records
                _fsync_dir(full_path.parent)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return name

    def _link_into_place(self, content: Any, full_path: Path) -> bool:
        """Hard-link a named temporary file into place (no second copy of a large scan).

        Falls back to copying when the source is not a local file or lives on another device."""
        source = getattr(getattr(content, "file", content), "name", None)
        if not isinstance(source, str) or not os.path.isfile(source):
            return False
        handle = getattr(content, "file", content)
        handle.flush()
        os.fsync(handle.fileno())
        tmp_name = full_path.parent / f".tmp-{os.getpid()}-{id(content)}.part"
        try:
            os.link(source, tmp_name)
        except OSError:
            return False
        try:
            os.chmod(tmp_name, self.file_permissions_mode or 0o444)
            os.replace(tmp_name, full_path)
            _fsync_dir(full_path.parent)
        except BaseException:
            tmp_name.unlink(missing_ok=True)
            raise
        return True


def _temp_file(directory: Path) -> tuple[int, str]:
    """A new temporary file beside the final name, so the rename into place is atomic."""
    return tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")


def _copy(content: Any, out: IO[bytes]) -> None:
    """Copy ``content`` (a Django ``File`` or a plain stream) into ``out`` and flush, so that a
    full disk is reported here rather than when the file is closed."""
    if hasattr(content, "seek"):
        content.seek(0)
    chunks = (
        content.chunks(CHUNK)
        if hasattr(content, "chunks")
        else iter(lambda: content.read(CHUNK), b"")
    )
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class StoredObject:
    key: str
    created: bool


def store_object(sha256: str, content: IO[bytes]) -> StoredObject:
    """Store bytes whose sha256 the caller computed; returns whether this call created it."""
    key = object_key(sha256)
    if default_storage.exists(key):
        return StoredObject(key, created=False)
    content.seek(0)
    saved = default_storage.save(key, File(content))
    if saved != key:  # a backend that renamed on collision would break content addressing
        raise RuntimeError(f"storage renamed {key} to {saved}")
    return StoredObject(key, created=True)


def delete_object(key: str) -> None:
    """Remove a stored object (only used to undo a write whose transaction rolled back).

    The local backend stores objects read-only, so the delete goes through the storage API.
    """
    if default_storage.exists(key):
        default_storage.delete(key)


def open_object(sha256: str) -> IO[bytes]:
    return default_storage.open(object_key(sha256), "rb")


def sha256_of_stream(stream: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def open_stream(key: str) -> IO[bytes]:
    """A stored object's bytes as a forward-only stream. S3 storage (``interop.storage``)
    streams the object body straight from the server; ``default_storage.open`` would first
    download the whole object to a temporary file (fine for decoding, which needs to seek)."""
    opener = getattr(default_storage, "open_stream", None)
    return opener(key) if opener is not None else default_storage.open(key, "rb")


def sha256_of_object(sha256: str) -> str | None:
    """Re-hash a stored object, streaming it; None when it is missing."""
    key = object_key(sha256)
    if not default_storage.exists(key):
        return None
    with open_stream(key) as fh:
        return sha256_of_stream(fh)[0]
