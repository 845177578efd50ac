"""`deflicker`: temporal brightness and contrast equalisation, after Delon, "Movie and video
scale-time equalization application to flicker reduction" (IEEE TIP 2006).

Each frame's grey levels are mapped onto the *midway* distribution of the frames around it:
with Q_s the quantile function (inverse cumulative histogram) of frame s, the target of frame t
is Q*_t = Σ_s g(s - t) Q_s over the frames s of the same shot within ``radius`` frames (g a
Gaussian of ``sigma`` frames, normalised), and frame t's grey level v becomes
Q*_t(F_t(v)), F_t its cumulative histogram. The midway of a set of histograms keeps what they
share (the scene) and drops what changes from frame to frame (the exposure), so slow changes of
light are kept and fast ones removed. The mapping is applied to luma and the change added to
each colour channel, so colour (if any) is kept; ``strength`` mixes it with the input.

With ``tiles`` > 1 the same is done per tile of a grid (the quantiles of each tile, mappings
interpolated bilinearly between tile centres), which also removes flicker that varies across
the frame (uneven exposure of the print, a lamp's flicker along the gate).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..params import ParamSpec
from .base import FilmContext, FilmMeta, FilmOperation, ShotTracker
from .frames import luma
from .scene import detector_from

LEVELS = np.arange(256, dtype=np.float32)
QUANTS = 64  # quantiles kept per frame (or tile): their interpolation is the mapping


def _quantiles(grey: np.ndarray, tiles: int) -> np.ndarray:
    """tiles x tiles x QUANTS quantiles of grey levels."""
    h, w = grey.shape
    probs = (np.arange(QUANTS, dtype=np.float64) + 0.5) / QUANTS
    out = np.empty((tiles, tiles, QUANTS), np.float32)
    ys = np.linspace(0, h, tiles + 1).astype(int)
    xs = np.linspace(0, w, tiles + 1).astype(int)
    for i in range(tiles):
        for j in range(tiles):
            block = grey[ys[i] : ys[i + 1], xs[j] : xs[j + 1]]
            hist = np.bincount(block.ravel(), minlength=256).astype(np.float64)
            cdf = np.cumsum(hist) / max(1.0, hist.sum())
            out[i, j] = np.interp(probs, cdf, LEVELS).astype(np.float32)
    return out


def _luts(own: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per tile: a 256-entry map of grey level v -> target quantile at v's own rank."""
    probs = (np.arange(QUANTS, dtype=np.float32) + 0.5) / QUANTS
    tiles = own.shape[0]
    luts = np.empty((tiles, tiles, 256), np.float32)
    for i in range(tiles):
        for j in range(tiles):
            q = np.maximum.accumulate(own[i, j])
            rank = np.interp(LEVELS, q + np.arange(QUANTS) * 1e-4, probs)
            luts[i, j] = np.interp(rank, probs, target[i, j])
    return luts


def _apply(frame: np.ndarray, grey: np.ndarray, luts: np.ndarray, strength: float) -> np.ndarray:
    tiles = luts.shape[0]
    if tiles == 1:
        new = luts[0, 0][grey]
    else:
        h, w = grey.shape
        # Each tile's mapping applied everywhere, weighted bilinearly by the tile centres.
        cy = (np.arange(tiles) + 0.5) * h / tiles
        cx = (np.arange(tiles) + 0.5) * w / tiles
        fy = np.clip(np.interp(np.arange(h), cy, np.arange(tiles)), 0, tiles - 1)
        fx = np.clip(np.interp(np.arange(w), cx, np.arange(tiles)), 0, tiles - 1)
        y0 = np.floor(fy).astype(int)
        x0 = np.floor(fx).astype(int)
        y1 = np.minimum(y0 + 1, tiles - 1)
        x1 = np.minimum(x0 + 1, tiles - 1)
        wy = (fy - y0)[:, None].astype(np.float32)
        wx = (fx - x0)[None, :].astype(np.float32)
        g = grey.astype(np.intp)
        y0g, y1g = y0[:, None], y1[:, None]
        x0g, x1g = x0[None, :], x1[None, :]
        new = (
            luts[y0g, x0g, g] * (1 - wy) * (1 - wx)
            + luts[y0g, x1g, g] * (1 - wy) * wx
            + luts[y1g, x0g, g] * wy * (1 - wx)
            + luts[y1g, x1g, g] * wy * wx
        )
    delta = (new - grey.astype(np.float32)) * strength
    out = frame.astype(np.float32) + delta[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def flicker_measure(means: list[float] | np.ndarray, size: int = 9) -> float:
    """Std of (frame-mean luma - its running median over ``size`` frames): the corpus README's
    frame-mean flicker measure."""
    m = np.asarray(means, dtype=np.float64)
    if len(m) < 3:
        return 0.0
    half = size // 2
    med = np.array([np.median(m[max(0, i - half) : i + half + 1]) for i in range(len(m))])
    return float(np.std(m - med))


class Deflicker(FilmOperation):
    name = "deflicker"
    version = "1.0"
    description = (
        "Temporal brightness and contrast equalisation (Delon 2006): each frame's grey levels "
        "are mapped onto the midway histogram of its neighbours in the same shot; optionally "
        "per tile for uneven flicker. Slow changes of light are kept, flicker is removed."
    )
    params = (
        ParamSpec(
            "radius",
            "int",
            default=7,
            minimum=1,
            maximum=60,
            description="frames on each side that make the midway histogram",
        ),
        ParamSpec(
            "sigma",
            "float",
            default=4.0,
            minimum=0.5,
            maximum=60.0,
            description="Gaussian weight of the neighbours, in frames",
        ),
        ParamSpec(
            "tiles",
            "int",
            default=1,
            minimum=1,
            maximum=8,
            description="1: whole-frame; n: an n x n grid for flicker that varies across the frame",
        ),
        ParamSpec("strength", "float", default=1.0, minimum=0.0, maximum=1.0),
        ParamSpec("cut_threshold", "float", default=0.55, minimum=0.05, maximum=5.0),
    )
    frames_held = 2.0
    bytes_per_pixel = 24.0

    def window(self, params: Mapping[str, Any]) -> int:
        return int(params.get("radius", 7))

    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        radius, tiles = params["radius"], params["tiles"]
        sigma = params["sigma"]
        tracker = ShotTracker(meta, detector_from(params))
        # Every frame within reach: (index, shot, quantiles, frame or None once emitted).
        info: deque[tuple[int, int, np.ndarray]] = deque()
        pending: deque[tuple[int, np.ndarray, np.ndarray]] = deque()
        shot = 0
        shot_of: dict[int, int] = {}
        means_in: list[float] = []
        means_out: list[float] = []
        gains: list[float] = []

        def emit_one() -> Iterator[np.ndarray]:
            index, frame, grey = pending.popleft()
            own_shot = shot_of[index]
            qs, ws = [], []
            own_q = None
            for j, s, q in info:
                if s != own_shot or abs(j - index) > radius:
                    continue
                if j == index:
                    own_q = q
                qs.append(q)
                ws.append(np.exp(-0.5 * ((j - index) / sigma) ** 2))
            assert own_q is not None
            wts = np.asarray(ws, np.float32)
            target = np.tensordot(wts / wts.sum(), np.stack(qs), axes=1)
            out = _apply(frame, grey, _luts(own_q, target), params["strength"])
            if meta.emits(index):
                m_in = float(grey.mean())
                m_out = float(luma(out).mean())
                means_in.append(round(m_in, 3))
                means_out.append(round(m_out, 3))
                gains.append(round(m_out - m_in, 3))
                yield out
            while info and info[0][0] < pending_first() - radius:
                info.popleft()

        def pending_first() -> int:
            return pending[0][0] if pending else 1 << 62

        for index, frame in frames:
            if tracker.is_cut(index, frame):
                shot += 1
            shot_of[index] = shot
            grey = luma(frame)
            info.append((index, shot, _quantiles(grey, tiles)))
            pending.append((index, frame, grey))
            while pending and pending[0][0] <= index - radius:
                yield from emit_one()
        while pending:
            yield from emit_one()
        ctx.analysis = {
            "mean_luma_in": means_in,
            "mean_luma_out": means_out,
            "mean_shift": gains,
            "flicker_in": round(flicker_measure(means_in), 4),
            "flicker_out": round(flicker_measure(means_out), 4),
        }

    def merge_analysis(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        merged = super().merge_analysis(parts)
        merged["flicker_in"] = round(flicker_measure(merged.get("mean_luma_in", [])), 4)
        merged["flicker_out"] = round(flicker_measure(merged.get("mean_luma_out", [])), 4)
        return merged
