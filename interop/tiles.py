"""IIIF Image API 3, level 0: static tiles made once per image artifact, in the background.

``tiles_request`` (called after an ingest or a restoration commits, and again by the
info.json view when a tile set is missing or stuck) records a pending ``TileSet`` row and sends
the ``iiif_tiles`` actor its artifact id: rows first, so a lost message is sent again the next
time anyone asks for the tiles. ``tiles_make`` is idempotent: it copies the master out of the
storage, runs libvips' ``dzsave(layout="iiif3")`` into a temporary directory, writes a
full-size access JPEG beside the tiles (dzsave only writes a small ``full/`` image, and a
client that asks for ``full/max`` gets that JPEG), stores every file under
``previews/iiif/<sha256>/`` through Django's storage API (local files or S3 alike), and only
then marks the tile set ready. A killed worker leaves a pending row and some files under the
prefix that the next run overwrites with the same bytes. libvips streams the image in strips,
so memory stays bounded (about the size of a few tile rows) whatever the image's size; it runs
in a child process (``interop.tiler``) under the same OS-enforced memory budget as the engine's
operations (``RLIMIT_AS``: ``ARCHIVE_TILES_MEMORY_MB``, default ``ARCHIVE_WORKER_MEMORY_MB``)
and a classical step's time limit, so a image that needs more fails its tile set with the
reason and the worker process that asked stays up.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from interop import tiler
from interop.models import TileSet
from restoration import dispatch
from restoration.models import Artifact
from restoration.storage import PREVIEWS_PREFIX, open_stream

logger = logging.getLogger(__name__)

ACCESS_NAME = tiler.ACCESS_NAME


def tile_prefix(sha256: str) -> str:
    return f"{PREVIEWS_PREFIX}iiif/{sha256}/"


def min_side() -> int:
    return int(settings.ARCHIVE_IIIF_MIN_SIDE)


def tile_size() -> int:
    return int(settings.ARCHIVE_IIIF_TILE_SIZE)


def wants_tiles(artifact: Artifact) -> bool:
    """Stills over the configured size (longest side) get tiles; small ones are shown whole."""
    return (
        artifact.media_type.startswith("image/")
        and artifact.role == "image"
        and not artifact.frame_count
        and max(artifact.width, artifact.height) > min_side()
    )


def tiles_request(artifact_id: int, *, force: bool = False) -> TileSet | None:
    """Ask for the tiles of an artifact (after commit). Returns the row, or None when the
    artifact needs none. Sends the message when the row is new, failed (``force``) or pending
    for longer than a lease (a lost message or a killed worker); never raises for a broker
    outage: the row stays pending and the next request sends again."""
    artifact = Artifact.objects.filter(pk=artifact_id).first()
    if artifact is None or not wants_tiles(artifact):
        return None
    tileset, created = TileSet.objects.get_or_create(
        artifact=artifact, defaults={"prefix": tile_prefix(artifact.sha256)}
    )
    stale = timezone.now() - dt.timedelta(seconds=max(60, 4 * settings.JOB_LEASE_SECONDS))
    resend = created or (tileset.status == TileSet.Status.PENDING and tileset.updated_at < stale)
    if force and tileset.status == TileSet.Status.FAILED:
        TileSet.objects.filter(pk=tileset.pk).update(status=TileSet.Status.PENDING, error="")
        resend = True
    if resend:
        # Touching updated_at elects one sender among concurrent requests.
        if not created:
            TileSet.objects.filter(pk=tileset.pk, updated_at=tileset.updated_at).update(
                updated_at=timezone.now()
            )
        _send(artifact.pk)
    return tileset


def _send(artifact_id: int) -> None:
    try:
        dispatch.send("iiif_tiles", (artifact_id,))  # by name: interop.actors imports this
    except Exception:  # the row stays pending; the next tiles_request sends again
        logger.exception("could not enqueue the tiles of artifact %s", artifact_id)


def tiles_request_on_commit(artifact_id: int) -> None:
    transaction.on_commit(lambda: _request_quietly(artifact_id))


def _request_quietly(artifact_id: int) -> None:
    try:
        tiles_request(artifact_id)
    except Exception:  # tiles are a convenience: never fail an ingest or a job for them
        logger.exception("could not request the tiles of artifact %s", artifact_id)


def tiles_make(artifact_id: int) -> TileSet | None:
    """Make and store the tiles of one artifact (the actor's body); idempotent."""
    artifact = Artifact.objects.filter(pk=artifact_id).first()
    if artifact is None or not wants_tiles(artifact):
        return None
    tileset, _ = TileSet.objects.get_or_create(
        artifact=artifact, defaults={"prefix": tile_prefix(artifact.sha256)}
    )
    if tileset.status == TileSet.Status.READY:
        return tileset
    TileSet.objects.filter(pk=tileset.pk).update(attempts=tileset.attempts + 1)
    started = time.perf_counter()
    tmp_root = Path(settings.ARCHIVE_DATA_DIR) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=tmp_root, prefix="iiif-"))
    try:
        source = _local_copy(artifact, work)
        info = render_tiles(source, work / "out", size=tile_size())
        files, total = _store_tree(work / "out", tileset.prefix)
    except Exception as exc:
        from restoration.storage import is_disk_full

        transient = isinstance(exc, OSError) or type(exc).__module__.startswith("botocore")
        if transient and not is_disk_full(exc):
            raise  # a storage hiccup (local or S3): the actor retries, the row stays pending
        TileSet.objects.filter(pk=tileset.pk).update(
            status=TileSet.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        logger.warning("tiles of artifact %s failed: %s", artifact_id, exc)
        return TileSet.objects.get(pk=tileset.pk)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    TileSet.objects.filter(pk=tileset.pk).update(
        status=TileSet.Status.READY,
        width=info["width"],
        height=info["height"],
        tile_size=tile_size(),
        info=info,
        files=files,
        bytes=total,
        seconds=round(time.perf_counter() - started, 3),
        error="",
    )
    return TileSet.objects.get(pk=tileset.pk)


def _local_copy(artifact: Artifact, work: Path) -> Path:
    """A local file libvips can read: the stored file itself on local storage, else a
    streamed copy (S3)."""
    try:
        path = Path(default_storage.path(artifact.storage_key))
    except NotImplementedError:
        path = None
    if path is not None and path.is_file():
        return path
    target = work / "source"
    with open_stream(artifact.storage_key) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
    return target


class TilingFailed(Exception):
    """The tiler child failed (over its memory budget, over its time, or the image): the
    message is the reason, shown on the tile set. Not retried: a retry would repeat it."""


def memory_budget_mb() -> int:
    return int(settings.ARCHIVE_TILES_MEMORY_MB or settings.ARCHIVE_WORKER_MEMORY_MB)


def render_tiles(source: Path, out: Path, *, size: int = 512) -> dict[str, Any]:
    """dzsave's IIIF 3 tiles and a full-size access JPEG of ``source`` under ``out``, made in a
    child process (``interop.tiler``) under the memory budget (``RLIMIT_AS``) and the time
    limit of a classical step, never in the worker's own process; returns info.json."""
    budget = memory_budget_mb()
    # A little under the actor's own time limit, so that the reason is ours, not a kill's.
    limit_s = max(10, int(settings.JOB_TIME_LIMITS["classical"]) - 5)
    command = [sys.executable, "-m", "interop.tiler", str(source), str(out), "--size", str(size)]
    command += ["--memory-mb", str(budget)]
    env = os.environ | {"MALLOC_ARENA_MAX": "2"}  # glibc arenas: address space, not memory
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=limit_s, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise TilingFailed(f"tiling took longer than the {limit_s} s limit; stopped") from exc
    if done.returncode == 0:
        return dict(json.loads(done.stdout))
    last = (done.stderr.strip().splitlines() or [""])[-1][:500]
    if done.returncode == tiler.EXIT_MEMORY or done.returncode < 0:
        how = f"killed by signal {-done.returncode}" if done.returncode < 0 else last
        raise TilingFailed(
            f"tiling needs more than its {budget} MiB memory budget "
            f"(ARCHIVE_TILES_MEMORY_MB / ARCHIVE_WORKER_MEMORY_MB): {how}"
        )
    raise TilingFailed(f"tiling failed: {last or f'exit status {done.returncode}'}")


def _store_tree(root: Path, prefix: str) -> tuple[int, int]:
    """Store every file under ``root/tiles`` at ``prefix`` + its relative path, a few at once
    (S3 round trips dominate); returns (files, bytes)."""
    base = root / "tiles"
    paths = [p for p in base.rglob("*") if p.is_file()]

    def save(path: Path) -> int:
        key = prefix + path.relative_to(base).as_posix()
        with open(path, "rb") as fh:
            default_storage.save(key, File(fh))
        return path.stat().st_size

    workers = max(1, min(8, (os.cpu_count() or 2) * 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        total = sum(pool.map(save, paths))
    return len(paths), total


def tile_key(tileset: TileSet, region: str, size: str) -> str | None:
    """The stored key that answers ``{region}/{size}/0/default.jpg``, or None (level 0: only
    what was made). Full-size requests get the access JPEG."""
    if region == "full" and (size == "max" or size == f"{tileset.width},{tileset.height}"):
        return tileset.prefix + ACCESS_NAME
    return f"{tileset.prefix}{region}/{size}/0/default.jpg"
