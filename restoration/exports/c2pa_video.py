"""C2PA Content Credentials for video artifacts: an MP4 (H.264) with a signed manifest.

c2pa-python signs MP4 (BMFF) the same way as stills; the manifest has the same parts as the
still export (``restoration.exports.c2pa``): the master as ``parentOf`` ingredient, one action
per step with its parameters and record hash, the evidence and lineage assertions, the
catalogue identity. What differs for generated media (DESIGN.md "Synthetic media says so"):

- a ``synthetic`` step's action carries the IPTC digital source type of generated media:
  ``compositeSynthetic`` when the frames are the photograph's own pixels moved by an algorithm
  (the weight-free ``landmarks`` driver of ``animate``), ``trainedAlgorithmicMedia`` when a
  trained network drew them (a learned driver);
- an ``org.photo-archive.synthetic`` assertion states it in words ("animated from a still
  photograph: this person did not move like this"), with the driver and the label burnt in.

The bytes signed are an H.264 MP4 made from the artifact (the archival copy is FFV1/Matroska,
which C2PA tools do not read); the export records that as a ``c2pa.transcoded`` action.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import c2pa
from django.conf import settings

from restoration.evidence import catalogue_identity, evidence_used
from restoration.exports import ancestor_graph
from restoration.exports.c2pa import (
    IPTC,
    _action,
    _add_references,
    _ingredient,
    _manifest,
    _parent,
    c2pa_signer,
)
from restoration.models import Artifact, Step
from restoration.selectors import LineageGraph
from restoration.services import PROJECT_VERSION, artifact_local_path

MP4 = "video/mp4"
SYNTHETIC_LABEL = "org.photo-archive.synthetic"
SYNTHETIC_STATEMENT = "animated from a still photograph: this person did not move like this"
# Drivers whose frames are the photograph's own pixels, moved by an algorithm.
PIXEL_MOVING_DRIVERS = frozenset({"landmarks"})


def synthetic_source_type(step: Step) -> str:
    """The IPTC digital source type of what a synthetic step made."""
    driver = str((step.parameters or {}).get("driver", ""))
    if step.operation == "animate" and driver in PIXEL_MOVING_DRIVERS:
        return IPTC + "compositeSynthetic"
    return IPTC + "trainedAlgorithmicMedia"


def video_source_type(graph: LineageGraph) -> str | None:
    """The generated-media source type of the newest synthetic step of the lineage, if any."""
    synthetic = [s for s in graph.steps.values() if s.kind == "synthetic"]
    if not synthetic:
        return None
    return synthetic_source_type(max(synthetic, key=lambda s: (s.ended_at, s.pk)))


def mp4_from_video(path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> int:
    """Transcode any video the archive accepts to H.264 MP4 (CRF 18): the bytes C2PA signs."""
    from restoration.engine.video import read_frames, stream_info, write_video

    info = stream_info(path)
    return write_video(dest, read_frames(path), fps=info.fps, codec="h264")


def sign_mp4(
    mp4: bytes,
    manifest: Mapping[str, Any],
    actions: list[dict[str, Any]],
    *,
    ingredients: list[tuple[Artifact, str, str, str]] = (),  # type: ignore[assignment]
    builder_hook: Any = None,
) -> bytes:
    """Sign `mp4` with the archive's signer: `manifest` (assertions, title), `actions` in order,
    `ingredients` as (artifact, title, relationship, label)."""
    signer = c2pa_signer()
    try:
        context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
        builder = c2pa.Builder(dict(manifest), context=context)
        builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        for artifact, title, relationship, label in ingredients:
            _ingredient(builder, artifact, title=title, relationship=relationship, label=label)
        if builder_hook is not None:
            builder_hook(builder)
        for action in actions:
            builder.add_action(action)
        dest = io.BytesIO()
        builder.sign(signer, MP4, io.BytesIO(mp4), dest)
        return dest.getvalue()
    finally:
        signer.close()


def artifact_export_c2pa_video(
    *, graph: LineageGraph | None = None, artifact_id: int | None = None, evidence_view: Any = None
) -> bytes:
    """A video artifact (the root of ``graph``, or ``artifact_id``) as an MP4 with an embedded,
    signed C2PA manifest describing its lineage. Raises ``Artifact.DoesNotExist``,
    ``ValueError`` (not a video), ``C2paNotConfigured`` and ``c2pa.C2paError``."""
    graph = ancestor_graph(graph, artifact_id)
    root = graph.root
    if not str(root.media_type).startswith("video/"):
        raise ValueError(f"artifact {root.pk} is not a video ({root.media_type})")
    parent = _parent(graph)
    identity = catalogue_identity([parent.pk]).get(parent.pk, {})
    evidence_by_step: dict[int, dict[str, Any]] = {}
    for step in graph.steps.values():
        ev = evidence_used(step, graph.parts[step.pk])
        evidence_by_step[step.pk] = evidence_view(ev) if evidence_view is not None else ev
    manifest = _manifest(
        graph,
        identity.get("title") or f"artifact-{root.pk}.mp4",
        identity=identity,
        evidence_by_step=evidence_by_step,
    )
    synthetic_steps = [s for s in graph.steps.values() if s.kind == "synthetic"]
    if synthetic_steps:
        manifest["assertions"].append(
            {
                "label": SYNTHETIC_LABEL,
                "data": {
                    "statement": SYNTHETIC_STATEMENT,
                    "digitalSourceType": video_source_type(graph),
                    "steps": [
                        {
                            "id": s.pk,
                            "operation": s.operation,
                            "driver": (s.parameters or {}).get("driver"),
                            "label_burnt_in": bool((s.parameters or {}).get("label", False)),
                            "label_text": (s.parameters or {}).get("label_text"),
                        }
                        for s in synthetic_steps
                    ],
                },
            }
        )
    transcoded = root.media_type != MP4
    with tempfile.TemporaryDirectory(dir=_tmp_root()) as tmp:
        if transcoded:
            out = Path(tmp) / "export.mp4"
            with artifact_local_path(root) as local:
                mp4_from_video(local, out)
            data = out.read_bytes()
        else:
            with artifact_local_path(root) as local:
                data = Path(local).read_bytes()

    added: set[str] = set()
    labels_by_step: dict[int, list[str]] = {}

    def add_references(builder: c2pa.Builder) -> None:
        for step in graph.steps.values():
            if step.kind != "ingest":
                labels_by_step[step.pk] = _add_references(
                    builder, graph, step, added, evidence_by_step[step.pk]
                )

    # References need the builder and actions need the references' labels: both are added
    # from inside the builder's construction, in that order.
    actions: list[dict[str, Any]] = []

    def hook(builder: c2pa.Builder) -> None:
        add_references(builder)
        for step in graph.steps.values():
            if step.kind == "ingest":
                continue
            action = _action(step, labels_by_step.get(step.pk, []), evidence_by_step[step.pk])
            if step.kind == "synthetic":
                action["digitalSourceType"] = synthetic_source_type(step)
                action["action"] = "c2pa.edited"
                action["parameters"]["description"] = SYNTHETIC_STATEMENT
            actions.append(action)
        if transcoded:
            actions.append(
                {
                    "action": "c2pa.transcoded",
                    "softwareAgent": {"name": "photo-archive export", "version": PROJECT_VERSION},
                    "parameters": {"from": root.media_type, "to": MP4},
                }
            )
        for action in actions:
            builder.add_action(action)

    return sign_mp4(
        data,
        manifest,
        [],
        ingredients=[
            (
                parent,
                f"master scan {parent.sha256[:12]} (artifact {parent.pk})",
                "parentOf",
                "master",
            )
        ],
        builder_hook=hook,
    )


def _tmp_root() -> str:
    path = Path(settings.ARCHIVE_DATA_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
