"""Shared fixtures. Every test gets its own object storage and data directory."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# The misbehaving operations of restoration/engine/testing_ops.py (a crash, an allocation, a long
# call) exist in the test run only; engine workers inherit the variable.
os.environ.setdefault("ARCHIVE_ENGINE_TEST_OPS", "1")
# Face indexing after every ingest is off in the test run (servers and workers the tests start
# inherit it): the tests of tests/faces turn it on where they test it.
os.environ.setdefault("ARCHIVE_FACE_INDEX", "0")

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
MODELS = SHARED / "models"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """On SQLite, test in a real file (WAL, busy timeout) rather than Django's shared-cache
    memory database: there, a page request and an in-process job worker touching the same table
    fail at once with "table is locked" instead of waiting, which no deployment ever does."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        folder = Path(tempfile.mkdtemp(prefix="archive-testdb-"))
        db.setdefault("TEST", {})["NAME"] = str(folder / "test.sqlite3")


@pytest.fixture(autouse=True)
def isolated_storage(request, tmp_path):
    """Point Django's storage and data dir at a fresh folder (no effect on non-Django tests)."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker(
        "django_db"
    ):
        yield None
        return
    settings = request.getfixturevalue("settings")
    data = tmp_path / "data"
    (data / "storage").mkdir(parents=True)
    settings.ARCHIVE_DATA_DIR = data
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests
    settings.ARCHIVE_FACE_INDEX = False  # see ARCHIVE_FACE_INDEX above
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "restoration.storage.AtomicFileSystemStorage",
            "OPTIONS": {"location": str(data / "storage")},
        },
    }
    # The shared cache (throttles, login attempts) is a file cache by default: each test gets
    # its own, so tests run side by side never share a throttle.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(data / "cache"),
        }
    }
    yield data / "storage"


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def image_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (64, 48), mode: str = "RGB", seed: int = 0, **save
) -> bytes:
    """A small real image with random content (distinct per seed, so no accidental duplicates)."""
    rng = np.random.default_rng(seed)
    if mode in {"I;16"}:
        arr = rng.integers(0, 65535, size=(size[1], size[0]), dtype=np.uint16)
        img = Image.fromarray(arr)
    else:
        arr = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
        img = Image.fromarray(arr)
        if mode != "RGB":
            img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return CORPUS


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="restorer", password="pw-restorer-1")
