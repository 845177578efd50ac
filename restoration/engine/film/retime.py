"""`retime`: play a film at its true speed.

A silent film shot at 16 fps and transferred frame for frame into a 24 or 29.97 fps file plays
too fast (24/16 = 1.5x). `retime` gives every input frame its true duration, 1 / ``true_fps``,
and then either keeps that rate (``fps`` absent: the frames pass unchanged, only the rate
changes) or delivers at a standard rate ``fps`` as a projector or a step printer does: each
output time shows the frame on the gate at that moment (``method="repeat"``, e.g. 16 -> 24
shows the frames 2, 1, 2, 1, ... times), a cross-fade (``blend``) or frames built along motion
(``dis``, as ``interpolate``). Run ``dedupe`` first when the transfer repeated frames.
Audio recorded with the transfer (not with the film) no longer matches: the analysis gives the
speed factor (input rate / true rate) for the caller to stretch it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

from ..params import ParamSpec
from .base import FilmContext, FilmMeta, FilmOperation, FpsParam, ShotTracker, fps_str, parse_fps
from .interpolate import DisInterpolator, blend, check_ratio, resample
from .scene import detector_from


def _blend(key: tuple[int, int], a: np.ndarray, b: np.ndarray, tau: float) -> np.ndarray:
    return blend(a, b, tau)


class Retime(FilmOperation):
    name = "retime"
    version = "1.0"
    description = (
        "Play a film at its true speed: every frame lasts 1/true_fps (e.g. 16 fps silent film "
        "transferred at 24), optionally delivered at a standard rate by repeating frames as a "
        "projector does, cross-fading, or building frames along motion (DIS)."
    )
    params = (
        FpsParam("true_fps", "str", required=True, description="the rate the film was shot at"),
        FpsParam("fps", "str", description="delivery rate (default: true_fps itself)"),
        ParamSpec("method", "str", default="repeat", choices=("repeat", "blend", "dis")),
        ParamSpec("cut_threshold", "float", default=0.55, minimum=0.05, maximum=5.0),
    )
    frames_held = 3.0

    def window(self, params: Mapping[str, Any]) -> int:
        return 1

    def output_fps(self, meta: FilmMeta, params: Mapping[str, Any]) -> Fraction:
        return parse_fps(params.get("fps") or params["true_fps"])

    def output_frame_count(self, meta: FilmMeta, params: Mapping[str, Any]) -> int | None:
        true = replace(meta, fps=parse_fps(params["true_fps"]))
        return super().output_frame_count(true, params)

    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        true_fps = parse_fps(params["true_fps"])
        out_fps = self.output_fps(meta, params)
        true_meta = replace(meta, fps=true_fps)
        check_ratio(true_meta, out_fps)
        method = params["method"]
        make: Any = DisInterpolator() if method == "dis" else _blend
        tracker = ShotTracker(meta, detector_from(params))
        yield from resample(frames, true_meta, out_fps, ctx, make, tracker, hold=method == "repeat")
        ctx.analysis.update(
            {
                "true_fps": fps_str(true_fps),
                "input_fps": fps_str(meta.fps),
                "speed_factor": float(meta.fps / true_fps),
                "method": method,
            }
        )
