"""Thin-plate splines (Bookstein 1989) for smooth landmark-driven image deformation.

A spline maps control points exactly onto their values and bends as little as possible in
between (minimal bending energy), so a handful of moved landmarks among many fixed ones gives a
smooth, local-looking deformation with no folds for the small displacements used here.
Coordinates are normalised by a length scale (the face width) before fitting, which keeps the
linear system well conditioned whatever the image size.
"""

from __future__ import annotations

import numpy as np


def _kernel(d2: np.ndarray) -> np.ndarray:
    # U(r) = r^2 log r^2 (the constant factor 1/2 is absorbed by the weights); U(0) = 0
    d2 = np.maximum(d2, 1e-20)
    return d2 * np.log(d2)


class ThinPlateSpline:
    """f: R^2 → R^2 with f(controls[i]) = values[i] (up to `smoothing`)."""

    def __init__(
        self,
        controls: np.ndarray,
        values: np.ndarray,
        *,
        scale: float = 1.0,
        smoothing: float = 1e-6,
    ) -> None:
        c = np.asarray(controls, np.float64) / scale
        v = np.asarray(values, np.float64) / scale
        n = c.shape[0]
        d2 = ((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        k = _kernel(d2) + smoothing * np.eye(n)
        p = np.hstack([np.ones((n, 1)), c])
        system = np.zeros((n + 3, n + 3))
        system[:n, :n] = k
        system[:n, n:] = p
        system[n:, :n] = p.T
        rhs = np.zeros((n + 3, 2))
        rhs[:n] = v
        try:
            solution = np.linalg.solve(system, rhs)
        except np.linalg.LinAlgError:  # coincident controls: the least-squares answer
            solution = np.linalg.lstsq(system, rhs, rcond=None)[0]
        self._controls = c
        self._weights = solution[:n]
        self._affine = solution[n:]
        self._scale = scale

    def __call__(self, points: np.ndarray, chunk: int = 16384) -> np.ndarray:
        # float32 for the (points x controls) kernel: the bulk of the work, and its rounding
        # (1e-7 of the face width) is far below a pixel
        pts = np.asarray(points, np.float64).reshape(-1, 2) / self._scale
        out = np.empty_like(pts)
        controls = self._controls.astype(np.float32)
        weights = self._weights.astype(np.float32)
        for start in range(0, len(pts), chunk):
            q = pts[start : start + chunk]
            q32 = q.astype(np.float32)
            dx = q32[:, 0:1] - controls[None, :, 0]
            dy = q32[:, 1:2] - controls[None, :, 1]
            out[start : start + chunk] = (
                _kernel(dx * dx + dy * dy) @ weights + self._affine[0] + q @ self._affine[1:]
            )
        return out * self._scale


def mls_affine(
    controls: np.ndarray,
    values: np.ndarray,
    points: np.ndarray,
    *,
    scale: float = 1.0,
    alpha: float = 1.0,
    chunk: int = 8192,
) -> np.ndarray:
    """Moving-least-squares affine deformation (Schaefer, McPhail & Warren 2006).

    Each point gets the affine map that best carries the controls onto their values with
    weights 1 / |control - point|^(2 alpha): exact at the controls, smooth in between, and local
    (a control's pull fades with distance), so near-coincident controls with different values
    (the lids of a closing eye) make a steep transition between them instead of ripples
    across the face, which a global spline would. Coordinates are normalised by `scale`.
    """
    p = np.asarray(controls, np.float64) / scale
    q = np.asarray(values, np.float64) / scale
    pts = np.asarray(points, np.float64).reshape(-1, 2) / scale
    out = np.empty_like(pts)
    # Centre everything on the controls' mean so the moments below lose no precision.
    origin = p.mean(axis=0)
    p = p - origin
    q = q - origin
    pts = pts - origin
    # With normalised weights w (sum 1), every weighted moment about the weighted centroids is
    # a plain moment minus a product of centroids: one matrix product per chunk gives them all.
    px, py, qx, qy = p[:, 0], p[:, 1], q[:, 0], q[:, 1]
    columns = np.stack(
        [px, py, qx, qy, px * px, px * py, py * py, px * qx, px * qy, py * qx, py * qy], axis=1
    )
    for start in range(0, len(pts), chunk):
        v = pts[start : start + chunk]
        d2 = (v[:, 0:1] - px[None, :]) ** 2 + (v[:, 1:2] - py[None, :]) ** 2
        np.maximum(d2, 1e-12, out=d2)
        w = 1.0 / d2 if alpha == 1.0 else d2 ** (-alpha)
        w /= w.sum(axis=1, keepdims=True)
        m = w @ columns
        psx, psy, qsx, qsy = m[:, 0], m[:, 1], m[:, 2], m[:, 3]
        a = m[:, 4] - psx * psx
        b = m[:, 5] - psx * psy
        c = m[:, 6] - psy * psy
        bxx = m[:, 7] - psx * qsx
        bxy = m[:, 8] - psx * qsy
        byx = m[:, 9] - psy * qsx
        byy = m[:, 10] - psy * qsy
        det = a * c - b * b
        det = np.where(np.abs(det) < 1e-18, 1e-18, det)
        # M = A^-1 B with A = [[a, b], [b, c]], B = [[bxx, bxy], [byx, byy]]
        m00 = (c * bxx - b * byx) / det
        m01 = (c * bxy - b * byy) / det
        m10 = (a * byx - b * bxx) / det
        m11 = (a * byy - b * bxy) / det
        rx = v[:, 0] - psx
        ry = v[:, 1] - psy
        out[start : start + chunk, 0] = rx * m00 + ry * m10 + qsx
        out[start : start + chunk, 1] = rx * m01 + ry * m11 + qsy
    return (out + origin) * scale
