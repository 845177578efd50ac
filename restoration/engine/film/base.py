"""The film operation contract: frames stream in, frames stream out, memory bounded by a window.

A film operation is an object with

- ``name``, ``version``, ``kind`` (``"classical"`` or ``"ai"``; ``kind_for(params)`` when it
  depends on the parameters, as ``per_frame`` does), ``description``;
- ``params``: a tuple of :class:`~restoration.engine.params.ParamSpec` (plus the film-only
  types of this module: ``FpsParam``, ``JsonParam``), with ``json_schema()`` and
  ``validate(params)`` exactly as the still operations have them (idempotent, ``ParamError``
  naming the field);
- ``window(params) -> int``: frames of context the operation needs on each side of a frame
  (a chunk ``[a, b)`` is fed frames ``[a - window, b + window)``, clipped to the film, shot
  boundaries need no context across them);
- ``output_fps(meta, params) -> Fraction`` and ``output_size(meta, params, models=None) ->
  (w, h)``;
  ``output_frame_count(meta, params)`` (exact where the operation knows it, else an estimate:
  ``dedupe`` cannot know before it has looked);
- ``models_needed(params) -> {ctx.models key: model name or id}`` and
  ``artifacts_needed(params) -> {ctx.inputs role: artifact id}``: what the caller resolves
  before ``run`` (registered weights into ``ctx.models``, decoded RGB uint8 images into
  ``ctx.inputs``);
- ``footprint(meta, params) -> Footprint``: predicted peak working memory (bytes; it depends on
  the frame size and the window, never on the film's length) and the output frame shape;
- ``run(frames, meta, params, ctx) -> Iterator[np.ndarray]``: a generator. ``frames`` is any
  iterator of RGB uint8 ``HxWx3`` frames (``meta.height x meta.width``); it yields RGB uint8
  frames. It is lazy: nothing happens until the caller pulls, and it pulls input frames only as
  far as it needs. Between input frames it checks ``ctx.check_cancel()`` (``Cancelled``) and
  reports progress (``ctx.on_frame(n)`` with the number of input frames consumed so far, and
  ``ctx.report(fraction)`` when the frame count is known). When the generator is exhausted,
  ``ctx.analysis`` holds a JSON-able dict (cuts, dropped frames, per-frame measures, keyframe
  evidence, ...; every frame index in it is a *global* index of the input film) and
  ``ctx.record`` the run record (as still operations' records, with ``input``/``output`` film
  facts and ``facts`` = the analysis summary).

Chunks. ``meta.start`` is the global index of the first frame fed; ``meta.emit_start`` and
``meta.emit_stop`` (global, stop exclusive; ``None`` = the film's end) name the frames this run
is responsible for. Context frames outside that range are read, never emitted, and never
appear in the analysis: the outputs (and analyses, with ``merge_analysis``) of consecutive
chunks concatenate into exactly what one run over the whole film gives. A rate-changing
operation (``interpolate``, ``retime``) emits the output frames whose time ``k / out_fps`` falls
in ``[emit_start / fps, emit_stop / fps)``.

Shots. ``meta.shots`` is the tuple of global indices where a shot begins (``0`` first) when
they are known (from a previous ``scene_detect``), else ``None``: temporal operations then find
cuts on the fly with the same detector (``scene.CutDetector``). Temporal operations never mix
frames of two shots (``ShotTracker`` tells them where they are).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, ClassVar, Literal

import numpy as np

from ..operation import Footprint, _seed_everything, software_versions
from ..params import MAX_FPS, ParamSpec, fps_str, params_json_schema, validate_params
from ..params import FpsParam as FpsParam  # re-exported: the film operations take them here
from ..params import JsonParam as JsonParam
from ..params import parse_fps as parse_fps
from ..types import Availability, BadInputError, EngineEnv, ModelRef, RunContext

MAX_FRAME_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class FilmMeta:
    """What an operation knows about the film (or the chunk of it) that it is fed."""

    width: int
    height: int
    fps: Fraction
    frame_count: int | None = None  # frames in the whole film, when known
    time_base: Fraction | None = None  # of the source stream (for the caller's timestamps)
    shots: tuple[int, ...] | None = None  # global first frame of every shot; None: unknown
    start: int = 0  # global index of the first frame fed
    emit_start: int | None = None  # first global index this run emits (None: start)
    emit_stop: int | None = None  # one past the last (None: to the end)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", Fraction(self.fps))
        if self.time_base is not None:
            object.__setattr__(self, "time_base", Fraction(self.time_base))
        if self.shots is not None:
            object.__setattr__(self, "shots", tuple(sorted({int(s) for s in self.shots})))
        if self.width < 1 or self.height < 1 or self.width * self.height > MAX_FRAME_PIXELS:
            raise BadInputError(f"frame size {self.width}x{self.height} is out of range")
        if not 0 < self.fps <= MAX_FPS:
            raise BadInputError(f"frame rate {self.fps} is out of range (0, {MAX_FPS}]")

    @property
    def first_emitted(self) -> int:
        return self.start if self.emit_start is None else self.emit_start

    def emits(self, index: int) -> bool:
        """Whether the frame of global ``index`` is this run's to emit (not only context)."""
        if index < self.first_emitted:
            return False
        return self.emit_stop is None or index < self.emit_stop

    def emitted_count(self) -> int | None:
        """How many input frames this run is responsible for, when it is known."""
        stop = self.emit_stop if self.emit_stop is not None else self.frame_count
        if stop is None:
            return None
        return max(0, stop - self.first_emitted)

    def chunk(self, start: int, emit_start: int, emit_stop: int | None) -> FilmMeta:
        return replace(self, start=start, emit_start=emit_start, emit_stop=emit_stop)


def _noop_frames(done: int) -> None:
    return None


@dataclass
class FilmContext(RunContext):
    """A RunContext (seed, device, progress, cancel, models) plus what films need."""

    inputs: dict[str, np.ndarray] = field(default_factory=dict)  # resolved artifacts by role
    on_frame: Callable[[int], None] = _noop_frames  # input frames consumed so far
    analysis: dict[str, Any] = field(default_factory=dict)  # set by the operation
    record: dict[str, Any] = field(default_factory=dict)  # set when the run ends


# --- parameter types: frame rates and structured values live in ``engine.params`` (the
# portrait animation takes them too, and must not import the film package); re-exported here.


# --- the base class ----------------------------------------------------------------------


class FilmOperation(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    kind: ClassVar[Literal["classical", "ai"]] = "classical"
    description: ClassVar[str] = ""
    params: ClassVar[tuple[ParamSpec, ...]] = ()
    # Working memory per frame held in the window (as a multiple of one RGB uint8 frame) and
    # per frame pixel of float work; a fixed part for models and buffers.
    frames_held: ClassVar[float] = 4.0
    bytes_per_pixel: ClassVar[float] = 64.0
    fixed_bytes: ClassVar[int] = 32 * 2**20

    # -- schema and validation
    def json_schema(self) -> dict[str, Any]:
        schema = params_json_schema(self.params)
        schema["title"] = self.name
        schema["description"] = self.description
        return schema

    def validate(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return validate_params(self.params, params)

    def kind_for(self, params: Mapping[str, Any]) -> str:
        return self.kind

    def availability(self, env: EngineEnv) -> Availability:
        return Availability(True)

    def models_needed(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            p.name: params[p.name]
            for p in self.params
            if p.type == "model" and params.get(p.name) is not None
        }

    def artifacts_needed(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            p.name: params[p.name]
            for p in self.params
            if p.type == "artifact" and params.get(p.name) is not None
        }

    # -- shape of the work
    def window(self, params: Mapping[str, Any]) -> int:
        return 0

    def output_fps(self, meta: FilmMeta, params: Mapping[str, Any]) -> Fraction:
        return meta.fps

    def output_size(
        self,
        meta: FilmMeta,
        params: Mapping[str, Any],
        models: Mapping[str, ModelRef] | None = None,
    ) -> tuple[int, int]:
        """(width, height) of the output frames; ``models``: the resolved ``models_needed``
        (``per_frame`` with ``sr`` needs the model's scale)."""
        return meta.width, meta.height

    def output_frame_count(self, meta: FilmMeta, params: Mapping[str, Any]) -> int | None:
        """Frames this run emits (exact for 1:1 and rate-changing operations)."""
        n = meta.emitted_count()
        if n is None:
            return None
        out_fps = self.output_fps(meta, params)
        if out_fps == meta.fps:
            return n
        lo = meta.first_emitted
        hi = lo + n
        return len(output_times(lo, hi, meta.fps, out_fps))

    def footprint(self, meta: FilmMeta, params: Mapping[str, Any]) -> Footprint:
        w, h = self.output_size(meta, params)
        pixels = max(w * h, meta.width * meta.height)
        held = (2 * self.window(params) + 1 + self.frames_held) * pixels * 3
        peak = int(held + pixels * self.bytes_per_pixel) + self.fixed_bytes
        return Footprint(peak_bytes=peak, output_shape=(h, w, 3))

    # -- running
    def run(
        self,
        frames: Iterable[np.ndarray],
        meta: FilmMeta,
        params: Mapping[str, Any] | None,
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        clean = self.validate(params)
        _seed_everything(ctx.seed)
        ctx.analysis = {}
        ctx.record = {}
        started = time.perf_counter()
        counter = _Counter()
        out_w, out_h = self.output_size(meta, clean, ctx.models)
        emitted = 0
        for frame in self.process(_guard(frames, meta, ctx, counter), meta, clean, ctx):
            if frame.shape != (out_h, out_w, 3) or frame.dtype != np.uint8:
                raise RuntimeError(
                    f"{self.name} produced a {frame.shape} {frame.dtype} frame, "
                    f"expected ({out_h}, {out_w}, 3) uint8"
                )
            emitted += 1
            yield frame
        ctx.report(1.0)
        ctx.analysis.setdefault("frames_in", counter.emitted_in)
        ctx.analysis["frames_out"] = emitted
        ctx.record = self.run_record(meta, clean, ctx, time.perf_counter() - started)

    @abstractmethod
    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        """The operation proper: ``frames`` yields ``(global index, frame)`` pairs, already
        checked, with cancel and progress handled; emit only frames ``meta.emits`` allows."""

    def merge_analysis(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """Join the analyses of consecutive chunks: lists concatenate, counts add up, other
        values come from the first chunk that has them. Operations override when needed."""
        merged: dict[str, Any] = {}
        for part in parts:
            for key, value in part.items():
                if key not in merged:
                    merged[key] = list(value) if isinstance(value, list) else value
                elif isinstance(value, list):
                    merged[key].extend(value)
                elif (
                    isinstance(value, int | float)
                    and not isinstance(value, bool)
                    and key in self.summed_keys
                ):
                    merged[key] += value
        return merged

    summed_keys: ClassVar[frozenset[str]] = frozenset({"frames_in", "frames_out", "dropped_count"})

    def run_record(
        self, meta: FilmMeta, params: dict[str, Any], ctx: FilmContext, total_s: float
    ) -> dict[str, Any]:
        model = None
        for key in self.models_needed(params):
            if key in ctx.models:
                model = ctx.models[key].as_record()
        out_w, out_h = self.output_size(meta, params, ctx.models)
        facts = summarise(ctx.analysis)
        return {
            "operation": self.name,
            "version": self.version,
            "kind": self.kind_for(params),
            "params": params,
            "seed": ctx.seed,
            "device": ctx.device,
            "software": software_versions(),
            "model": model,
            "input": {
                "width": meta.width,
                "height": meta.height,
                "fps": fps_str(meta.fps),
                "frames": ctx.analysis.get("frames_in"),
                "start": meta.first_emitted,
            },
            "output": {
                "width": out_w,
                "height": out_h,
                "fps": fps_str(self.output_fps(meta, params)),
                "frames": ctx.analysis.get("frames_out"),
            },
            "timings": {"total_s": round(total_s, 4)},
            "facts": facts,
            "citations": list(ctx.analysis.get("citations", [])),
        }


class _Counter:
    def __init__(self) -> None:
        self.consumed = 0
        self.emitted_in = 0


def _guard(
    frames: Iterable[np.ndarray], meta: FilmMeta, ctx: FilmContext, counter: _Counter
) -> Iterator[tuple[int, np.ndarray]]:
    """Check every frame, number it globally, check cancel before and report after each."""
    total = meta.emitted_count()
    expected = (meta.height, meta.width, 3)
    index = meta.start
    for frame in frames:
        ctx.check_cancel()
        if not isinstance(frame, np.ndarray) or frame.shape != expected or frame.dtype != np.uint8:
            shape = getattr(frame, "shape", None)
            raise BadInputError(
                f"frame {index}: expected an RGB uint8 array of shape {expected}, got {shape}"
            )
        yield index, frame
        counter.consumed += 1
        if meta.emits(index):
            counter.emitted_in += 1
            ctx.on_frame(counter.emitted_in)
            if total:
                ctx.report(counter.emitted_in / total)
        index += 1
    ctx.check_cancel()


def summarise(analysis: Mapping[str, Any], max_items: int = 64) -> dict[str, Any]:
    """The analysis with long per-frame lists cut short (the whole analysis is stored apart)."""
    out: dict[str, Any] = {}
    for key, value in analysis.items():
        if isinstance(value, list) and len(value) > max_items:
            out[key] = {"count": len(value), "first": value[:max_items]}
        else:
            out[key] = value
    return out


def output_times(lo: int, hi: int, in_fps: Fraction, out_fps: Fraction) -> list[int]:
    """Output frame numbers k with k / out_fps in [lo / in_fps, hi / in_fps): exactly the
    frames a run over input frames [lo, hi) emits, so chunks never emit one twice."""
    ratio = Fraction(out_fps) / Fraction(in_fps)  # output frames per input frame
    first = math.ceil(lo * ratio)
    last = math.ceil(hi * ratio)  # exclusive
    return list(range(first, last))


def shots_from_cuts(cuts: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted({0, *(int(c) for c in cuts)}))


class ShotTracker:
    """Which shot a frame is in: from ``meta.shots`` when known, else by a streaming cut
    detector fed each frame in order (``scene.CutDetector``)."""

    def __init__(self, meta: FilmMeta, detector: Any | None = None) -> None:
        self.known = meta.shots
        self.detector = detector
        self.shot_start = meta.start
        self._last_index: int | None = None

    def is_cut(self, index: int, frame: np.ndarray) -> bool:
        """True when ``frame`` (global ``index``) begins a new shot; feed every frame once."""
        first = self._last_index is None
        self._last_index = index
        if self.known is not None:
            cut = index in self.known and not first
        elif self.detector is not None:
            cut = bool(self.detector.push(frame)) and not first
        else:
            cut = False
        if cut:
            self.shot_start = index
        return cut


def iter_chunks(
    op: FilmOperation,
    frames: list[np.ndarray],
    meta: FilmMeta,
    params: Mapping[str, Any],
    size: int,
    ctx_factory: Callable[[], FilmContext] = FilmContext,
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Run ``op`` over in-memory ``frames`` in chunks of ``size`` with the operation's window
    of overlap, and join outputs and analyses: for tests and benches of the chunk contract
    (the real chunking lives with the job runner)."""
    clean = op.validate(params)
    w = op.window(clean)
    n = len(frames)
    outs: list[np.ndarray] = []
    parts = []
    for a in range(0, n, size):
        b = min(n, a + size)
        lo, hi = max(0, a - w), min(n, b + w)
        ctx = ctx_factory()
        sub = meta.chunk(start=lo, emit_start=a, emit_stop=b)
        outs.extend(op.run(iter(frames[lo:hi]), sub, clean, ctx))
        parts.append(ctx.analysis)
    return outs, op.merge_analysis(parts)
