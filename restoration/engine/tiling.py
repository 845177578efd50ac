"""Overlapping-tile inference with smooth blending and bounded working memory.

Tiles lie on a regular grid; each tile's output is weighted by a separable raised-cosine window
that ramps up over the overlap on every side that touches another tile (and is flat at image
borders). Because the windows are separable products wy(y)·wx(x) on a product grid, the
normaliser is the product of two 1-D sums, so no full-size weight map is needed.

Output pixels are written (as uint8) as soon as the last tile covering them has run, so the
working memory is one tile plus an overlap-high strip across the image, whatever its size; only
the result itself grows with the image.
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
# On CPU smaller tiles are faster, not just leaner: Real-ESRGAN x4plus on a 384x384 input took
# 57 s as one piece and 33 s as four 200x200 tiles (bench/engine.py, 2 cores): the feature maps
# of a large tile fall out of cache. So the automatic CPU tile is capped lower than on GPUs.
CPU_MAX_TILE = 256
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
    resolution (the upsampling tail dominates for x4), float32: 19 KB/pixel for a 64-feature x4
    network. Checked against Real-ESRGAN x4plus on CPU (bench/engine.py): 168x168 tiles
    measured a 507 MiB working set, the estimate says 524 MiB.
    """
    per_pixel = 4 * features * (12 + 4 * scale * scale)
    budget = min(available_memory_bytes(device) // 4, 6 << 30)
    side = int(math.sqrt(max(budget, 1) / per_pixel))
    cap = MAX_TILE if device.startswith("cuda") else CPU_MAX_TILE
    side = max(MIN_TILE, min(cap, side))
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

    Windows are normalised up front (w / Σw per axis), so each tile's contribution is final
    arithmetic and an output pixel is done as soon as the last tile covering it has run. Two
    small buffers hold the unfinished parts: `left`, the overlap with the next tile in the
    row (tile height x overlap), and `carry`, the overlap with the next row of tiles (overlap
    x image width). Progress is reported and cancellation checked before every tile.
    """
    h, w = image.shape[:2]
    plan = plan_tiles(h, w, tile, overlap)
    norm_y = _axis_norm(plan.ys, plan.th, h, plan.overlap, scale)
    norm_x = _axis_norm(plan.xs, plan.tw, w, plan.overlap, scale)
    out = np.empty((h * scale, w * scale, out_channels), np.uint8 if as_uint8 else np.float32)
    lo, hi = progress_span
    done = 0
    carry = np.zeros((0, w * scale, out_channels), np.float32)  # rows from Y0 on
    for row, y0 in enumerate(plan.ys):
        th = min(plan.th, h - y0)
        top, bottom = y0 * scale, (y0 + th) * scale
        next_top = plan.ys[row + 1] * scale if row + 1 < len(plan.ys) else bottom
        wy = _ramp_window(y0, th, h, plan.overlap, scale) / norm_y[top:bottom]
        new_carry = np.zeros((bottom - next_top, w * scale, out_channels), np.float32)
        left = np.zeros((bottom - top, 0, out_channels), np.float32)
        for col, x0 in enumerate(plan.xs):
            ctx.check_cancel()
            ctx.report(lo + (hi - lo) * done / plan.count)
            tw = min(plan.tw, w - x0)
            x_left, x_right = x0 * scale, (x0 + tw) * scale
            next_left = plan.xs[col + 1] * scale if col + 1 < len(plan.xs) else x_right
            wx = _ramp_window(x0, tw, w, plan.overlap, scale) / norm_x[x_left:x_right]
            acc = fn(image[y0 : y0 + th, x0 : x0 + tw]) * wy[:, None, None] * wx[None, :, None]
            acc[:, : left.shape[1]] += left
            final = next_left - x_left
            done_cols = acc[:, :final]
            # Lines above the next row of tiles are final once the previous row's carry is in.
            head = done_cols[: next_top - top]
            head[: carry.shape[0]] += carry[:, x_left:next_left][: head.shape[0]]
            out[top:next_top, x_left:next_left] = _finish(head, as_uint8)
            new_carry[:, x_left:next_left] = done_cols[next_top - top :]
            left = acc[:, final:]
            done += 1
        carry = new_carry
    return out


def plan_overlap(tile: int, overlap: int) -> int:
    return min(overlap, tile // 4)


def _finish(values: np.ndarray, as_uint8: bool) -> np.ndarray:
    if as_uint8:
        return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
    return values
