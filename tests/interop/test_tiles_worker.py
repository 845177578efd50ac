"""The tiles are made by a background worker after ingest and after a restoration, never in
the request: in-process dramatiq worker threads on the in-memory broker, as ``serve`` runs
them; the management command fills in artifacts that predate the tiles."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from tests.interop.conftest import derive, ingest


def wait_ready(artifact_id: int, timeout: float = 90.0):
    from interop.models import TileSet

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tileset = TileSet.objects.filter(artifact_id=artifact_id).first()
        if tileset is not None and tileset.status != "pending":
            return tileset
        time.sleep(0.1)
    raise AssertionError(f"no tiles for artifact {artifact_id} after {timeout} s")


@pytest.mark.django_db(transaction=True)
def test_worker_tiles_after_ingest_and_after_restoration(small_tiles, django_user_model):
    import dramatiq
    from django.conf import settings

    if not settings.BROKER_IS_MEMORY:
        pytest.skip("runs the in-memory broker's worker threads (the SQLite pass)")
    import interop.actors  # noqa: F401  (declares the actor, as autodiscovery does)

    user = django_user_model.objects.create_user(username="w", password="pw-w-1")
    # Worker threads as `serve` runs them (without its warm engine processes: no job here).
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        photo = ingest(user, size=(640, 480), seed=61)
        assert wait_ready(photo.master_id).status == "ready"
        restored = derive(photo.master, user, operation="clahe")
        tileset = wait_ready(restored.pk)
        assert tileset.status == "ready" and tileset.files > 5
    finally:
        worker.stop(timeout=10_000)


@pytest.mark.django_db
def test_command_makes_missing_tiles(small_tiles, django_user_model, monkeypatch):
    from interop.models import TileSet

    monkeypatch.setattr("interop.tiles._send", lambda artifact_id: None)  # a lost message
    user = django_user_model.objects.create_user(username="c", password="pw-c-1")
    photo = ingest(user, size=(640, 480), seed=62)
    small = ingest(user, size=(100, 80), seed=63)
    assert not TileSet.objects.filter(status="ready").exists()
    call_command("iiif_tiles", "--missing", "--now", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert TileSet.objects.get(artifact_id=photo.master_id).status == "ready"
    assert not TileSet.objects.filter(artifact_id=small.master_id).exists()


@pytest.mark.django_db
def test_tiling_over_its_memory_budget_fails_with_the_reason_and_the_worker_lives_on(
    small_tiles, django_user_model, monkeypatch, settings
):
    """The tiling runs in a child process under RLIMIT_AS (interop.tiler), not in the worker's
    own: over the budget the tile set fails naming it, and the same process tiles on."""
    import os

    from interop import tiler
    from interop.models import TileSet
    from interop.tiles import tiles_make

    monkeypatch.setattr("interop.tiles._send", lambda artifact_id: None)
    user = django_user_model.objects.create_user(username="m", password="pw-m-1")
    photo = ingest(user, size=(1200, 900), seed=64)
    settings.ARCHIVE_TILES_MEMORY_MB = 4  # far below what libvips needs for its strips
    tileset = tiles_make(photo.master_id)
    assert tileset.status == "failed", tileset
    assert "more than its 4 MiB memory budget" in tileset.error, tileset.error
    # The worker's own process is untouched: it was never the one tiling (a render here
    # would raise), and with the ordinary budget the same tile set is made on request.
    monkeypatch.setattr(tiler, "render_tiles", lambda *a, **k: os.abort())
    settings.ARCHIVE_TILES_MEMORY_MB = 0  # 0: the engine workers' budget
    tileset = tiles_make(photo.master_id)
    assert tileset.status == "ready" and tileset.files > 5 and tileset.error == ""
    assert TileSet.objects.get(pk=tileset.pk).info["width"] == 1200
