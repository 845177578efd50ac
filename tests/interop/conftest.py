"""Fixtures for the interop tests: role users, photos (public and restricted) with a
restoration each, tiles made by calling the actor's body."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import Group
from PIL import Image


def noisy_png(width: int, height: int, seed: int, fmt: str = "PNG") -> bytes:
    """A real image with structure at every scale (gradients, a checkerboard, grain), distinct
    per seed. ``fmt="JPEG"`` for the large ones: a 24-megapixel PNG of grain takes seconds."""
    rng = np.random.default_rng(seed)
    gx = np.linspace(0, 255, width, dtype=np.float32).astype(np.uint8)[None, :]
    gy = np.linspace(0, 255, height, dtype=np.float32).astype(np.uint8)[:, None]
    board = (((np.arange(height)[:, None] // 64) + (np.arange(width)[None, :] // 64)) % 2) * 60
    arr = np.empty((height, width, 3), dtype=np.uint8)
    arr[..., 0] = np.broadcast_to(gx, (height, width))
    arr[..., 1] = np.broadcast_to(gy, (height, width))
    arr[..., 2] = board.astype(np.uint8) + 100
    arr += rng.integers(0, 40, size=(height, width, 1), dtype=np.uint8)
    buf = io.BytesIO()
    if fmt == "JPEG":
        Image.fromarray(arr).save(buf, format="JPEG", quality=88)
    else:
        Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def make_role_user(django_user_model: Any, role: str) -> Any:
    user = django_user_model.objects.create_user(username=role, password=f"pw-{role}-1")
    user.groups.add(Group.objects.get(name=role))
    return user


def ingest(
    user: Any, *, size=(640, 480), seed=1, title="A photo", fmt="PNG", **metadata: Any
) -> Any:
    from archive.services import photo_ingest

    figure_ids = metadata.pop("figure_ids", ())
    result = photo_ingest(
        stream=io.BytesIO(noisy_png(*size, seed, fmt)),
        filename=f"scan-{seed}.{'jpg' if fmt == 'JPEG' else 'png'}",
        title=title,
        user=user,
        figure_ids=figure_ids,
        metadata=metadata,
    )
    return result.photo


def derive(
    master: Any,
    user: Any,
    *,
    operation: str = "grayscale",
    kind: str = "classical",
    citation_ids: tuple[int, ...] = (),
    reference_ids: tuple[int, ...] = (),
) -> Any:
    """A restoration step on ``master`` (a real classical operation's bytes)."""
    from restoration.services import NewInput, now, output_from_array, step_record_or_discard
    from restoration.storage import open_object

    with open_object(master.sha256) as fh:
        arr = np.asarray(Image.open(fh).convert("L"))
    if operation == "crop":  # a quarter of each side: cheap, and small enough to show whole
        arr = np.ascontiguousarray(arr[: arr.shape[0] // 4, : arr.shape[1] // 4])
    elif operation != "grayscale":  # different bytes per operation
        arr = (255 - arr).astype(np.uint8)
    started = now()
    step = step_record_or_discard(
        kind=kind,
        operation=operation,
        operation_version="1.0",
        parameters={},
        inputs=[NewInput(role="image", artifact=master)],
        outputs=[output_from_array(arr)],
        started_at=started,
        ended_at=now(),
        user=user,
        citation_ids=citation_ids,
        reference_ids=reference_ids,
    )
    return step.output("image")


@pytest.fixture
def roles(db, django_user_model) -> dict[str, Any]:
    return {r: make_role_user(django_user_model, r) for r in ("viewer", "auditor", "restorer")}


@pytest.fixture
def small_tiles(settings):
    """Tiles for anything over 300 px, 256 px tiles: small images exercise the whole path."""
    settings.ARCHIVE_IIIF_MIN_SIDE = 300
    settings.ARCHIVE_IIIF_TILE_SIZE = 256
