"""`scene_detect`: shot boundaries (hard cuts), and the streaming detector other temporal
operations use so that they never blend across a cut.

Each frame is reduced to a 64x48 grey thumbnail normalised to zero mean and unit variance, so a
flicker (a change of exposure of the whole frame) is not a cut, and its 32-bin histogram. The
score of a frame is the mean absolute difference of its thumbnail and the previous one's plus
half the histogram distance (total variation). A frame begins a new shot when its score is
above ``threshold`` and ``ratio`` times the median of the previous ``history`` scores (fast
motion inside a shot raises the median, so only a real break stands out).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

import cv2
import numpy as np

from ..params import ParamSpec
from .base import FilmContext, FilmMeta, FilmOperation
from .frames import luma

THUMB = (64, 48)


class CutDetector:
    """Feed frames in order with ``push``; it answers whether each begins a new shot."""

    def __init__(self, threshold: float = 0.55, ratio: float = 3.0, history: int = 8) -> None:
        self.threshold = threshold
        self.ratio = ratio
        self.scores: deque[float] = deque(maxlen=history)
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.last_score = 0.0

    @staticmethod
    def features(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grey = luma(frame) if frame.ndim == 3 else frame
        thumb = cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
        thumb = (thumb - thumb.mean()) / (thumb.std() + 2.0)
        hist = cv2.calcHist([grey], [0], None, [32], [0, 256]).ravel()
        return thumb, hist / max(1.0, float(hist.sum()))

    def push(self, frame: np.ndarray) -> bool:
        feats = self.features(frame)
        if self.prev is None:
            self.prev = feats
            self.last_score = 0.0
            return False
        score = float(np.abs(feats[0] - self.prev[0]).mean()) + 0.5 * float(
            0.5 * np.abs(feats[1] - self.prev[1]).sum()
        )
        self.prev = feats
        self.last_score = score
        base = float(np.median(self.scores)) if self.scores else 0.0
        cut = score > self.threshold and score > self.ratio * base
        # A cut does not enter the history: the next shot's motion sets its own baseline.
        if not cut:
            self.scores.append(score)
        else:
            self.scores.clear()
        return cut


_DETECT_PARAMS = (
    ParamSpec(
        "threshold",
        "float",
        default=0.55,
        minimum=0.05,
        maximum=5.0,
        description="smallest score of a cut (mean abs difference of normalised thumbnails)",
    ),
    ParamSpec(
        "ratio",
        "float",
        default=3.0,
        minimum=1.0,
        maximum=50.0,
        description="a cut's score must also exceed this multiple of the recent median score",
    ),
)


def detector_from(params: Mapping[str, Any]) -> CutDetector:
    return CutDetector(
        threshold=float(params.get("cut_threshold", params.get("threshold", 0.55))),
        ratio=float(params.get("cut_ratio", params.get("ratio", 3.0))),
    )


class SceneDetect(FilmOperation):
    name = "scene_detect"
    version = "1.0"
    description = (
        "Find shot boundaries (hard cuts) by normalised thumbnail and histogram differences "
        "against the recent median. Frames pass unchanged; the cuts are the step's analysis "
        "and later temporal operations never blend across them."
    )
    params = (
        *_DETECT_PARAMS,
        ParamSpec("history", "int", default=8, minimum=1, maximum=120),
    )
    frames_held = 1.0
    bytes_per_pixel = 4.0

    def window(self, params: Mapping[str, Any]) -> int:
        return int(params.get("history", 8)) + 1

    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        det = CutDetector(params["threshold"], params["ratio"], params["history"])
        cuts: list[int] = []
        scores: list[float] = []
        first = None
        fed = 0
        for index, frame in frames:
            cut = det.push(frame)
            # A chunk that starts on a known shot boundary has no frame before it to compare.
            if fed == 0 and index > 0 and meta.shots is not None and index in meta.shots:
                cut = True
            fed += 1
            if not meta.emits(index):
                continue
            if first is None:
                first = index
            if cut:
                cuts.append(index)
            scores.append(round(det.last_score, 4))
            yield frame
        ctx.analysis = {
            "cuts": cuts,
            "shot_starts": ([0] if (first == 0) else []) + cuts,
            "scores": scores,
            "first_frame": first,
        }

    def merge_analysis(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        merged = super().merge_analysis(parts)
        if parts:
            merged["first_frame"] = parts[0].get("first_frame")
        return merged
