"""`temporal_denoise`: film grain and dust, with motion compensation (after Kokaram, "Motion
Picture Restoration", Springer 1998, and Kokaram et al., "Detection of missing data in image
sequences", IEEE TIP 1995).

For frame t, each neighbour t±k (k = 1..``radius``, same shot only) is warped onto t along DIS
optical flow (computed on a copy of at most ``flow_side`` px); a warped pixel whose flow fails
the forward-backward check is not trusted.

Dust and blotches are missing data: present in one frame only. The spike detection index
(SDI) marks a pixel of t when it differs from *both* motion-compensated neighbours t-1 and t+1
by more than ``dust_threshold``, in the same direction, while those two agree with each other;
marked pixels (grown by two pixels, a speck's soft rim) are replaced by the median of the compensated neighbours.

Grain is new on every frame, so it averages out along motion: each pixel becomes a weighted
mean of itself and its compensated neighbours, a neighbour's weight falling with its difference
from the pixel (a temporal bilateral / Wiener-like filter, scale ``strength`` x the noise level
estimated from the frame) and with its flow's distrust, so moving edges and occlusions keep
the frame's own value instead of ghosting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

import cv2
import numpy as np

from ..params import ParamSpec
from .base import FilmContext, FilmMeta, FilmOperation, ShotTracker
from .frames import consistency, dense_flow, luma, warp
from .scene import detector_from


def noise_sigma(grey: np.ndarray) -> float:
    """Immerkær's fast noise estimate (1996), on grey 0..255."""
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    r = cv2.filter2D(grey.astype(np.float32), -1, kernel)
    h, w = grey.shape
    return float(np.sqrt(np.pi / 2.0) * np.abs(r[1:-1, 1:-1]).sum() / (6.0 * (w - 2) * (h - 2)))


class TemporalDenoise(FilmOperation):
    name = "temporal_denoise"
    version = "1.0"
    description = (
        "Remove dust (spike detection against motion-compensated neighbours, Kokaram) and "
        "grain (a weighted mean along optical flow) without blending across cuts or ghosting "
        "moving edges."
    )
    params = (
        ParamSpec(
            "radius",
            "int",
            default=2,
            minimum=1,
            maximum=4,
            description="neighbours on each side used for the grain average",
        ),
        ParamSpec(
            "strength",
            "float",
            default=1.5,
            minimum=0.0,
            maximum=10.0,
            description="grain: similarity scale as a multiple of the noise level (0: none)",
        ),
        ParamSpec("dust", "bool", default=True),
        ParamSpec(
            "dust_threshold",
            "float",
            default=30.0,
            minimum=5.0,
            maximum=255.0,
            description="grey levels by which a dust pixel differs from both neighbours",
        ),
        ParamSpec("flow_side", "int", default=640, minimum=64, maximum=8192),
        ParamSpec("cut_threshold", "float", default=0.55, minimum=0.05, maximum=5.0),
    )
    frames_held = 4.0
    bytes_per_pixel = 160.0

    def window(self, params: Mapping[str, Any]) -> int:
        return int(params.get("radius", 2))

    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        radius = params["radius"]
        tracker = ShotTracker(meta, detector_from(params))
        buf: deque[tuple[int, int, np.ndarray, np.ndarray]] = deque()  # index, shot, frame, grey
        shot = 0
        dust_px: list[int] = []
        sigmas: list[float] = []
        changed: list[float] = []
        flow_cache: dict[tuple[int, int], np.ndarray] = {}

        def flow(a: tuple[int, np.ndarray], b: tuple[int, np.ndarray]) -> np.ndarray:
            key = (a[0], b[0])
            if key not in flow_cache:
                flow_cache[key] = dense_flow(a[1], b[1], "medium", params["flow_side"])
            return flow_cache[key]

        def compensated(centre: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
            """(offset, warped RGB float, trust) of the same-shot neighbours of buf[centre]."""
            index, s, _, grey = buf[centre]
            out = []
            for pos, (j, sj, frame_j, grey_j) in enumerate(buf):
                if pos == centre or sj != s or abs(j - index) > radius:
                    continue
                f_tj = flow((index, grey), (j, grey_j))
                f_jt = flow((j, grey_j), (index, grey))
                err = consistency(f_tj, f_jt)
                trust = 1.0 / (1.0 + (err / 1.5) ** 2)
                out.append(
                    (j - index, warp(frame_j.astype(np.float32), f_tj), trust.astype(np.float32))
                )
            return out

        def emit_one(centre: int) -> np.ndarray | None:
            index, _, frame, grey = buf[centre]
            if not meta.emits(index):
                return None
            cur = frame.astype(np.float32)
            comp = compensated(centre)
            sigma = max(1.0, noise_sigma(grey))
            result = cur.copy()
            n_dust = 0
            if params["dust"]:
                prev = [c for c in comp if c[0] == -1]
                nxt = [c for c in comp if c[0] == 1]
                if prev and nxt:
                    p, n = prev[0], nxt[0]
                    y = cur.mean(axis=2)
                    yp, yn = p[1].mean(axis=2), n[1].mean(axis=2)
                    t = params["dust_threshold"]
                    dp, dn = y - yp, y - yn
                    spike = (np.abs(dp) > t) & (np.abs(dn) > t) & (np.sign(dp) == np.sign(dn))
                    spike &= np.abs(yp - yn) < t  # the neighbours agree: missing data in t
                    spike &= (p[2] > 0.3) & (n[2] > 0.3)
                    if spike.any():
                        spike = cv2.dilate(
                            spike.astype(np.uint8), np.ones((5, 5), np.uint8)
                        ).astype(bool)
                        repl = 0.5 * (p[1] + n[1])
                        result[spike] = repl[spike]
                        n_dust = int(spike.sum())
            if params["strength"] > 0 and comp:
                h = params["strength"] * sigma
                num = result.copy()
                den = np.ones(grey.shape, np.float32)
                base = result.mean(axis=2)
                for _, warped, trust in comp:
                    diff = warped.mean(axis=2) - base
                    wgt = trust * np.exp(-0.5 * (diff / h) ** 2)
                    num += warped * wgt[..., None]
                    den += wgt
                result = num / den[..., None]
            out = np.clip(result + 0.5, 0, 255).astype(np.uint8)
            dust_px.append(n_dust)
            sigmas.append(round(sigma, 3))
            changed.append(round(float(np.abs(out.astype(np.int16) - frame).mean()), 3))
            return out

        def forget() -> None:
            oldest = buf[0][0]
            for key in [k for k in flow_cache if min(k) < oldest]:
                del flow_cache[key]

        # buf holds frames t - radius .. t + radius; the centre is emitted once t + radius is in.
        emitted_upto = -1
        for index, frame in frames:
            if tracker.is_cut(index, frame):
                shot += 1
            buf.append((index, shot, frame, luma(frame)))
            centre = len(buf) - 1 - radius
            if centre >= 0 and buf[centre][0] > emitted_upto:
                out = emit_one(centre)
                emitted_upto = buf[centre][0]
                if out is not None:
                    yield out
            while len(buf) > 2 * radius + 1:
                buf.popleft()
                forget()
        # The last frames, with what context remains.
        for centre in range(len(buf)):
            if buf[centre][0] > emitted_upto:
                out = emit_one(centre)
                emitted_upto = buf[centre][0]
                if out is not None:
                    yield out
        ctx.analysis = {
            "dust_pixels": dust_px,
            "noise_sigma": sigmas,
            "mean_change": changed,
        }
