"""`interpolate`: a new frame rate (any ratio: 16 -> 24, 18 -> 25, 24000/1001), new frames built
from their two neighbours along motion; `retime` shares the timing rule.

Timing. Output frame k stands at time k / out_fps, i.e. at input position p = k · fps_in /
fps_out; with i = floor(p) and τ = p - i it is frame i when τ = 0, else built from frames i and
i+1 at τ. Never across a cut: when i and i+1 lie in different shots, frame i is shown (the
new shot starts at the first output time at or after its own; recorded in the analysis).

Weight-free default (``method="dis"``): OpenCV's DIS optical flow both ways, F01 and F10 (on a
copy of at most ``flow_side`` px, scaled back), the flows from the new frame's time to each
neighbour approximated from them as in Super SloMo (Jiang et al. 2018):
  F_t0 = -(1-τ)τ F01 + τ² F10,  F_t1 = (1-τ)² F01 - τ(1-τ) F10,
both neighbours warped backward to time t, and blended with weights (1-τ)·v0 and τ·v1 where
v is a visibility from the forward-backward consistency of each flow (a pixel whose flow does
not come back is occluded in the other frame, so that frame gives it less). With
``method="rife"`` the RIFE HD v3 network (registered weights, ``model``) gives the flows and
the blending mask (see ``rife``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any

import cv2
import numpy as np

from ..params import ParamSpec
from ..types import Availability, EngineEnv, ParamError
from .base import FilmContext, FilmMeta, FilmOperation, FpsParam, ShotTracker, parse_fps
from .frames import consistency, dense_flow, luma, warp
from .scene import CutDetector, detector_from

MAX_RATIO = 16  # output frames per input frame at most


def blend(a: np.ndarray, b: np.ndarray, tau: float) -> np.ndarray:
    return cv2.addWeighted(a, 1.0 - tau, b, tau, 0.0)


class DisInterpolator:
    """Bidirectional DIS flow interpolation; flows are computed once per frame pair."""

    def __init__(self, flow_side: int = 720, preset: str = "medium") -> None:
        self.flow_side = flow_side
        self.preset = preset
        self._pair: tuple[int, int] | None = None
        self._flows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def _prepare(self, key: tuple[int, int], f0: np.ndarray, f1: np.ndarray) -> None:
        if self._pair == key and self._flows is not None:
            return
        g0, g1 = luma(f0), luma(f1)
        f01 = dense_flow(g0, g1, self.preset, self.flow_side)
        f10 = dense_flow(g1, g0, self.preset, self.flow_side)
        # Visibility: 1 where the flow comes back to where it started, falling off by ~2 px.
        e0 = consistency(f01, f10)
        e1 = consistency(f10, f01)
        v0 = 1.0 / (1.0 + (e0 / 2.0) ** 2)
        v1 = 1.0 / (1.0 + (e1 / 2.0) ** 2)
        self._pair = key
        self._flows = (f01, f10, v0.astype(np.float32), v1.astype(np.float32))

    def __call__(
        self, key: tuple[int, int], f0: np.ndarray, f1: np.ndarray, tau: float
    ) -> np.ndarray:
        self._prepare(key, f0, f1)
        assert self._flows is not None
        f01, f10, v0, v1 = self._flows
        t = float(tau)
        ft0 = -(1.0 - t) * t * f01 + t * t * f10
        ft1 = (1.0 - t) ** 2 * f01 - t * (1.0 - t) * f10
        w0 = warp(f0.astype(np.float32), ft0)
        w1 = warp(f1.astype(np.float32), ft1)
        # Visibility of each source pixel, carried to time t along the same flows.
        vis0 = warp(v0, ft0)
        vis1 = warp(v1, ft1)
        a = (1.0 - t) * (vis0 + 1e-3)
        b = t * (vis1 + 1e-3)
        out = (w0 * a[..., None] + w1 * b[..., None]) / (a + b)[..., None]
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def check_ratio(meta: FilmMeta, out_fps: Fraction, name: str = "fps") -> None:
    if out_fps / meta.fps > MAX_RATIO:
        raise ParamError(name, f"at most {MAX_RATIO}x the input rate ({meta.fps}), got {out_fps}")


def resample(
    frames: Iterator[tuple[int, np.ndarray]],
    meta: FilmMeta,
    out_fps: Fraction,
    ctx: FilmContext,
    make: Any,
    tracker: ShotTracker,
    *,
    hold: bool = False,
) -> Iterator[np.ndarray]:
    """Emit the output frames k whose position p = k·fps/out_fps falls in this run's emitted
    range, from a two-frame window. ``make(key, f0, f1, tau)`` builds an in-between frame;
    with ``hold`` the earlier frame is shown instead (a projector's gate)."""
    ratio = Fraction(meta.fps) / Fraction(out_fps)  # input frames per output frame
    k = math.ceil(meta.first_emitted / ratio)
    prev: tuple[int, np.ndarray] | None = None
    built = 0
    repeated_at_cuts: list[int] = []
    emitted = 0
    first_k = k
    for index, frame in frames:
        is_cut = tracker.is_cut(index, frame)
        if prev is not None:
            i0, f0 = prev
            # Output frames between prev (i0) and this frame (index = i0 + 1).
            while k * ratio < index:
                p = k * ratio
                if p < i0:
                    k += 1
                    continue
                if not meta.emits(math.floor(p)):
                    if meta.emit_stop is not None and p >= meta.emit_stop:
                        break
                    k += 1
                    continue
                tau = float(p - i0)
                if tau == 0.0:
                    yield f0
                elif hold:
                    yield f0  # the frame still on the gate
                elif is_cut:
                    # The ending shot's last frame stays until the new shot is due: the cut
                    # keeps its time exactly, and a chunk cut at the shot boundary (no
                    # frame after it) gives the same frames.
                    repeated_at_cuts.append(k)
                    yield f0
                else:
                    built += 1
                    yield make((i0, index), f0, frame, tau)
                emitted += 1
                k += 1
        prev = (index, frame)
    # The last frame of the film (or chunk): output frames at exactly its position, and, at the
    # film's very end, those within its display time (held, there is no next frame).
    if prev is not None:
        i0, f0 = prev
        end = meta.emit_stop if meta.emit_stop is not None else i0 + 1
        while k * ratio < end and k * ratio < i0 + 1:
            if k * ratio >= i0 and meta.emits(math.floor(k * ratio)):
                yield f0
                emitted += 1
            k += 1
    ctx.analysis.update(
        {
            "output_fps": f"{out_fps.numerator}/{out_fps.denominator}",
            "first_output_frame": first_k,
            "built": built,
            "repeated_at_cuts": repeated_at_cuts,
        }
    )


class Interpolate(FilmOperation):
    name = "interpolate"
    version = "1.0"
    description = (
        "Change the frame rate to any target (16->24, 18->25, '24000/1001'), building new "
        "frames from their neighbours along motion: DIS optical flow both ways with occlusion "
        "weighting by default, or the RIFE HD v3 network with registered weights (`model`). "
        "Never blends across a cut."
    )
    params = (
        FpsParam("fps", "str", required=True, description="target rate: a number or 'num/den'"),
        ParamSpec("method", "str", default="dis", choices=("dis", "rife", "blend")),
        ParamSpec(
            "model", "model", description="RIFE weights (purpose interpolate); implies method rife"
        ),
        ParamSpec(
            "flow_side",
            "int",
            default=720,
            minimum=64,
            maximum=8192,
            description="DIS: largest side of the copy the flow is computed on",
        ),
        ParamSpec("cut_threshold", "float", default=0.55, minimum=0.05, maximum=5.0),
    )
    frames_held = 3.0
    bytes_per_pixel = 120.0

    def validate(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        clean = super().validate(params)
        if clean.get("model") is not None:
            if "method" in (params or {}) and clean["method"] != "rife":
                raise ParamError("method", "a model is only used with method 'rife'")
            clean["method"] = "rife"
        elif clean["method"] == "rife":
            raise ParamError("model", "method 'rife' needs registered RIFE weights")
        return clean

    def kind_for(self, params: Mapping[str, Any]) -> str:
        return "ai" if params.get("method") == "rife" else "classical"

    def availability(self, env: EngineEnv) -> Availability:
        return Availability(True)

    def window(self, params: Mapping[str, Any]) -> int:
        return 1

    def output_fps(self, meta: FilmMeta, params: Mapping[str, Any]) -> Fraction:
        return parse_fps(params["fps"])

    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        out_fps = parse_fps(params["fps"])
        check_ratio(meta, out_fps)
        method = params["method"]
        if method == "rife":
            from .rife import RifeInterpolator

            make: Any = RifeInterpolator(ctx.model("model"), ctx.device)
        elif method == "dis":
            make = DisInterpolator(params["flow_side"])
        else:
            make = lambda key, a, b, tau: blend(a, b, tau)  # noqa: E731
        detector: CutDetector = detector_from(params)
        tracker = ShotTracker(meta, detector)
        yield from resample(frames, meta, out_fps, ctx, make, tracker)
        ctx.analysis["method"] = method
