"""Small synthetic films for the film tests (a few frames, small sizes: fast)."""

from __future__ import annotations

import io
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image


def frames(n: int = 12, size: tuple[int, int] = (64, 48), seed: int = 0) -> list[np.ndarray]:
    """Moving content (a bright square crossing a textured ground), distinct per seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    ground = rng.integers(40, 120, size=(h, w, 3), dtype=np.uint8)
    out = []
    for i in range(n):
        f = ground.copy()
        x = (i * 3) % max(1, w - 10)
        f[10:20, x : x + 10] = (230, 200, 40)
        out.append(f)
    return out


def write(
    path: Path,
    n: int = 12,
    *,
    fps: Fraction = Fraction(24),
    codec: str = "ffv1",
    seed: int = 0,
    size: tuple[int, int] = (64, 48),
    audio: bool = False,
) -> Path:
    import av

    from restoration.engine.video import VideoWriter

    source = None
    if audio:
        source = path.with_suffix(".audio.mka")
        tone(source, seconds=float(n / fps) + 0.5)
    with VideoWriter(
        path, width=size[0], height=size[1], fps=fps, codec=codec, audio_from=source
    ) as writer:
        for frame in frames(n, size, seed):
            writer.write(frame)
    del av
    return path


def tone(path: Path, *, seconds: float, rate: int = 48000) -> Path:
    """A 440 Hz tone in AAC (Matroska audio) to carry along."""
    import av

    out = av.open(str(path), "w", format="matroska")
    stream = out.add_stream("aac", rate=rate)
    stream.layout = "mono"
    samples = int(seconds * rate)
    t = np.arange(samples) / rate
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    step = 1024
    for i in range(0, samples, step):
        chunk = pcm[i : i + step][None, :]
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = i
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    return path


def frames_zip(n: int = 6, fmt: str = "PNG", seed: int = 0, size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, frame in enumerate(frames(n, size, seed)):
            img = io.BytesIO()
            Image.fromarray(frame).save(img, format=fmt)
            ext = "png" if fmt == "PNG" else "tif"
            # Numbers compared as numbers: frame_9 before frame_10.
            zf.writestr(f"reel/frame_{i + 1}.{ext}", img.getvalue())
    return buf.getvalue()
