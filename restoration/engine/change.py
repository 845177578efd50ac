"""Change summary of an image step: what it changed, measured (numpy / scikit-image only).

The input is compared with the output at the output's size (the input is resampled when the
step changed the size). Intensities are compared on a 0..1 scale whatever the bit depth, and
grey is compared with colour by replicating the grey channel. All numbers are finite and
rounded, so the summary can go into a hashed record (no NaN/inf: an unchanged image has
``psnr_db: null`` and ``identical: true``).

SSIM and the changed regions are computed at an analysis size of at most ``ANALYSIS_SIDE``
pixels on the longer side, by integer block means (SSIM of a 60-megapixel scan would cost more
than the step itself); region boxes are reported in output pixel coordinates all the same.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
from scipy import ndimage
from skimage.transform import resize

SUMMARY_VERSION = 1
DEFAULT_THRESHOLD = 0.04  # ~10/255: below it a difference is re-encoding noise, not an edit
ANALYSIS_SIDE = 1024
MAX_REGIONS = 20
MIN_REGION_FRACTION = 0.0005  # regions smaller than 0.05 % of the image are noise


def _unit(image: np.ndarray) -> np.ndarray:
    """uint8/uint16/float image -> float32 HxWxC in 0..1."""
    arr = np.asarray(image)
    if arr.dtype == np.uint16:
        out = arr.astype(np.float32) / 65535.0
    elif arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.bool_:
        out = arr.astype(np.float32)
    else:
        out = np.clip(arr.astype(np.float32), 0.0, 1.0)
    if out.ndim == 2:
        out = out[:, :, None]
    if out.ndim != 3:
        raise ValueError(f"expected an HxW or HxWxC image, got shape {arr.shape}")
    if out.shape[2] == 4:  # alpha is not part of the comparison
        out = out[:, :, :3]
    return out


def _match_channels(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.shape[2] == b.shape[2]:
        return a, b
    if a.shape[2] == 1:
        return np.repeat(a, b.shape[2], axis=2), b
    if b.shape[2] == 1:
        return a, np.repeat(b, a.shape[2], axis=2)
    raise ValueError(f"cannot compare {a.shape[2]} with {b.shape[2]} channels")


def _resized(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    shrinking = height < image.shape[0] or width < image.shape[1]
    out = resize(image, (height, width), order=1, anti_aliasing=shrinking, preserve_range=True)
    return out.astype(np.float32)


def _round(value: float, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    side = min(a.shape[0], a.shape[1])
    win = min(7, side if side % 2 == 1 else side - 1)
    if win < 3:
        return None
    return _box_ssim(a, b, win)


def _box_ssim(a: np.ndarray, b: np.ndarray, win: int) -> float:
    """Mean SSIM over channels with a ``win``x``win`` uniform window: scikit-image's
    ``structural_similarity(data_range=1, gaussian_weights=False)`` formula (sample covariance,
    reflected borders, the border of width (win-1)/2 left out of the mean), with OpenCV box
    filters instead of scipy's (2-3x faster, issue 16). Both work in float32; they differ by
    float32 rounding (< 1e-7 before the summary rounds to 6 decimals), see
    tests/engine/test_change_ssim.py."""
    c1, c2 = 0.01**2, 0.03**2
    cov_norm = win * win / (win * win - 1)
    pad = (win - 1) // 2

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, (win, win), normalize=True, borderType=cv2.BORDER_REFLECT)

    values = []
    for c in range(a.shape[2]):
        x = np.ascontiguousarray(a[:, :, c], dtype=np.float32)
        y = np.ascontiguousarray(b[:, :, c], dtype=np.float32)
        ux, uy = box(x), box(y)
        vx = cov_norm * (box(x * x) - ux * ux)
        vy = cov_norm * (box(y * y) - uy * uy)
        vxy = cov_norm * (box(x * y) - ux * uy)
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        values.append(s[pad : s.shape[0] - pad, pad : s.shape[1] - pad].mean(dtype=np.float64))
    return float(np.mean(values))


def _padded(image: np.ndarray, k: int) -> np.ndarray:
    """Pad (edge values) to a multiple of k, so that the last rows and columns are analysed."""
    pad_h, pad_w = -image.shape[0] % k, -image.shape[1] % k
    if not pad_h and not pad_w:
        return image
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, widths, mode="edge")


def _block_mean(image: np.ndarray, k: int) -> np.ndarray:
    """Downsample by an integer factor with block means (fast; no resampling filter needed)."""
    if k == 1:
        return image
    image = _padded(image, k)
    h, w = image.shape[:2]
    # Rows first, then columns: two reductions over adjacent axes are several times faster
    # than one over the strided axes (1, 3).
    rows = image.reshape(h // k, k, w, *image.shape[2:]).mean(axis=1, dtype=np.float32)
    return rows.reshape(h // k, w // k, k, *image.shape[2:]).mean(axis=2, dtype=np.float32)


def _block_max(image: np.ndarray, k: int) -> np.ndarray:
    if k == 1:
        return image
    image = _padded(image, k)
    h, w = image.shape[:2]
    rows = image.reshape(h // k, k, w).max(axis=1)
    return rows.reshape(h // k, w // k, k).max(axis=2)


def _regions(
    changed: np.ndarray, diff: np.ndarray, k: int, out_h: int, out_w: int
) -> list[dict[str, Any]]:
    """Bounding boxes of changed areas, largest first, in output pixels.

    Nearby changed pixels are grouped by a dilation (a repainted face is rarely one blob,
    a repaired scratch is a thin line), but each box bounds the changed pixels themselves."""
    if not changed.any():
        return []
    grouped = ndimage.binary_dilation(changed, structure=np.ones((3, 3)), iterations=2)
    labels, count = ndimage.label(grouped)
    labels = np.where(changed, labels, 0)
    index = np.arange(1, count + 1)
    sizes = ndimage.sum_labels(changed, labels, index=index)
    means = ndimage.mean(diff, labels, index=index)
    total = changed.size
    regions: list[tuple[float, dict[str, Any]]] = []
    for i, box in enumerate(ndimage.find_objects(labels, max_label=count)):
        if box is None or sizes[i] == 0 or sizes[i] / total < MIN_REGION_FRACTION:
            continue
        top, left = box[0].start * k, box[1].start * k
        bottom, right = min(out_h, box[0].stop * k), min(out_w, box[1].stop * k)
        region = {
            "x": int(left),
            "y": int(top),
            "width": int(right - left),
            "height": int(bottom - top),
            "area_fraction": _round(sizes[i] / total),
            "mean_abs_diff": _round(means[i]),
        }
        regions.append((float(sizes[i]), region))
    regions.sort(key=lambda item: (-item[0], item[1]["y"], item[1]["x"]))
    return [region for _, region in regions[:MAX_REGIONS]]


def change_summary(
    before: np.ndarray,
    after: np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Measure how ``after`` (a step's output) differs from ``before`` (its input).

    Returns a JSON-safe dict: ``mad`` (mean absolute difference, 0..1), ``psnr_db``, ``ssim``,
    ``changed_fraction`` (share of pixels whose largest channel difference exceeds
    ``threshold``), ``regions`` (bounding boxes of changed areas in output pixels) and the
    sizes compared."""
    a, b = _unit(before), _unit(after)
    out_h, out_w = b.shape[:2]
    a = _resized(a, out_h, out_w)
    a, b = _match_channels(a, b)
    diff = np.abs(a - b)
    mad = float(diff.mean())
    mse = float(np.square(diff).mean(dtype=np.float64))  # diff is |a - b|: no second subtraction
    per_pixel = diff.max(axis=2)
    changed_fraction = float((per_pixel > threshold).mean())
    psnr = None if mse == 0.0 else 10.0 * math.log10(1.0 / mse)

    k = max(1, math.ceil(max(out_h, out_w) / ANALYSIS_SIDE))
    a_small, b_small = _block_mean(a, k), _block_mean(b, k)
    # The block maximum keeps a thin edit (a repaired scratch) visible at the analysis size.
    pixel_small = _block_max(per_pixel, k)
    an_h, an_w = pixel_small.shape[:2]
    ssim = 1.0 if mse == 0.0 else _ssim(a_small, b_small)
    regions = _regions(pixel_small > threshold, pixel_small, k, out_h, out_w)
    before_h, before_w = np.asarray(before).shape[:2]
    return {
        "version": SUMMARY_VERSION,
        "identical": mse == 0.0,
        "input_size": [int(before_w), int(before_h)],
        "output_size": [int(out_w), int(out_h)],
        "size_changed": (before_w, before_h) != (out_w, out_h),
        "analysis_size": [int(an_w), int(an_h)],
        "mad": _round(mad),
        "psnr_db": _round(psnr, 4) if psnr is not None else None,
        "ssim": _round(ssim) if ssim is not None else None,
        "threshold": _round(threshold),
        "changed_fraction": _round(changed_fraction),
        "regions": regions,
    }
