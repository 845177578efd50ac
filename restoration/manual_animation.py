"""Manual steps that record an animation made in another tool (issue 12).

An upload to ``steps/manual/`` that is a video (MP4, WebM, Matroska, QuickTime) or an animated
image (GIF, WebP, PNG with more than one frame) made from a still is recorded here rather than
as a retouch: the step's kind is ``synthetic`` (DESIGN.md "Synthetic media says so": the person
did not move like this, whoever made the clip), its operation ``manual_animation``, with the
rationale, citations and reference images of any manual step.

Validation is the stills' and the videos' own (``services.video_ingest``: every frame decoded
under the limits; a truncated, fake or oversized file is a 4xx and nothing is stored).
Storage:
- a video file is stored as uploaded (it is the evidence), with its per-frame hash manifest,
  poster and H.264 proxy;
- an animated GIF/WebP/PNG is decoded frame by frame (frame count, size and the decode budget
  checked before any pixel is decoded, each frame composited as a viewer shows it) and stored
  as FFV1 in Matroska, lossless RGB, at the clip's rate; FFV1 rather than APNG/WebP because it
  is what the archive keeps every other moving image in (one player, one manifest, one
  verify), and because FFmpeg reads it everywhere. The upload's own sha256, format and frame
  durations are kept in the step's hashed parameters, so the clip can be traced back to it.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from archive.models import Citation, ReferenceImage
from archive.selectors import artifact_is_visible, visible_citations, visible_references
from restoration import imagefile
from restoration.manual import ManualStepRejected, _checked_ids, _require_visible
from restoration.models import Artifact, Step
from restoration.services import Derivation, NewInput, is_video, video_ingest

OPERATION = "manual_animation"
VERSION = "1.0"
MAX_RATIONALE = 10_000
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv")
ANIMATED_SUFFIXES = (".gif", ".webp", ".png", ".apng")
MAX_ANIMATED_FRAMES = 3000


def is_animation_upload(upload: IO[bytes], filename: str) -> bool:
    """A video file, or an image file with more than one frame (read from the header only)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return True
    if suffix not in ANIMATED_SUFFIXES:
        return False
    from PIL import Image

    position = upload.tell()
    try:
        with Image.open(upload) as img:
            return bool(getattr(img, "is_animated", False)) and int(getattr(img, "n_frames", 1)) > 1
    except Exception:  # noqa: BLE001 - not readable as an animation: the still path says why
        return False
    finally:
        upload.seek(position)


def step_record_manual_animation(
    *,
    input_artifact_id: int,
    image: IO[bytes],
    rationale: str,
    user: AbstractBaseUser | AnonymousUser,
    citation_ids: Sequence[int] = (),
    reference_ids: Sequence[int] = (),
    on_behalf_of: str = "",
    tool: str = "",
    filename: str = "",
) -> Step:
    """Record an animation made by hand from ``input_artifact_id`` (same arguments as
    ``manual.step_record_manual``). Raises ``ManualStepRejected`` or ``ImageRejected``."""
    rationale = (rationale or "").strip()
    if not rationale:
        raise ManualStepRejected(
            "a rationale is required: say how the animation was made and why", code="no_rationale"
        )
    if len(rationale) > MAX_RATIONALE:
        raise ManualStepRejected(
            f"the rationale is longer than {MAX_RATIONALE} characters", code="invalid_field"
        )
    imagefile.check_filename(filename or "upload")
    found = Artifact.objects.filter(pk=input_artifact_id).first()
    if found is None or not artifact_is_visible(found.pk, user):
        raise ManualStepRejected(
            f"no artifact with id {input_artifact_id}", code="unknown_artifact"
        )
    source: Artifact = found
    if is_video(source):
        raise ManualStepRejected(
            f"artifact {source.pk} is a video: an animation is recorded from a still image",
            code="invalid_field",
        )
    citations = _checked_ids(citation_ids, "citation")
    references = _checked_ids(reference_ids, "reference image")
    _require_visible(visible_citations(Citation.objects.all(), user), citations, "citation")
    _require_visible(
        visible_references(ReferenceImage.objects.all(), user), references, "reference image"
    )
    parameters: dict[str, Any] = {"tool": tool, "original_filename": filename}

    def derive(probed: Any) -> Derivation:
        return Derivation(
            kind=Step.Kind.SYNTHETIC,
            operation=OPERATION,
            operation_version=VERSION,
            parameters={**parameters, "media_type": probed.facts.media_type, **probed.info()},
            inputs=[NewInput(role="image", artifact=source)],
            on_behalf_of=on_behalf_of,
            rationale=rationale,
            citation_ids=citations,
            reference_ids=references,
        )

    suffix = Path(filename or "").suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        result = video_ingest(stream=image, filename=filename, user=user, derive=derive)
    else:
        with tempfile.TemporaryDirectory(dir=_tmp_dir(), prefix="animation-") as tmp:
            clip = Path(tmp) / (Path(filename).stem or "animation")
            clip = clip.with_suffix(".mkv")
            parameters.update(_animated_image_to_ffv1(image, clip))
            with open(clip, "rb") as fh:
                result = video_ingest(stream=fh, filename=clip.name, user=user, derive=derive)
    assert result.step is not None  # a derivation is never a duplicate: it is linked
    return result.step


def _tmp_dir() -> str:
    path = Path(settings.ARCHIVE_DATA_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def _animated_image_to_ffv1(upload: IO[bytes], dest: Path) -> dict[str, Any]:
    """Decode an animated GIF/WebP/PNG under the archive's limits and write its frames, as a
    viewer composites them, to FFV1/Matroska at its (most common) frame rate. Returns what the
    step records about the original."""
    import numpy as np
    from PIL import Image, ImageSequence

    from restoration.engine.video import VideoWriter

    upload.seek(0)
    data = upload.read()
    if len(data) > settings.ARCHIVE_MAX_UPLOAD_BYTES:
        raise imagefile.ImageRejected("the file is larger than the upload limit", code="too_large")
    try:
        img = Image.open(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for a fake file
        raise imagefile.ImageRejected(
            f"not a readable animated image ({exc}); nothing was stored", code="corrupt_image"
        ) from None
    with img:
        fmt = img.format or "unknown"
        if fmt not in ("GIF", "WEBP", "PNG"):
            raise imagefile.ImageRejected(
                f"unsupported animation format {fmt}", code="unsupported_format"
            )
        frames = int(getattr(img, "n_frames", 1) or 1)
        width, height = img.size
        max_pixels = int(settings.ARCHIVE_MAX_PIXELS)
        if width * height > max_pixels:
            raise imagefile.ImageRejected(
                f"{width}x{height} frames are over the {max_pixels:,} pixel limit",
                code="too_many_pixels",
            )
        limit = min(
            MAX_ANIMATED_FRAMES,
            int(settings.ARCHIVE_MAX_VIDEO_FRAMES),
        )
        if frames > limit:
            raise imagefile.ImageRejected(
                f"{frames} frames, more than the {limit} an animation may have",
                code="too_many_frames",
            )
        budget = int(settings.ARCHIVE_DECODE_MEMORY_MB) * 2**20
        if frames * width * height * 3 > 64 * budget:  # written as it is decoded, never held
            raise imagefile.ImageRejected("the animation is too large to decode", code="too_large")
        durations: list[int] = []
        writer = None
        try:
            for index, frame in enumerate(ImageSequence.Iterator(img)):
                frame.load()  # WebP gives a frame's duration once it is decoded
                durations.append(int(frame.info.get("duration", 100) or 100))
                rgb = frame.convert("RGB")
                if writer is None:
                    fps = _rate(img, data)
                    writer = VideoWriter(dest, width=width, height=height, fps=fps, codec="ffv1")
                writer.write(np.asarray(rgb))
                if index + 1 > limit:
                    raise imagefile.ImageRejected("too many frames", code="too_many_frames")
        except imagefile.ImageRejected:
            if writer is not None:
                writer.abort()
            raise
        except Exception as exc:  # noqa: BLE001 - truncated or corrupt frame data
            if writer is not None:
                writer.abort()
            raise imagefile.ImageRejected(
                f"the animation's frame data is truncated or corrupt ({exc}); nothing was stored",
                code="corrupt_image",
            ) from None
        if writer is None or len(durations) < 2:
            raise imagefile.ImageRejected(
                "the image has a single frame: not an animation", code="not_animated"
            )
        writer.close()
    return {
        "original_sha256": hashlib.sha256(data).hexdigest(),
        "original_format": fmt,
        "original_frames": len(durations),
        "original_frame_durations_ms": durations,
        "archival_copy": "FFV1 in Matroska (lossless RGB) at the most common frame duration",
    }


def _rate(img: Any, data: bytes) -> Fraction:
    """Frames per second from the most common frame duration (GIF/WebP/APNG carry per-frame
    durations in milliseconds; a clip with varied durations is played at its usual one, the
    durations themselves are recorded)."""
    from collections import Counter

    from PIL import Image, ImageSequence

    with Image.open(io.BytesIO(data)) as again:
        durations = []
        for frame in ImageSequence.Iterator(again):
            frame.load()
            durations.append(int(frame.info.get("duration", 100) or 100))
    common = Counter(max(10, d) for d in durations).most_common(1)[0][0]
    return Fraction(1000, common)
