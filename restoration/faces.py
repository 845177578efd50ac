"""The archive's faces (issue 22): every still and sampled video frames, indexed by face after
ingest, in the background; "faces that may be this person" answered from an in-memory index.

Writes (``faces_index_artifact``) measure in an engine worker and store ``Face`` rows with a
``FaceIndexRun`` in one transaction, so a redelivered message does nothing. Reads
(``face_neighbours``) search one process-wide ``FaceIndex`` that follows the table by id (faces
are append-only, so "rows after the last id seen" is the whole change); the caller passes the
ids the asker may see (``access.visibility.visible_faces``), applied inside the search so that
restricted faces never appear and never take a result's place.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction

from access import visibility
from access.visibility import visible_faces
from archive.models import Figure
from restoration import executor, imagefile
from restoration.engine.faceindex import FaceIndex
from restoration.engine.identity import EMBEDDING_DIM, METHOD, sample_indices, verdict
from restoration.engine.imageutil import box_iou
from restoration.models import Artifact, Face, FaceIndexRun
from restoration.services import artifact_local_path
from restoration.storage import open_object

logger = logging.getLogger(__name__)


class FaceIndexingFailed(Exception):
    pass


def _is_video(artifact: Artifact) -> bool:
    return str(artifact.media_type).startswith("video/")


def _measure(artifact: Artifact) -> list[dict[str, Any]]:
    if _is_video(artifact):
        with artifact_local_path(artifact) as path:
            reply = executor.measure_faces(
                {
                    "path": str(path),
                    "frames": int(artifact.frame_count or 0),
                    "samples": settings.ARCHIVE_IDENTITY_VIDEO_SAMPLES,
                }
            )
    else:
        with open_object(artifact.sha256) as fh:
            image = imagefile.decode_rgb_or_grey(fh.read(), max_pixels=settings.ARCHIVE_MAX_PIXELS)
        reply = executor.measure_faces({"image": image})
    return list(reply.get("faces") or [])


def faces_index_artifact(*, artifact_id: int) -> FaceIndexRun | None:
    """Find and store the faces of one artifact, once (idempotent). None when indexing is off
    or the artifact is not an image or video (a sidecar file)."""
    if not settings.ARCHIVE_FACE_INDEX:
        return None
    existing = FaceIndexRun.objects.filter(artifact_id=artifact_id).first()
    if existing is not None:
        return existing
    artifact = Artifact.objects.get(pk=artifact_id)
    if not (str(artifact.media_type).startswith("image/") or _is_video(artifact)):
        return None
    error = ""
    try:
        faces = _measure(artifact)
    except (executor.OperationFailed, imagefile.ImageRejected, OSError, ValueError) as exc:
        faces, error = [], f"{type(exc).__name__}: {exc}"
        logger.warning("faces of artifact %s not indexed: %s", artifact_id, error)
    try:
        with transaction.atomic():
            run = FaceIndexRun.objects.create(artifact=artifact, faces=len(faces), error=error)
            Face.objects.bulk_create([_face_row(artifact, n, f) for n, f in enumerate(faces)])
    except IntegrityError:  # another worker indexed it meanwhile
        return FaceIndexRun.objects.get(artifact_id=artifact_id)
    return run


def _face_row(artifact: Artifact, number: int, face: dict[str, Any]) -> Face:
    return Face(
        artifact=artifact,
        frame=face.get("frame"),
        number=number,
        box=[float(v) for v in face["box"]],
        size=float(face["size"]),
        sharpness=float(face["sharpness"]),
        score=float(face["score"]),
        embedding=face.get("embedding"),
        reason=str(face.get("reason") or "")[:200],
        method=METHOD,
    )


def embedding_of(face: Face) -> np.ndarray | None:
    if face.embedding is None:
        return None
    return np.frombuffer(bytes(face.embedding), dtype=np.float32).copy()


# --- search ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Neighbour:
    face_id: int
    distance: float


class _Live:
    """The process's index and the last face id it holds."""

    def __init__(self) -> None:
        # An exact scan up to ARCHIVE_FACE_HNSW_FROM faces: bench/faces.py measured it at
        # 22-47 ms at a million (2 busy cores), inside the 50 ms aim, while building the HNSW
        # graph of a million faces takes over ten minutes here, under the index's write lock.
        self.index = FaceIndex(hnsw_threshold=settings.ARCHIVE_FACE_HNSW_FROM)
        self.last_id = 0
        self.lock = threading.Lock()

    def refresh(self) -> FaceIndex:
        with self.lock:
            rows = [
                (pk, embedding)
                for pk, embedding in Face.objects.filter(
                    pk__gt=self.last_id, embedding__isnull=False
                )
                .order_by("pk")
                .values_list("pk", "embedding")
                if embedding is not None  # never, by the filter: narrows the column's type
            ]
            if rows:
                ids = np.array([pk for pk, _ in rows], np.int64)
                vectors = np.frombuffer(b"".join(bytes(e) for _, e in rows), np.float32)
                self.index.add(ids, vectors.reshape(-1, EMBEDDING_DIM))
                self.last_id = int(ids[-1])
            return self.index


_live = _Live()


def face_neighbours(
    vector: np.ndarray,
    *,
    allowed: Callable[[int], bool],
    k: int = 20,
    max_distance: float | None = 0.6,
) -> list[Neighbour]:
    """The ``k`` faces nearest ``vector`` that ``allowed`` admits, nearest first (the filter
    runs inside the search: a skipped face never takes a result's place)."""
    index = _live.refresh()
    found = index.search(vector, k, max_distance=max_distance, allowed=allowed)
    return [Neighbour(int(pk), float(d)) for pk, d in found]


MAX_REFERENCES = 64


def confirmed_references(*, artifact_id: int, user: Any) -> list[dict[str, Any]]:
    """The faces confirmed as the figures this artifact's lineage shows (a face on it or on
    an ancestor confirmed as a figure), that ``user`` may see: what a step on it is also
    checked against. ``{"face", "figure", "embedding"}`` each, at most ``MAX_REFERENCES``."""
    from archive.models import FaceIdentification
    from restoration.selectors import lineage_ancestors

    if not settings.ARCHIVE_FACE_INDEX:
        return []
    ancestry = list(lineage_ancestors(artifact_id=artifact_id).artifacts)
    figures = FaceIdentification.objects.filter(face__artifact_id__in=ancestry).values("figure")
    faces = visible_faces(
        Face.objects.filter(identifications__figure__in=figures, embedding__isnull=False), user
    )
    rows = faces.values_list("pk", "identifications__figure", "embedding").order_by("pk")
    return [
        {"face": pk, "figure": figure, "embedding": bytes(vector)}
        for pk, figure, vector in rows[:MAX_REFERENCES]
        if figure is not None and vector is not None  # the vector never is, by the filter
    ]


def measure_upload(image: np.ndarray) -> list[dict[str, Any]]:
    """The faces of an uploaded image (a search by photo), measured in an engine worker."""
    return list(executor.measure_faces({"image": image}).get("faces") or [])


def sampled_frames(count: int) -> list[int]:
    return sample_indices(count, settings.ARCHIVE_IDENTITY_VIDEO_SAMPLES)


# --- reads for the API and the pages ---------------------------------------------------------


def matches_for(
    vector: np.ndarray, user: Any, limit: int, exclude: int | None = None
) -> list[dict[str, Any]]:
    """Visible faces nearest ``vector``, nearest first, as the API answers them."""
    try:
        hidden = visibility.hidden_face_ids(user)
    except PermissionError:
        return []
    skip = (hidden or set()) | ({exclude} if exclude is not None else set())
    found = face_neighbours(vector, allowed=lambda pk: pk not in skip, k=limit)
    rows = Face.objects.in_bulk([n.face_id for n in found])
    return [
        {
            "face": n.face_id,
            "artifact": rows[n.face_id].artifact_id,
            "frame": rows[n.face_id].frame,
            "box": rows[n.face_id].box,
            "distance": round(n.distance, 4),
            "verdict": verdict(n.distance),
        }
        for n in found
        if n.face_id in rows
    ]


def face_at(faces: list[Face], box: list[float] | None) -> Face | None:
    """The face whose box overlaps ``box`` most (the largest face without a box)."""
    if not faces:
        return None
    if box is None:
        return max(faces, key=lambda f: f.size)
    boxes = np.array([f.box for f in faces], np.float64)
    overlaps = box_iou(np.asarray(box, np.float64), boxes)
    best = int(np.argmax(overlaps))
    return faces[best] if overlaps[best] > 0.1 else None


def figure_faces(
    figure: Figure, user: Any, limit: int = 20, *, search: bool = True
) -> dict[str, Any]:
    """A figure's confirmed faces, and (with ``search``) the visible faces nearest them."""
    visible = visibility.visible_faces(Face.objects.all(), user)
    confirmed = list(visible.filter(identifications__figure=figure).order_by("pk"))
    candidates: dict[int, dict[str, Any]] = {}
    for face in confirmed if search else []:
        vector = embedding_of(face)
        if vector is None:
            continue
        for match in matches_for(vector, user, limit, exclude=face.pk):
            if match["face"] in {f.pk for f in confirmed}:
                continue
            seen = candidates.get(match["face"])
            if seen is None or match["distance"] < seen["distance"]:
                candidates[match["face"]] = match
    ranked = sorted(candidates.values(), key=lambda m: m["distance"])[:limit]
    return {
        "confirmed": [
            {"face": f.pk, "artifact": f.artifact_id, "frame": f.frame, "box": f.box}
            for f in confirmed
        ],
        "matches": ranked,
    }
