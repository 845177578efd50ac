"""Builders for lineage tests and the bench: real files, real steps, through the services."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection

from restoration.models import Artifact
from restoration.services import NewInput, output_from_array, step_record_or_discard
from restoration.storage import object_key

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def array(seed: int, size: tuple[int, int] = (16, 12)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)


def master(seed: int, size: tuple[int, int] = (16, 12)) -> Artifact:
    """A master made by an ``ingest`` step without a Photo (fast; the catalogue is not needed)."""
    out = output_from_array(array(seed, size))
    step_record_or_discard(
        kind="ingest",
        operation="ingest",
        operation_version="1.0",
        parameters={"original_filename": f"scan-{seed}.png"},
        inputs=[],
        outputs=[out],
        started_at=T0,
        ended_at=T0,
        software={"project": "test"},
    )
    return Artifact.objects.get(sha256=out.sha256)


def derive(
    inputs: Sequence[tuple[str, Artifact]] | Artifact,
    seed: int,
    *,
    operation: str = "denoise",
    kind: str = "classical",
    parameters: dict | None = None,
    size: tuple[int, int] = (16, 12),
    **extra,
) -> Artifact:
    """One step from ``inputs`` (``[(role, artifact), ...]`` or one image) to a new artifact."""
    if isinstance(inputs, Artifact):
        inputs = [("image", inputs)]
    positions: dict[str, int] = {}
    new_inputs = []
    for role, artifact in inputs:
        new_inputs.append(NewInput(role=role, artifact=artifact, position=positions.get(role, 0)))
        positions[role] = positions.get(role, 0) + 1
    out = output_from_array(array(seed, size))
    step_record_or_discard(
        kind=kind,
        operation=operation,
        operation_version="1.0",
        parameters=parameters if parameters is not None else {"strength": 0.5, "seed": seed},
        inputs=new_inputs,
        outputs=[out],
        started_at=T0,
        ended_at=T0 + dt.timedelta(seconds=1),
        software={"project": "test", "numpy": np.__version__},
        **extra,
    )
    return Artifact.objects.get(sha256=out.sha256)


def stored_path(artifact: Artifact) -> Path:
    return Path(settings.STORAGES["default"]["OPTIONS"]["location"]) / object_key(artifact.sha256)


def flip_byte(artifact: Artifact, offset: int = -10) -> None:
    path = stored_path(artifact)
    path.chmod(0o644)  # stored objects are read-only on purpose
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def raw_write(table: str, sql: str, params: Sequence) -> None:
    """Run a raw UPDATE/DELETE on a lineage table, as an attacker with database access would.

    On PostgreSQL the append-only trigger must be bypassed first: ``session_replication_role =
    replica`` (superuser only) skips ordinary triggers for this transaction; ``ALTER TABLE ...
    DISABLE TRIGGER`` cannot run while the test's deferred FK checks are pending."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()
