"""`animate` in the engine worker process: a still (a .npy file) in, an FFV1/Matroska file out.

The worker's film protocol (``restoration.engine.worker``) carries files, not frames: the job's
process decodes the still once and saves it as .npy, the worker renders the clip into the
archival file (lossless FFV1 in Matroska, RGB: the frames read back are bit-identical to the
ones rendered, which the per-frame MD5 manifest proves), and only the run record, the frame
count and the manifest cross the pipe. Memory is a few frames whatever the duration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..types import OpInputs, RunContext
from .op import Animate


def run_animate_request(
    message: dict[str, Any], progress: Callable[[int, int | None], None]
) -> dict[str, Any]:
    """``{"input_path": .npy, "output_path": .mkv, "params": {...}, "seed": int}`` →
    ``{"frames", "md5s", "record", "width", "height", "fps"}``."""
    image = np.load(message["input_path"], allow_pickle=False)
    op = Animate()
    clean = op.validate(message.get("params") or {})
    total = op.frame_count(clean)

    def report(fraction: float) -> None:
        progress(int(round(fraction * total)), total)

    ctx = RunContext(seed=int(message.get("seed") or 0), progress=report)
    animation, md5s = op.write(OpInputs(image), clean, ctx, str(message["output_path"]))
    return {
        "frames": animation.frame_count,
        "md5s": md5s,
        "record": animation.record,
        "width": animation.width,
        "height": animation.height,
        "fps": animation.record["output"]["fps"],
    }
