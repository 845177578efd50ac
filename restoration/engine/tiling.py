"""Overlapping-tile inference with smooth blending and bounded working memory.

Tiles lie on a regular grid; each tile's output is weighted by a separable raised-cosine window
that ramps up over the overlap on every side that touches another tile (and is flat at image
borders). Because the windows are separable products wy(y)·wx(x) on a product grid, the
normaliser is the product of two 1-D sums, so no full-size weight map is needed.

Work proceeds one row of tiles at a time: once a row is blended, every output line above the
next row's start is final and is written (as uint8) straight into the result. Working memory is
therefore a couple of tile rows, independent of the image height; only the result grows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .types import RunContext

MIN_TILE = 64
MAX_TILE = 1024
DEFAULT_OVERLAP = 16


@dataclass(frozen=True)
class TilePlan:
    """Tiles of th x tw input pixels starting at every (y, x) in ys x xs."""

    th: int
    tw: int
    overlap: int
    ys: tuple[int, ...]
    xs: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.ys) * len(self.xs)


def axis_tiles(length: int, tile: int, overlap: int) -> tuple[int, tuple[int, ...]]:
    """(tile size, starts) along one axis: the fewest tiles of at most `tile` that cover
    `length` with `overlap`, then shrunk to share the length evenly, so a 1024-pixel side with
    512 tiles is cut into 3 tiles of 352 rather than 512 + 512 + a nearly redundant third."""
    if length <= tile:
        return length, (0,)
    n = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (n - 1) * overlap) / n)
    stride = (length - size) / (n - 1)
    return size, tuple(round(i * stride) for i in range(n))


def tile_starts(length: int, tile: int, overlap: int) -> tuple[int, ...]:
    return axis_tiles(length, tile, overlap)[1]


def plan_tiles(height: int, width: int, tile: int, overlap: int = DEFAULT_OVERLAP) -> TilePlan:
    overlap = plan_overlap(tile, overlap)
    th, ys = axis_tiles(height, tile, overlap)
    tw, xs = axis_tiles(width, tile, overlap)
    return TilePlan(th, tw, overlap, ys, xs)


def available_memory_bytes(device: str) -> int:
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)


def auto_tile_size(device: str, scale: int, features: int = 64) -> int:
    """Largest tile whose estimated activation memory fits a quarter of the free memory.

    Estimate per input pixel: ~12 live feature maps at input resolution plus ~4 at output
    resolution (the upsampling tail dominates for x4), float32. Calibrated against measured peak
    RSS of RRDBNet x4 on CPU (bench/engine.py); conservative for lighter networks.
    """
    per_pixel = 4 * features * (12 + 4 * scale * scale)
    budget = min(available_memory_bytes(device) // 4, 6 << 30)
    side = int(math.sqrt(max(budget, 1) / per_pixel))
    side = max(MIN_TILE, min(MAX_TILE, side))
    return side - side % 32


def _ramp_window(start: int, size: int, full: int, overlap: int, scale: int) -> np.ndarray:
    """1-D output-space window for a tile at [start, start+size) of an axis of length full."""
    n = size * scale
    w = np.ones(n, np.float32)
    ramp_len = overlap * scale
    if ramp_len <= 0:
        return w
    ramp = (
        0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp_len, dtype=np.float32) + 0.5) / ramp_len)
    ).astype(np.float32)
    if start > 0:
        w[:ramp_len] = ramp
    if start + size < full:
        w[n - ramp_len :] = np.minimum(w[n - ramp_len :], ramp[::-1])
    return w


def _axis_norm(
    starts: tuple[int, ...], size: int, full: int, overlap: int, scale: int
) -> np.ndarray:
    total = np.zeros(full * scale, np.float32)
    for s in starts:
        n = min(size, full - s)
        total[s * scale : (s + n) * scale] += _ramp_window(s, n, full, overlap, scale)
    return total


TileFn = Callable[[np.ndarray], np.ndarray]


def run_tiled(
    image: np.ndarray,
    fn: TileFn,
    *,
    scale: int,
    out_channels: int,
    tile: int,
    ctx: RunContext,
    overlap: int = DEFAULT_OVERLAP,
    progress_span: tuple[float, float] = (0.0, 1.0),
    as_uint8: bool = True,
) -> np.ndarray:
    """Apply `fn` (HxWxC float32 → (H·s)x(W·s)xC' float32) tile by tile and blend.

    Progress is reported and cancellation checked before every tile.
    """
    h, w = image.shape[:2]
    plan = plan_tiles(h, w, tile, overlap)
    norm_y = _axis_norm(plan.ys, plan.th, h, plan.overlap, scale)
    norm_x = _axis_norm(plan.xs, plan.tw, w, plan.overlap, scale)
    out_dtype = np.uint8 if as_uint8 else np.float32
    out = np.empty((h * scale, w * scale, out_channels), out_dtype)
    lo, hi = progress_span
    done = 0
    # `pending` holds y-weighted sums for output lines [pending_y0, ...) not yet final.
    pending = np.zeros((0, w * scale, out_channels), np.float32)
    pending_y0 = 0
    for row, y0 in enumerate(plan.ys):
        th = min(plan.th, h - y0)
        band = np.zeros((th * scale, w * scale, out_channels), np.float32)
        for x0 in plan.xs:
            ctx.check_cancel()
            ctx.report(lo + (hi - lo) * done / plan.count)
            tw = min(plan.tw, w - x0)
            result = fn(image[y0 : y0 + th, x0 : x0 + tw])
            wx = _ramp_window(x0, tw, w, plan.overlap, scale)
            band[:, x0 * scale : (x0 + tw) * scale] += result * wx[None, :, None]
            done += 1
        band /= norm_x[None, :, None]
        band *= _ramp_window(y0, th, h, plan.overlap, scale)[:, None, None]
        pending = _merge_band(pending, pending_y0, band, y0 * scale)
        next_y = plan.ys[row + 1] * scale if row + 1 < len(plan.ys) else h * scale
        final_rows = next_y - pending_y0
        ready = pending[:final_rows] / norm_y[pending_y0:next_y, None, None]
        out[pending_y0:next_y] = _finish(ready, as_uint8)
        pending = pending[final_rows:]
        pending_y0 = next_y
    return out


def plan_overlap(tile: int, overlap: int) -> int:
    return min(overlap, tile // 4)


def _merge_band(pending: np.ndarray, pending_y0: int, band: np.ndarray, band_y0: int) -> np.ndarray:
    end = band_y0 + band.shape[0]
    merged = np.zeros((end - pending_y0, band.shape[1], band.shape[2]), np.float32)
    merged[: pending.shape[0]] = pending
    merged[band_y0 - pending_y0 :] += band
    return merged


def _finish(values: np.ndarray, as_uint8: bool) -> np.ndarray:
    if as_uint8:
        return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
    return values
