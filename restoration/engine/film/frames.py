"""Frame helpers shared by the film operations: luma, small thumbnails, dense flow, warping."""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np

# OpenCV's type stubs miss some functions and overloads (DIS, ECC with a Gaussian size):
# calls through this alias are checked at run time by OpenCV itself.
CV: Any = cv2


def luma(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 -> grey uint8 (Rec. 601)."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def luma_f(frame: np.ndarray) -> np.ndarray:
    return luma(frame).astype(np.float32)


def work_scale(width: int, height: int, max_side: int) -> float:
    """The factor (<= 1) that brings the larger side to at most ``max_side``."""
    return min(1.0, max_side / float(max(width, height)))


def shrink(image: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


_dis_local = threading.local()


def dis(preset: str = "medium") -> Any:
    """A DIS optical flow object per thread (they keep state and are not thread-safe)."""
    cache = getattr(_dis_local, "cache", None)
    if cache is None:
        cache = _dis_local.cache = {}
    if preset not in cache:
        code = {
            "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
            "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        }[preset]
        flow = CV.DISOpticalFlow_create(code)
        cache[preset] = flow
    return cache[preset]


def dense_flow(
    a: np.ndarray, b: np.ndarray, preset: str = "medium", max_side: int = 0
) -> np.ndarray:
    """Flow F (HxWx2, float32) from grey uint8 ``a`` to ``b``: a(x) ~ b(x + F(x)).

    With ``max_side`` the flow is computed on a reduced copy and scaled back up, so its cost
    does not grow with the frame (film grain is noise to the flow anyway)."""
    h, w = a.shape[:2]
    scale = work_scale(w, h, max_side) if max_side else 1.0
    if scale < 1.0:
        sa, sb = shrink(a, scale), shrink(b, scale)
        f = dis(preset).calc(sa, sb, None)
        f = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
        f[..., 0] *= w / sa.shape[1]
        f[..., 1] *= h / sa.shape[0]
        return f
    return dis(preset).calc(a, b, None)


_grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    key = (h, w)
    if key not in _grids:
        if len(_grids) > 8:
            _grids.clear()
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        _grids[key] = (xs, ys)
    return _grids[key]


def warp(image: np.ndarray, flow: np.ndarray, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Backward warp: out(x) = image(x + flow(x)), bilinear."""
    h, w = flow.shape[:2]
    xs, ys = grid(h, w)
    return cv2.remap(
        image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=border
    )


def consistency(f_ab: np.ndarray, f_ba: np.ndarray) -> np.ndarray:
    """Forward-backward error |F_ab(x) + F_ba(x + F_ab(x))| per pixel (pixels): large where a
    pixel of a is occluded in b or the flow is wrong."""
    back = warp(f_ba, f_ab)
    return np.linalg.norm(f_ab + back, axis=2)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse <= 1e-12 else 10.0 * np.log10(255.0**2 / mse)
