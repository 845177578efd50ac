"""`deflicker`, `stabilize` and `temporal_denoise` on real frames of the corpus clip."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from restoration.engine.film import get_film_operation, iter_chunks
from restoration.engine.film.deflicker import flicker_measure
from restoration.engine.film.frames import luma, psnr

from .conftest import meta_for, run_op


def test_deflicker_lowers_the_frame_mean_flicker_of_the_clip(clip: list[np.ndarray]) -> None:
    """README measure: std of (frame-mean luma - its 9-frame running median)."""
    frames = clip[:200]
    out, ctx = run_op(get_film_operation("deflicker"), frames, meta_for(frames), {})
    before = flicker_measure([luma(f).mean() for f in frames])
    after = flicker_measure([luma(f).mean() for f in out])
    assert abs(ctx.analysis["flicker_in"] - before) < 1e-3
    assert after < 0.6 * before


def test_deflicker_removes_synthetic_flicker_and_keeps_the_cut(deduped: list[np.ndarray]) -> None:
    # Frames 95..125 of the de-duplicated clip span the cut at 107 (sign -> trucks).
    rng = np.random.default_rng(5)
    gains = rng.uniform(0.8, 1.2, 30)
    src = deduped[95:125]
    frames = [np.clip(f * g, 0, 255).astype(np.uint8) for f, g in zip(src, gains, strict=True)]
    out, _ = run_op(get_film_operation("deflicker"), frames, meta_for(frames), {"tiles": 2})
    before = flicker_measure([luma(f).mean() for f in frames])
    after = flicker_measure([luma(f).mean() for f in out])
    assert after < 0.35 * before
    # The two shots keep their own brightness: nothing mixed across the cut.
    means = [luma(f).mean() for f in out]
    ref = [luma(f).mean() for f in src]
    assert abs(np.mean(means[:12]) - np.mean(ref[:12])) < 12
    assert abs(np.mean(means[13:]) - np.mean(ref[13:])) < 12


def _jitter(frames: list[np.ndarray]) -> float:
    g = [luma(f).astype(np.float32) for f in frames]
    d = np.array([cv2.phaseCorrelate(a, b)[0] for a, b in zip(g, g[1:], strict=False)])
    path = np.cumsum(d, axis=0)
    smooth = gaussian_filter1d(path, 6, axis=0, mode="nearest")
    return float(np.sqrt(((path - smooth) ** 2).sum(1).mean()))


def test_stabilize_removes_weave_and_keeps_a_pan(clip: list[np.ndarray]) -> None:
    rng = np.random.default_rng(1)
    base = clip[60:100]  # the still road sign
    shifts = rng.uniform(-4, 4, (len(base), 2))
    shifts[:, 0] += np.linspace(0, 12, len(base))  # an intended slow pan
    woven = [
        cv2.warpAffine(
            f, np.float32([[1, 0, s[0]], [0, 1, s[1]]]), (432, 320), borderMode=cv2.BORDER_REPLICATE
        )
        for f, s in zip(base, shifts, strict=True)
    ]
    op = get_film_operation("stabilize")
    out, ctx = run_op(op, woven, meta_for(woven), {})
    assert _jitter(out) < 0.3 * _jitter(woven)
    # The pan stays: the content of the last frame is still ~12 px right of the first's.
    (dx, _), _ = cv2.phaseCorrelate(
        luma(out[0]).astype(np.float32), luma(out[-1]).astype(np.float32)
    )
    assert 7 < dx < 17
    assert ctx.analysis["max_correction_px"] <= 12
    out, _ = run_op(
        op, woven, meta_for(woven), {"border": "crop", "max_shift": 10, "method": "ecc"}
    )
    assert out[0].shape == (300, 412, 3)
    assert _jitter(out) < 0.3 * _jitter(woven)


def _degrade(frames: list[np.ndarray], seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    out, masks = [], []
    for f in frames:
        g = f.astype(np.float32) + rng.normal(0, 8, f.shape[:2])[..., None]
        mask = np.zeros(f.shape[:2], np.uint8)
        for _ in range(6):
            x, y, r = int(rng.integers(8, 208)), int(rng.integers(8, 152)), int(rng.integers(1, 4))
            cv2.circle(mask, (x, y), r, 1, -1)
            cv2.circle(g, (x, y), r, (250, 250, 250) if rng.random() < 0.5 else (5, 5, 5), -1)
        out.append(np.clip(g, 0, 255).astype(np.uint8))
        masks.append(mask.astype(bool))
    return out, masks


def test_temporal_denoise_removes_dust_and_grain(deduped: list[np.ndarray]) -> None:
    # A clean reference (grain averaged away by reducing 2x), given grain and dust specks.
    clean = [
        cv2.resize(cv2.GaussianBlur(f, (0, 0), 1.0), (216, 160), interpolation=cv2.INTER_AREA)
        for f in deduped[150:170]
    ]
    dirty, masks = _degrade(clean, 0)
    op = get_film_operation("temporal_denoise")
    out, ctx = run_op(op, dirty, meta_for(dirty), {})
    before = np.mean([psnr(a, b) for a, b in zip(dirty, clean, strict=True)])
    after = np.mean([psnr(a, b) for a, b in zip(out, clean, strict=True)])
    assert after > before + 3.0
    # Dust: the specks' pixels come back close to the clean frame.
    err_in = np.mean(
        [np.abs(d.astype(float) - c)[m].mean() for d, c, m in zip(dirty, clean, masks, strict=True)]
    )
    err_out = np.mean(
        [np.abs(o.astype(float) - c)[m].mean() for o, c, m in zip(out, clean, masks, strict=True)]
    )
    assert err_out < 0.35 * err_in
    assert sum(ctx.analysis["dust_pixels"]) > 0
    parts, _ = iter_chunks(op, dirty, meta_for(dirty), {}, 7)
    assert all(np.array_equal(a, b) for a, b in zip(parts, out, strict=True))


def test_temporal_operations_never_mix_two_shots() -> None:
    rng = np.random.default_rng(2)
    shot_a = [
        np.clip(60 + rng.normal(0, 6, (48, 64, 3)), 0, 255).astype(np.uint8) for _ in range(5)
    ]
    pattern = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    shot_b = [pattern] * 5
    frames = shot_a + shot_b
    for name, params in [("temporal_denoise", {}), ("deflicker", {}), ("stabilize", {})]:
        out, _ = run_op(get_film_operation(name), frames, meta_for(frames), params)
        # The last frame of shot A keeps its level; the first of shot B is untouched by A.
        assert abs(float(out[4].mean()) - float(shot_a[4].mean())) < 3, name
        assert abs(float(out[5].mean()) - float(pattern.mean())) < 3, name
