"""Hand-painted masks (issue 14): a restorer paints damage over an image in the browser; the
mask becomes an artifact of role ``mask``, the output of a ``manual`` step whose input is the
painted image, so ``descratch`` (param ``mask``, input role ``mask``) uses it in the lineage."""

from __future__ import annotations

from typing import IO, Any

import numpy as np
from django.conf import settings

from restoration import imagefile
from restoration.imagefile import ImageRejected
from restoration.models import Artifact, Step
from restoration.services import NewInput, now, output_from_array, step_record_or_discard
from restoration.users import User

MASK_OPERATION = "mask_paint"
MASK_VERSION = "1.0"


def mask_record(
    *,
    image_artifact: Artifact,
    mask: IO[bytes],
    user: User,
    rationale: str = "",
) -> Artifact:
    """Record a painted mask for ``image_artifact`` and return the mask artifact.

    The upload is any image of the artifact's size (the page sends a black PNG painted white
    where damaged); a pixel is damaged where its brightness is above half. The automatic mask
    the painter may have started from is not an artifact (a preview): what was saved is what
    ``descratch`` uses. Raises ``ImageRejected`` for a file that is no image or of another
    size; nothing is written then."""
    started = now()
    mask.seek(0)
    array = imagefile.decode_rgb_or_grey(mask, max_pixels=settings.ARCHIVE_MAX_PIXELS)
    binary = _binary(array)
    if binary.shape != (image_artifact.height, image_artifact.width):
        raise ImageRejected(
            f"the mask is {binary.shape[1]}x{binary.shape[0]}, the image is "
            f"{image_artifact.width}x{image_artifact.height}",
            code="invalid_field",
        )
    output = output_from_array((binary * 255).astype(np.uint8), role="mask")
    inputs = [NewInput(role="image", artifact=image_artifact)]
    step = step_record_or_discard(
        kind=Step.Kind.MANUAL,
        operation=MASK_OPERATION,
        operation_version=MASK_VERSION,
        parameters={"coverage": round(float(binary.mean()), 6), "painted_in": "browser"},
        inputs=inputs,
        outputs=[output],
        started_at=started,
        ended_at=now(),
        user=user,
        rationale=rationale or "damage mask painted by hand",
    )
    produced = step.output("mask")
    assert produced is not None
    return produced


def _binary(array: Any) -> np.ndarray:
    if array.dtype == np.uint16:
        array = array >> 8
    if array.ndim == 3:
        return np.asarray(array.max(axis=2) > 127)
    return np.asarray(array > 127)
