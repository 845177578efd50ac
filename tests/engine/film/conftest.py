"""Film engine tests: the real clip of the corpus, decoded once with PyAV; no database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from restoration.engine.film import FilmContext, FilmMeta

SHARED = Path(__file__).resolve().parents[4] / "shared"
CLIP = SHARED / "corpus" / "film" / "abomb.mp4"
KEYFRAMES = SHARED / "corpus" / "film" / "abomb_keyframes"
RIFE = SHARED / "models" / "rife-hdv3.safetensors"
# The clip's shots, checked by eye: soldier, road sign, trucks, soldiers walking.
CUTS = (44, 134, 299)


@pytest.fixture(scope="session")
def clip() -> list[np.ndarray]:
    """All 360 frames of abomb.mp4, RGB uint8 (320x432)."""
    av = pytest.importorskip("av")
    if not CLIP.is_file():
        pytest.skip(f"the corpus clip {CLIP} is absent")
    with av.open(str(CLIP)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    for f in frames:
        f.flags.writeable = False
    return frames


@pytest.fixture(scope="session")
def deduped(clip: list[np.ndarray]) -> list[np.ndarray]:
    """The clip without its repeated frames (every 5th, from frame 3: see test_dedupe)."""
    return [f for i, f in enumerate(clip) if i % 5 != 3]


def keyframe(number: int) -> np.ndarray:
    from PIL import Image

    path = KEYFRAMES / f"{number:07d}_out.png"
    if not path.is_file():
        pytest.skip(f"the corpus keyframe {path} is absent")
    return np.asarray(Image.open(path).convert("RGB"))


def meta_for(frames: list[np.ndarray], fps: object = 24, **kw: object) -> FilmMeta:
    h, w = frames[0].shape[:2]
    return FilmMeta(width=w, height=h, fps=fps, frame_count=len(frames), **kw)  # type: ignore[arg-type]


def run_op(op, frames, meta, params, ctx=None):  # type: ignore[no-untyped-def]
    ctx = ctx or FilmContext()
    out = list(op.run(iter(frames), meta, params, ctx))
    return out, ctx


def counting(frames: list[np.ndarray], pulled: list[int]) -> Iterator[np.ndarray]:
    for f in frames:
        pulled[0] += 1
        yield f
