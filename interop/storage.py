"""S3-compatible object storage for the content-addressed store (``ARCHIVE_STORAGE=s3``).

Same keys as the local backend (``objects/ab/cd/<sha256>``, ``previews/...``). Objects under
``objects/`` are records: written once (an existing key is never written again: its bytes are
the same by construction) and, when ``ARCHIVE_S3_OBJECT_LOCK_DAYS`` is set and the bucket has
S3 Object Lock, stored with a retention period that the server enforces (no delete or
overwrite of that version until it expires, not even by the archive). Previews and IIIF tiles
are regenerable and stay unlocked. Reads for hashing stream the object body
(``open_stream``) instead of django-storages' download-to-a-temporary-file.
"""

from __future__ import annotations

import datetime as dt
from typing import IO, Any

from django.conf import settings
from storages.backends.s3 import S3Storage

OBJECTS_PREFIX = "objects/"


class ContentAddressedS3Storage(S3Storage):
    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # content addresses never collide with different bytes

    def _save(self, name: str, content: Any) -> str:
        if name.startswith(OBJECTS_PREFIX) and self.exists(name):
            return name  # written once: the existing object already holds these bytes
        return super()._save(name, content)

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        params = dict(super().get_object_parameters(name))
        days = int(settings.ARCHIVE_S3_OBJECT_LOCK_DAYS or 0)
        # Called with the bucket key, which starts with the configured location (prefix).
        location = self.location.strip("/")
        relative = name.removeprefix(f"{location}/") if location else name
        if days > 0 and relative.startswith(OBJECTS_PREFIX):
            params["ObjectLockMode"] = getattr(
                settings, "ARCHIVE_S3_OBJECT_LOCK_MODE", "GOVERNANCE"
            )
            params["ObjectLockRetainUntilDate"] = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
        return params

    def open_stream(self, name: str) -> IO[bytes]:
        """The object's bytes as a stream read straight from the server (bounded memory)."""
        key = self._normalize_name(name)
        return self.bucket.Object(key).get()["Body"]

    def retention(self, name: str) -> dict[str, Any]:
        """The object's lock as the server reports it (empty when unlocked)."""
        head = self.connection.meta.client.head_object(
            Bucket=self.bucket_name, Key=self._normalize_name(name)
        )
        return {k: v for k, v in head.items() if k.startswith("ObjectLock")}
