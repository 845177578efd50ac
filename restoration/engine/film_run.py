"""Running film operations on files, in the engine worker process (no Django).

``run_film_chunk`` streams frames ``[read_start, read_stop)`` of a video through a film operation
(``restoration.engine.film``) into an FFV1/Matroska file, holding only the operation's window:
memory does not grow with the film. ``join_parts`` concatenates chunk outputs (lossless, frame
for frame) and carries the source's audio along when the film kept its duration.
``film_change_summary`` says what a film step changed: frames changed, PSNR/SSIM on a sample of
frames, and a strip of before/after thumbnails (JPEG bytes).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .video import VideoWriter, frame_md5, read_frames

SUMMARY_VERSION = 1


def _test_operations() -> dict[str, Any]:
    if os.environ.get("ARCHIVE_ENGINE_TEST_OPS") != "1":
        return {}
    from .film_testing import TEST_FILM_OPERATIONS

    return {cls.name: cls() for cls in TEST_FILM_OPERATIONS}


def film_operation(name: str) -> Any:
    """A film operation by name: the registry of ``restoration.engine.film``, plus the test
    suite's own (``film_testing``) where ``ARCHIVE_ENGINE_TEST_OPS=1``."""
    from .film import get_film_operation

    tests = _test_operations()
    if isinstance(name, str) and name in tests:
        return tests[name]
    return get_film_operation(name)


def film_operation_names() -> list[str]:
    from .film import FILM_OPERATIONS

    return sorted({*FILM_OPERATIONS.keys(), *_test_operations()})


def plan_chunks(
    frame_count: int, *, shots: Sequence[int] | None, window: int, size: int
) -> list[tuple[int, int, int, int]]:
    """``(read_start, read_stop, emit_start, emit_stop)`` for each chunk of a film of
    ``frame_count`` frames: about ``size`` frames each, cut at shot boundaries where there are
    any (a shot longer than ``size`` is cut by length), with ``window`` frames of context read
    on each side (none across a known cut: temporal operations never blend across one)."""
    if frame_count <= 0:
        return []
    bounds = sorted({0, *(int(s) for s in (shots or ()) if 0 < int(s) < frame_count)})
    bounds.append(frame_count)
    cuts: list[int] = [0]
    for b in bounds[1:]:
        last = cuts[-1]
        if b - last > size:
            # Split a long stretch into even parts, then cut at the shot boundary b.
            pieces = -(-(b - last) // size)
            step = (b - last) / pieces
            cuts += [last + round(step * i) for i in range(1, pieces)]
            cuts.append(b)
        elif b == frame_count or b - last >= size // 2:
            cuts.append(b)
        # else: merge a short shot into the next chunk
    if cuts[-1] != frame_count:
        cuts.append(frame_count)
    cuts = sorted(set(cuts))
    shot_set = set(bounds)
    plan = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        lo = a if a in shot_set else max(0, a - window)
        hi = b if b in shot_set else min(frame_count, b + window)
        plan.append((lo, hi, a, b))
    return plan


@dataclass
class ChunkSpec:
    """One run of a film operation over part of a film (global frame indices)."""

    op: str
    params: dict[str, Any]
    input_path: str
    output_path: str
    width: int
    height: int
    fps: str  # "num/den"
    frame_count: int | None
    shots: list[int] | None = None
    read_start: int = 0
    read_stop: int | None = None
    emit_start: int = 0
    emit_stop: int | None = None
    seed: int = 0
    device: str = "cpu"
    models: Mapping[str, Any] = field(default_factory=dict)
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    mtcnn_dir: Any = None  # face detection files, for per_frame over face_restore


@dataclass
class ChunkResult:
    frames: int  # frames written (0: no file)
    md5s: list[str]
    analysis: dict[str, Any]
    record: dict[str, Any]
    width: int
    height: int
    fps: str


def _fraction(text: str) -> Fraction:
    num, _, den = str(text).partition("/")
    return Fraction(int(num), int(den or 1))


def run_film_chunk(
    spec: ChunkSpec,
    *,
    progress: Callable[[int, int | None], None] = lambda done, total: None,
    should_cancel: Callable[[], bool] = lambda: False,
) -> ChunkResult:
    """Run ``spec.op`` over the chunk; writes ``spec.output_path`` unless no frame came out."""
    from .film import FilmContext, FilmMeta

    op = film_operation(spec.op)
    params = op.validate(spec.params)
    fps = _fraction(spec.fps)
    meta = FilmMeta(
        width=spec.width,
        height=spec.height,
        fps=fps,
        frame_count=spec.frame_count,
        shots=tuple(spec.shots) if spec.shots is not None else None,
        start=spec.read_start,
        emit_start=spec.emit_start,
        emit_stop=spec.emit_stop,
    )
    total = meta.emitted_count()
    ctx = FilmContext(
        seed=spec.seed,
        device=spec.device,
        should_cancel=should_cancel,
        models=dict(spec.models),
        inputs=dict(spec.inputs),
        mtcnn_dir=spec.mtcnn_dir,
        on_frame=lambda n: progress(n, total),
    )
    out_fps = op.output_fps(meta, params)
    out_w, out_h = op.output_size(meta, params)
    frames = read_frames(spec.input_path, start=spec.read_start, stop=spec.read_stop, fps=fps)
    writer: VideoWriter | None = None
    try:
        for frame in op.run(frames, meta, params, ctx):
            if writer is None:
                writer = VideoWriter(
                    spec.output_path, width=out_w, height=out_h, fps=out_fps, codec="ffv1"
                )
            writer.write(frame, keep_hash=True)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()
    written, md5s = 0, []
    if writer is not None:
        writer.close()
        written, md5s = writer.frames, writer.md5s
    return ChunkResult(
        frames=written,
        md5s=md5s,
        analysis=ctx.analysis,
        record=ctx.record,
        width=out_w,
        height=out_h,
        fps=f"{out_fps.numerator}/{out_fps.denominator}",
    )


def merge_analyses(op_name: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    return film_operation(op_name).merge_analysis(parts)


def join_parts(
    parts: list[str],
    output_path: str,
    *,
    width: int,
    height: int,
    fps: str,
    audio_from: str | None = None,
    progress: Callable[[int], None] = lambda done: None,
) -> dict[str, Any]:
    """Concatenate chunk outputs (FFV1, decoded and re-encoded: lossless) into one file, with
    the audio of ``audio_from`` carried along. Returns frames and their hashes."""
    rate = _fraction(fps)
    md5s: list[str] = []
    with VideoWriter(
        output_path, width=width, height=height, fps=rate, codec="ffv1", audio_from=audio_from
    ) as writer:
        for part in parts:
            for frame in read_frames(part, fps=rate):
                writer.write(frame, keep_hash=True)
                if writer.frames % 25 == 0:
                    progress(writer.frames)
        md5s = writer.md5s
        count = writer.frames
    return {"frames": count, "md5s": md5s}


# --- change summary ------------------------------------------------------------------------


def _source_index(k: int, out_fps: Fraction, in_fps: Fraction, in_count: int) -> int:
    """The input frame shown at the time of output frame ``k`` (nearest, clipped)."""
    return min(
        max(0, in_count - 1), int(math.floor(Fraction(k) / out_fps * in_fps + Fraction(1, 2)))
    )


def film_change_summary(
    before: str,
    after: str,
    *,
    in_fps: str,
    out_fps: str,
    in_count: int,
    out_count: int,
    samples: int = 24,
    strip: int = 8,
    thumb_height: int = 72,
    dropped: list[int] | None = None,
) -> tuple[dict[str, Any], bytes | None]:
    """What a film step changed. Frames are matched by time (output frame ``k`` against the
    input frame shown at ``k / out_fps``), so rate changes compare like with like.

    ``frames_changed`` counts output frames not bit-identical to their matched input frame (a
    full pass over both files, a frame at a time); PSNR and SSIM (luma) are measured on
    ``samples`` frames spread evenly; the strip is ``strip`` pairs (before above, after below)
    as one JPEG. Frames of different sizes are compared after resizing the input."""
    import cv2
    from skimage.metrics import structural_similarity

    fin, fout = _fraction(in_fps), _fraction(out_fps)
    sample_at = (
        set(
            np.linspace(0, max(0, out_count - 1), num=min(samples, out_count))
            .round()
            .astype(int)
            .tolist()
        )
        if out_count
        else set()
    )
    strip_at = (
        set(
            np.linspace(0, max(0, out_count - 1), num=min(strip, out_count))
            .round()
            .astype(int)
            .tolist()
        )
        if out_count
        else set()
    )
    inputs = read_frames(before, fps=fin)
    current_index = -1
    current: np.ndarray | None = None
    changed = 0
    measured: list[dict[str, Any]] = []
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    k = -1
    # A step that drops frames at the same rate (dedupe) is compared frame for kept frame.
    kept: Iterator[int] | None = None
    if dropped is not None and fin == fout:
        gone = set(dropped)
        kept = (i for i in range(in_count) if i not in gone)
    for k, out_frame in enumerate(read_frames(after, fps=fout)):
        want = (
            next(kept, in_count - 1) if kept is not None else _source_index(k, fout, fin, in_count)
        )
        while current_index < want:
            nxt = next(inputs, None)
            if nxt is None:
                break
            current, current_index = nxt, current_index + 1
        if current is None:
            break
        ref = current
        if ref.shape != out_frame.shape:
            ref = cv2.resize(
                ref, (out_frame.shape[1], out_frame.shape[0]), interpolation=cv2.INTER_AREA
            )
        same = ref.shape == out_frame.shape and np.array_equal(ref, out_frame)
        if not same:
            changed += 1
        if k in sample_at:
            a = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY).astype(np.float64)
            b = cv2.cvtColor(out_frame, cv2.COLOR_RGB2GRAY).astype(np.float64)
            mse = float(np.mean((a - b) ** 2))
            psnr = None if mse <= 1e-12 else round(10 * math.log10(255.0**2 / mse), 3)
            side = min(a.shape)
            win = min(7, side if side % 2 else side - 1)
            ssim = (
                round(float(structural_similarity(a, b, data_range=255.0, win_size=win)), 5)
                if win >= 3
                else None
            )
            measured.append({"frame": k, "source_frame": want, "psnr_db": psnr, "ssim": ssim})
        if k in strip_at:
            pairs.append((_thumb(ref, thumb_height), _thumb(out_frame, thumb_height)))
    close = getattr(inputs, "close", None)
    if close is not None:
        close()
    psnrs = [m["psnr_db"] for m in measured if m["psnr_db"] is not None]
    ssims = [m["ssim"] for m in measured if m["ssim"] is not None]
    summary = {
        "version": SUMMARY_VERSION,
        "kind": "film",
        "frames_in": in_count,
        "frames_out": k + 1,
        "fps_in": in_fps,
        "fps_out": out_fps,
        "frames_changed": changed,
        "frames_identical": (k + 1) - changed,
        "identical": changed == 0 and in_count == k + 1,
        "sample": measured,
        "psnr_db_mean": round(sum(psnrs) / len(psnrs), 3) if psnrs else None,
        "psnr_db_min": min(psnrs) if psnrs else None,
        "ssim_mean": round(sum(ssims) / len(ssims), 5) if ssims else None,
        "ssim_min": min(ssims) if ssims else None,
        "strip_frames": sorted(strip_at),
        "matched_by": "kept frames" if kept is not None else "time",
    }
    return summary, _strip_jpeg(pairs)


def _thumb(frame: np.ndarray, height: int) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    width = max(1, round(w * height / h))
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def _strip_jpeg(pairs: list[tuple[np.ndarray, np.ndarray]]) -> bytes | None:
    if not pairs:
        return None
    from PIL import Image

    gap = 2
    width = sum(a.shape[1] for a, _ in pairs) + gap * (len(pairs) - 1)
    height = pairs[0][0].shape[0] * 2 + gap
    canvas = np.full((height, width, 3), 24, np.uint8)
    x = 0
    for a, b in pairs:
        h = a.shape[0]
        canvas[:h, x : x + a.shape[1]] = a
        canvas[h + gap : h + gap + b.shape[0], x : x + b.shape[1]] = b
        x += a.shape[1] + gap
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def frames_md5(path: str, fps: str | None = None) -> Iterator[str]:
    for frame in read_frames(path, fps=_fraction(fps) if fps else None):
        yield frame_md5(frame)


def remove_quietly(path: str | None) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
