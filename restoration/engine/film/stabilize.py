"""`stabilize`: remove gate weave (the frame's small, quick shifts in the projector or scanner
gate) while keeping intended camera movement.

The shift of each frame against the previous one is measured by phase correlation (Kuglin &
Hines 1975; OpenCV's ``phaseCorrelate`` with a Hann window) on a grey copy of at most
``work_side`` px, refined by ECC (Evangelidis & Psarakis 2008, translation model) from there
(``method="phase_ecc"``, the default: phase correlation finds large shifts, ECC removes the
few tenths of a pixel of bias of its sub-pixel peak, which the path would add up), or by
either alone. Summing the shifts gives the frame's path within the shot; the intended
movement is that path smoothed by a centred Gaussian of ``sigma`` frames (within the shot:
never across a cut), and each frame is moved by (smoothed - path), so only the quick part goes.
Corrections are capped at ``max_shift`` px. The borders a shift uncovers are filled
(``border="edge"``, ``"black"``) or cut away: ``"crop"`` removes a margin of ``max_shift`` px on
every side (smaller frames), ``"zoom"`` removes it and scales back to the input size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

import cv2
import numpy as np

from ..params import ParamSpec
from ..types import ModelRef
from .base import FilmContext, FilmMeta, FilmOperation, ShotTracker
from .frames import CV, luma, shrink, work_scale
from .scene import detector_from


def measure_shift(
    prev: np.ndarray, cur: np.ndarray, method: str, window: np.ndarray
) -> tuple[float, float, float]:
    """(dx, dy, confidence) such that cur(x) ~ prev(x - d): the content moved by d."""
    a = prev.astype(np.float32)
    b = cur.astype(np.float32)
    dx = dy = 0.0
    response = 1.0
    if method in ("phase", "phase_ecc"):
        (dx, dy), response = cv2.phaseCorrelate(a, b, window)
        if method == "phase":
            return float(dx), float(dy), float(response)
    # ECC refines (or finds) the translation: phase correlation's sub-pixel peak is biased by
    # a few tenths of a pixel, which the smoothing would otherwise add up along the path.
    warp = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    try:
        cc, warp = CV.findTransformECC(
            a, b, warp, cv2.MOTION_TRANSLATION,
            (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4), None, 5,
        )  # fmt: skip
    except cv2.error:
        return float(dx), float(dy), 0.0
    return float(warp[0, 2]), float(warp[1, 2]), float(cc)


class Stabilize(FilmOperation):
    name = "stabilize"
    version = "1.0"
    description = (
        "Remove gate weave: frame-to-frame shifts by phase correlation (or ECC), the path "
        "smoothed within each shot, each frame moved by the quick part only; borders filled "
        "or cropped."
    )
    params = (
        ParamSpec("method", "str", default="phase_ecc", choices=("phase_ecc", "phase", "ecc")),
        ParamSpec(
            "sigma",
            "float",
            default=6.0,
            minimum=0.5,
            maximum=60.0,
            description="smoothing of the intended movement, in frames",
        ),
        ParamSpec(
            "max_shift",
            "int",
            default=12,
            minimum=1,
            maximum=256,
            description="largest correction (px); also the margin of crop and zoom",
        ),
        ParamSpec("border", "str", default="edge", choices=("edge", "black", "crop", "zoom")),
        ParamSpec("work_side", "int", default=640, minimum=64, maximum=8192),
        ParamSpec("cut_threshold", "float", default=0.55, minimum=0.05, maximum=5.0),
    )
    frames_held = 2.0
    bytes_per_pixel = 16.0

    def window(self, params: Mapping[str, Any]) -> int:
        return int(np.ceil(3 * float(params.get("sigma", 6.0))))

    def output_size(
        self,
        meta: FilmMeta,
        params: Mapping[str, Any],
        models: Mapping[str, ModelRef] | None = None,
    ) -> tuple[int, int]:
        if params.get("border") == "crop":
            m = int(params["max_shift"])
            return max(1, meta.width - 2 * m), max(1, meta.height - 2 * m)
        return meta.width, meta.height

    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        radius = self.window(params)
        sigma = params["sigma"]
        cap = float(params["max_shift"])
        scale = work_scale(meta.width, meta.height, params["work_side"])
        tracker = ShotTracker(meta, detector_from(params))
        prev_small: np.ndarray | None = None
        hann: np.ndarray | None = None
        pos = np.zeros(2)
        shot = 0
        # (index, shot, path position, frame) of frames within reach.
        buf: deque[tuple[int, int, np.ndarray, np.ndarray]] = deque()
        corrections: list[list[float]] = []
        shifts: list[list[float]] = []
        responses: list[float] = []
        out_w, out_h = self.output_size(meta, params)

        def emit_one() -> Iterator[np.ndarray]:
            index, s, p, frame = buf[0]
            num = np.zeros(2)
            den = 0.0
            for j, sj, pj, _ in buf:
                if sj != s or abs(j - index) > radius:
                    continue
                wgt = float(np.exp(-0.5 * ((j - index) / sigma) ** 2))
                num += wgt * pj
                den += wgt
            corr = np.clip(num / den - p, -cap, cap)
            buf.popleft()
            if not meta.emits(index):
                return
            corrections.append([round(float(corr[0]), 3), round(float(corr[1]), 3)])
            yield self._move(frame, corr, params["border"], cap, out_w, out_h)

        for index, frame in frames:
            small = shrink(luma(frame), scale)
            if hann is None:
                hann = cv2.createHanningWindow((small.shape[1], small.shape[0]), cv2.CV_32F)
            if tracker.is_cut(index, frame) or prev_small is None:
                if prev_small is not None:
                    shot += 1
                pos = np.zeros(2)
                d = (0.0, 0.0, 1.0)
            else:
                d = measure_shift(prev_small, small, params["method"], hann)
            step = np.array(d[:2]) / scale
            pos = pos + step
            prev_small = small
            if meta.emits(index):
                shifts.append([round(float(step[0]), 3), round(float(step[1]), 3)])
                responses.append(round(d[2], 3))
            buf.append((index, shot, pos.copy(), frame))
            while buf and buf[0][0] <= index - radius:
                yield from emit_one()
        while buf:
            yield from emit_one()
        corr_arr = np.asarray(corrections) if corrections else np.zeros((0, 2))
        ctx.analysis = {
            "shifts": shifts,
            "corrections": corrections,
            "responses": responses,
            "weave_rms_px": round(
                float(np.sqrt((corr_arr**2).sum(1).mean())) if len(corr_arr) else 0.0, 3
            ),
            "max_correction_px": round(float(np.abs(corr_arr).max()) if len(corr_arr) else 0.0, 3),
        }

    @staticmethod
    def _move(
        frame: np.ndarray, corr: np.ndarray, border: str, cap: float, out_w: int, out_h: int
    ) -> np.ndarray:
        h, w = frame.shape[:2]
        m = np.array([[1, 0, corr[0]], [0, 1, corr[1]]], np.float32)
        mode = cv2.BORDER_CONSTANT if border == "black" else cv2.BORDER_REPLICATE
        moved = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=mode)
        if border in ("crop", "zoom"):
            c = int(cap)
            inner = moved[c : h - c, c : w - c] if h > 2 * c and w > 2 * c else moved
            if border == "zoom":
                return cv2.resize(inner, (w, h), interpolation=cv2.INTER_CUBIC)
            return np.ascontiguousarray(
                cv2.resize(inner, (out_w, out_h)) if inner.shape[:2] != (out_h, out_w) else inner
            )
        return moved
