"""`colorize_hints`: Levin, Lischinski & Weiss, "Colorization using Optimization" (SIGGRAPH 2004).

Neighbouring pixels with similar luminance should get similar chroma. For every pixel r,
  U(r) - sum_s w_rs U(s) = 0,   w_rs ∝ exp(-(Y(r) - Y(s))² / (2 σ_r²)),  sum_s w_rs = 1,
over its 8 neighbours s, with σ_r the luminance variance of r's 3x3 window; hinted pixels are
fixed to the hint's chroma. That is one sparse linear system per chroma channel (a*, b* of CIE
Lab here), solved directly with SuperLU. Lightness always comes from the input, so the result
never changes tones, only adds colour.

For large scans the system is solved at a working size of at most `solve_pixels` pixels and the
chroma is brought back to full size with a guided filter (He et al. 2010) steered by the
full-size lightness, so colour edges follow the image's edges rather than the coarse grid.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .imageutil import lab_to_rgb, parse_color, rgb_to_lab, to_float, to_uint8
from .operation import Applied, Operation
from .params import ParamSpec
from .types import BadInputError, OpInputs, RunContext

PERMC_SPEC = "MMD_AT_PLUS_A"
_NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def hint_masks(
    hints: list[dict[str, Any]], shape: tuple[int, int], scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise hints at `scale`: (mask HxW bool, chroma HxWx2 float a*/b*).

    Later hints overwrite earlier ones where they overlap, as strokes painted in order do.
    All hints are drawn into one label image (hint i as i+1, in order, so the last one painted
    on a pixel owns it) and their colours are looked up once: a full-size layer per hint
    cost 4.5 s for many hints at 16 MP (issue 16). Drawing is unchanged (same lines and
    circles, 8-connected, no anti-aliasing), so the pixels and colours are the same.
    """
    h, w = shape
    # uint16 labels while they fit; OpenCV draws on int32 as well for more hints.
    labels = np.zeros((h, w), np.uint16 if len(hints) < 65535 else np.int32)
    lut = np.zeros((len(hints) + 1, 2), np.float32)
    for i, hint in enumerate(hints):
        value = i + 1
        radius = max(0, round(hint["radius"] * scale))
        points = hint["points"] if "points" in hint else [[hint["x"], hint["y"]]]
        pts = [(round(x * scale), round(y * scale)) for x, y in points]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] or pts, strict=False):
            cv2.line(labels, (x0, y0), (x1, y1), value, thickness=2 * radius + 1 if radius else 1)
        for x, y in pts:
            cv2.circle(labels, (x, y), radius, value, thickness=-1)
        lut[value] = rgb_to_lab(np.array([[parse_color(hint["color"])]], np.float32))[0, 0][1:]
    mask = labels > 0
    return mask, lut[labels]


def levin_weights_matrix(lum: np.ndarray, fixed: np.ndarray) -> sp.csr_matrix:
    """The system matrix A (N x N): identity rows for fixed pixels, I - W elsewhere."""
    h, w = lum.shape
    n = h * w
    idx = np.arange(n).reshape(h, w)
    mean = cv2.blur(lum, (3, 3), borderType=cv2.BORDER_REFLECT)
    var = cv2.blur(lum * lum, (3, 3), borderType=cv2.BORDER_REFLECT) - mean * mean
    # Levin's code uses 0.6 x the window variance with a floor, so flat regions still diffuse.
    sigma2 = np.maximum(0.6 * var, 2e-6)
    padded = np.pad(lum, 1, mode="edge")
    weights = []
    cols = []
    valid = []
    for dy, dx in _NEIGHBOURS:
        neighbour = padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        weights.append(np.exp(-((lum - neighbour) ** 2) / (2.0 * sigma2)))
        yy = np.arange(h)[:, None] + dy
        xx = np.arange(w)[None, :] + dx
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        valid.append(np.broadcast_to(inside, (h, w)))
        cols.append(np.clip(yy, 0, h - 1) * w + np.clip(xx, 0, w - 1))
    valid_all = np.stack(valid)
    wts = np.stack(weights) * valid_all
    total = wts.sum(axis=0)
    wts = wts / np.maximum(total, 1e-12)
    free = ~fixed
    rows_list = [idx[free]]
    cols_list = [idx[free]]
    data_list = [np.ones(int(free.sum()), np.float64)]
    for k in range(len(_NEIGHBOURS)):
        keep = free & valid_all[k]
        rows_list.append(idx[keep])
        cols_list.append(cols[k][keep])
        data_list.append(-wts[k][keep].astype(np.float64))
    rows_list.append(idx[fixed])
    cols_list.append(idx[fixed])
    data_list.append(np.ones(int(fixed.sum()), np.float64))
    return sp.csr_matrix(
        (np.concatenate(data_list), (np.concatenate(rows_list), np.concatenate(cols_list))),
        shape=(n, n),
    )


def solve_chroma(lum: np.ndarray, fixed: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    a_matrix = levin_weights_matrix(lum.astype(np.float32), fixed).tocsc()
    # MMD on A^T+A: the matrix's pattern is the (symmetric) 8-neighbour grid, for which this
    # ordering fills in far less than COLAMD: about half the time and memory, same solution
    # (tests/engine/test_hints.py compares the two).
    lu = spla.splu(a_matrix, permc_spec=PERMC_SPEC)
    out = np.empty(chroma.shape, np.float32)
    for c in range(2):
        rhs = np.where(fixed, chroma[:, :, c], 0.0).ravel().astype(np.float64)
        out[:, :, c] = lu.solve(rhs).reshape(lum.shape)
    return out


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He, Sun & Tang (2010): edge-preserving upsampling of `src` steered by `guide`."""
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.blur(x, size, borderType=cv2.BORDER_REFLECT)

    mean_i = box(guide)
    var_i = box(guide * guide) - mean_i * mean_i
    out = np.empty_like(src)
    for c in range(src.shape[2]):
        p = src[:, :, c]
        mean_p = box(p)
        cov = box(guide * p) - mean_i * mean_p
        a = cov / (var_i + eps)
        b = mean_p - a * mean_i
        out[:, :, c] = box(a) * guide + box(b)
    return out


class ColorizeHints(Operation):
    name = "colorize_hints"
    version = "1.0"
    description = (
        "Colourise from colour hints (points or strokes, each optionally citing its source) by "
        "the optimisation of Levin, Lischinski & Weiss (2004). Lightness is kept from the input."
    )
    # # bench/memory.py, 4 MP RGB: ~20 B/px at full size, plus ~2300-2750 B per pixel of the solved system
    bytes_per_pixel = 40.0
    params = (
        ParamSpec(
            "hints",
            "hints",
            required=True,
            description="[{x, y, color '#rrggbb', radius?, citation?}] or strokes {points, color, ...}",
        ),
        ParamSpec(
            "solve_pixels",
            "int",
            default=250_000,
            minimum=10_000,
            maximum=4_000_000,
            description="largest working size of the linear system (memory and time grow with it)",
        ),
    )

    def extra_bytes(self, shape: tuple[int, ...], params: Mapping[str, Any]) -> int:
        solved = min(int(params["solve_pixels"]), int(shape[0]) * int(shape[1]))
        return solved * 3000  # the sparse system and its LU factors

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        image = inputs.image
        h, w = image.shape[:2]
        hints = params["hints"]
        _check_hints_inside(hints, w, h)
        lightness = rgb_to_lab(to_float(image))[:, :, 0]
        scale = min(1.0, math.sqrt(params["solve_pixels"] / (h * w)))
        sh, sw = max(2, round(h * scale)), max(2, round(w * scale))
        t0 = time.perf_counter()
        small_l = (
            cv2.resize(lightness, (sw, sh), interpolation=cv2.INTER_AREA)
            if scale < 1
            else lightness
        )
        fixed, chroma = hint_masks(hints, (sh, sw), (sw / w + sh / h) / 2.0)
        ctx.report(0.1)
        ctx.check_cancel()
        ab = solve_chroma(small_l / 100.0, fixed, chroma)
        solve_s = time.perf_counter() - t0
        ctx.report(0.8)
        if scale < 1:
            ab = cv2.resize(ab, (w, h), interpolation=cv2.INTER_LINEAR)
            radius = max(2, round(2.0 / scale))
            ab = guided_filter(lightness / 100.0, ab, radius, 1e-4)
            full_fixed, full_chroma = hint_masks(hints, (h, w), 1.0)
            ab[full_fixed] = full_chroma[full_fixed]
        lab = np.dstack([lightness, ab])
        out = to_uint8(lab_to_rgb(lab))
        citations: list[Any] = []
        for hint in hints:
            if "citation" in hint and hint["citation"] not in citations:
                citations.append(hint["citation"])
        facts = {
            "hints": len(hints),
            "hinted_fraction": round(float(fixed.mean()), 6),
            "solve_size": [sw, sh],
            "citations": citations,
        }
        return Applied(out, facts=facts, timings={"solve_s": solve_s})


def _check_hints_inside(hints: list[dict[str, Any]], w: int, h: int) -> None:
    for i, hint in enumerate(hints):
        points = hint["points"] if "points" in hint else [[hint["x"], hint["y"]]]
        for x, y in points:
            if x >= w or y >= h:
                raise BadInputError(f"hints[{i}]: point ({x}, {y}) is outside the {w}x{h} image")
