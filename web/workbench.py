"""What the workbench (the restore page) shows beside the image, and its quick previews.

Research: the photos an artifact was made from, their figures, the figures' reference images,
notes and citations (only those relevant to this picture, never the whole archive). Previews
run the real engine operation on a small copy of the image in an engine worker process
(``restoration.executor``), never in the web server's process."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from PIL import Image

from access.visibility import (
    User,
    visible_artifacts,
    visible_citations,
    visible_figures,
    visible_notes,
    visible_photos,
    visible_references,
)
from archive.models import Citation, Figure, Note, Photo, ReferenceImage
from restoration import executor
from restoration.models import Artifact, StepOutput
from restoration.selectors import lineage_ancestors

PREVIEW_SIDE = 192


@dataclass
class Research:
    photos: list[Photo] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    references: list[ReferenceImage] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)


def research_for(artifact: Artifact, user: User) -> Research:
    """The catalogue around the picture being restored, as ``user`` may see it."""
    graph = lineage_ancestors(artifact_id=artifact.pk)
    master_ids = [a.pk for a in graph.masters] or [artifact.pk]
    photos = list(visible_photos(Photo.objects.filter(master_id__in=master_ids), user))
    figures = list(
        visible_figures(
            Figure.objects.filter(photos__in=photos).distinct().prefetch_related("names"), user
        )
    )
    references = list(
        visible_references(
            ReferenceImage.objects.filter(figure__in=figures).select_related("artifact"), user
        )
    )
    notes = list(
        visible_notes(
            Note.objects.filter(Q(figure__in=figures) | Q(photo__in=photos)).select_related(
                "author"
            ),
            user,
        )
    )
    targets = Q()
    for model, records in (
        (Photo, photos),
        (Figure, figures),
        (ReferenceImage, references),
        (Note, notes),
    ):
        if records:
            targets |= Q(
                target_type=ContentType.objects.get_for_model(model),
                target_id__in=[r.pk for r in records],
            )
    citations = (
        list(
            visible_citations(
                Citation.objects.filter(targets).select_related("source").order_by("id"), user
            )
        )
        if targets
        else []
    )
    return Research(photos, figures, references, notes, citations)


def artifact_choices(artifact: Artifact, research: Research, user: User) -> dict[str, Any]:
    """The choices of the operations' artifact parameters: ``reference`` (reference images
    of the figures shown) and ``mask`` (masks made for this very image)."""
    references = [
        {"value": r.artifact_id, "label": f"{r.title or r.get_kind_display()} (#{r.artifact_id})"}
        for r in research.references
    ]
    mask_ids = StepOutput.objects.filter(
        role="mask", step__inputs__artifact=artifact, step__inputs__role="image"
    ).values("artifact_id")
    masks = [
        {"value": a.pk, "label": f"#{a.pk} ({a.created_at:%Y-%m-%d %H:%M})"}
        for a in visible_artifacts(Artifact.objects.filter(pk__in=mask_ids), user).order_by("-pk")
    ]
    return {"reference": references, "mask": masks}


def small_copy(artifact: Artifact, side: int = PREVIEW_SIDE) -> tuple[np.ndarray, float]:
    """A reduced RGB copy of the artifact (from its display preview) and the scale factor."""
    from django.core.files.storage import default_storage

    from restoration.services import artifact_ensure_preview

    key = artifact_ensure_preview(artifact)
    if key is None:
        raise ValueError("no preview can be made of this image")
    with default_storage.open(key, "rb") as fh, Image.open(fh) as img:
        img = img.convert("RGB")
        factor = min(1.0, side / max(artifact.width, artifact.height))
        size = (max(1, round(artifact.width * factor)), max(1, round(artifact.height * factor)))
        small = img.resize(size, Image.Resampling.LANCZOS)
        return np.asarray(small), factor


def run_small(op: str, params: dict[str, Any], image: np.ndarray) -> dict[str, np.ndarray]:
    """Run one operation on a small array in an engine worker; its image and outputs."""
    request = executor.OpRequest(op=op, params=params, image=image)
    run = executor.run_operation(
        request, report=lambda fraction: None, should_cancel=lambda: False, time_limit_s=60.0
    )
    try:
        assert run.result is not None
        return {"image": run.result.image, **run.result.outputs}
    finally:
        run.summary()  # gives the worker back to the pool (a kill would cost a new boot)


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array.astype(np.uint8))).save(buf, format="PNG")
    return buf.getvalue()


def scaled_hints(hints: list[dict[str, Any]], factor: float, size: tuple[int, int]) -> list[dict]:
    """The hints in the small copy's pixel coordinates (citations dropped: a preview records
    nothing)."""
    w, h = size

    def point(x: Any, y: Any) -> list[int]:
        return [
            min(w - 1, max(0, round(float(x) * factor))),
            min(h - 1, max(0, round(float(y) * factor))),
        ]

    out = []
    for hint in hints[:500]:
        radius = max(1, round(float(hint.get("radius", 2)) * factor))
        if "points" in hint:
            pts = [
                point(p[0], p[1]) if isinstance(p, list) else point(p["x"], p["y"])
                for p in hint["points"][:2000]
            ]
            out.append({"points": pts, "color": hint["color"], "radius": radius})
        else:
            x, y = point(hint["x"], hint["y"])
            out.append({"x": x, "y": y, "color": hint["color"], "radius": radius})
    return out
