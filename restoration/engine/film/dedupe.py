"""`dedupe`: find and drop repeated frames (telecine pulldown, step-printed holds).

The measure of frame i is the mean absolute difference between its grey image and frame
i-1's, each with its own mean removed (so a repeat printed a little lighter is still a repeat)
on a copy reduced to at most 480 px. A repeat differs from its predecessor by coding noise
only, a new frame by motion and by the film's own grain, which is new on every frame: so frame
i is a repeat when its measure is below ``ratio`` times the median measure of its neighbours
(i-3..i+3) and below ``max_diff``.

With ``cadence`` on, a regular pattern is used as evidence too: when most of the positions
i ± k·p (p the dominant spacing of the repeats found nearby, k = 1..) are repeats, frame i is
dropped when its measure is at most ``cadence_ratio`` times its neighbours' (a repeat that
coding disturbed more than usual). Each drop records its kind (``measure`` or ``cadence``).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..params import ParamSpec
from .base import FilmContext, FilmMeta, FilmOperation
from .frames import luma_f, shrink, work_scale

NEIGHBOURS = 3


class Dedupe(FilmOperation):
    name = "dedupe"
    version = "1.0"
    description = (
        "Find repeated frames (pulldown, holds) by the difference to the previous frame "
        "against its neighbours', optionally locked to a regular cadence, and drop them; the "
        "dropped frame numbers and each frame's measure are the step's analysis."
    )
    params = (
        ParamSpec(
            "ratio",
            "float",
            default=0.35,
            minimum=0.01,
            maximum=0.95,
            description="a repeat differs by less than this fraction of its neighbours' difference",
        ),
        ParamSpec(
            "max_diff",
            "float",
            default=3.0,
            minimum=0.0,
            maximum=64.0,
            description="and by less than this (mean absolute grey difference, 0..255)",
        ),
        ParamSpec(
            "cadence",
            "bool",
            default=True,
            description="also drop weak repeats that fall on a regular pattern of repeats",
        ),
        ParamSpec("cadence_ratio", "float", default=1.25, minimum=0.1, maximum=5.0),
        ParamSpec(
            "cadence_span",
            "int",
            default=30,
            minimum=5,
            maximum=120,
            description="frames on each side searched for the pattern",
        ),
        ParamSpec(
            "drop",
            "bool",
            default=True,
            description="false: only find and report the repeats, keep every frame",
        ),
    )
    frames_held = 2.0
    bytes_per_pixel = 8.0

    def window(self, params: Mapping[str, Any]) -> int:
        span = int(params.get("cadence_span", 30)) if params.get("cadence", True) else 0
        return max(NEIGHBOURS, span) + NEIGHBOURS + 1

    def output_frame_count(self, meta: FilmMeta, params: Mapping[str, Any]) -> int | None:
        return meta.emitted_count()  # an upper bound: repeats are only known once looked at

    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        scale = work_scale(meta.width, meta.height, 480)
        span = params["cadence_span"] if params["cadence"] else 0
        look = max(NEIGHBOURS, span) + NEIGHBOURS
        # Measures of every frame still in play (index -> diff; None for a film's first frame).
        diffs: dict[int, float | None] = {}
        pending: deque[tuple[int, np.ndarray]] = deque()
        prev: np.ndarray | None = None
        dropped: list[int] = []
        kinds: list[str] = []
        measures: list[float | None] = []
        strong_cache: dict[int, bool] = {}
        last_index = None

        def neighbours_median(i: int) -> float | None:
            vals: list[float] = [
                diffs[j]  # type: ignore[misc]
                for j in range(i - NEIGHBOURS, i + NEIGHBOURS + 1)
                if j != i and diffs.get(j) is not None
            ]
            return float(np.median(vals)) if vals else None

        def relative(i: int) -> float | None:
            d = diffs.get(i)
            med = neighbours_median(i)
            if d is None or med is None:
                return None
            return d / max(med, 1e-3)

        def strong(i: int) -> bool:
            if i not in strong_cache:
                rel = relative(i)
                d = diffs.get(i)
                strong_cache[i] = bool(
                    rel is not None
                    and d is not None
                    and rel < params["ratio"]
                    and d < params["max_diff"]
                )
            return strong_cache[i]

        def decide(i: int) -> str | None:
            if strong(i):
                return "measure"
            if not span:
                return None
            rel = relative(i)
            d = diffs.get(i)
            # max_diff does not apply here: the pattern is the evidence, the ratio the guard.
            if rel is None or d is None or rel > params["cadence_ratio"]:
                return None
            near = [j for j in range(i - span, i + span + 1) if j != i and j in diffs and strong(j)]
            if len(near) < 4:
                return None
            gaps = Counter(b - a for a, b in zip(near, near[1:], strict=False))
            period, _ = gaps.most_common(1)[0]
            if period < 2:
                return None
            slots = [i + k * period for k in range(-(span // period), span // period + 1) if k]
            slots = [j for j in slots if j in diffs]
            hits = sum(1 for j in slots if strong(j))
            return "cadence" if slots and hits >= 0.75 * len(slots) else None

        def flush(upto: int | None) -> Iterator[np.ndarray]:
            while pending and (upto is None or pending[0][0] <= upto):
                i, frame = pending.popleft()
                kind = decide(i)
                d = diffs.get(i)
                if meta.emits(i):
                    measures.append(None if d is None else round(d, 3))
                    if kind:
                        dropped.append(i)
                        kinds.append(kind)
                    if not kind or not params["drop"]:
                        yield frame
                # Forget what no later decision can look at.
                for j in [j for j in diffs if j < i - 2 * look]:
                    diffs.pop(j, None)
                    strong_cache.pop(j, None)

        for index, frame in frames:
            small = shrink(luma_f(frame), scale)
            small -= small.mean()
            diffs[index] = None if prev is None else float(np.abs(small - prev).mean())
            prev = small
            last_index = index
            pending.append((index, frame))
            yield from flush(index - look)
        yield from flush(None)
        counts = Counter(kinds)
        ctx.analysis = {
            "dropped": dropped,
            "dropped_kind": kinds,
            "dropped_count": len(dropped),
            "by_measure": counts.get("measure", 0),
            "by_cadence": counts.get("cadence", 0),
            "measures": measures,
            "last_frame": last_index,
        }
        cadence = cadence_of(dropped)
        if cadence:
            ctx.analysis["cadence"] = cadence

    def merge_analysis(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        merged = super().merge_analysis(parts)
        merged["by_measure"] = sum(p.get("by_measure", 0) for p in parts)
        merged["by_cadence"] = sum(p.get("by_cadence", 0) for p in parts)
        merged["last_frame"] = parts[-1].get("last_frame") if parts else None
        merged.pop("cadence", None)
        cadence = cadence_of(merged.get("dropped", []))
        if cadence:
            merged["cadence"] = cadence
        return merged


def cadence_of(dropped: list[int]) -> dict[str, Any] | None:
    """The dominant spacing of the dropped frames, its phase and the share of gaps that fit."""
    if len(dropped) < 3:
        return None
    gaps = Counter(b - a for a, b in zip(dropped, dropped[1:], strict=False))
    period, n = gaps.most_common(1)[0]
    return {
        "period": period,
        "phase": dropped[0] % period,
        "share": round(n / (len(dropped) - 1), 3),
    }
