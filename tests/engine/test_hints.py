"""colorize_hints (Levin et al. 2004) on the grey version of a real early colour photograph."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from restoration.engine import BadInputError, OpInputs, RunContext, get_operation
from restoration.engine.imageutil import gray, lab_error, rgb, rgb_to_lab, to_float, to_uint8

from .conftest import load_rgb


def sampled_hints(truth: np.ndarray, n: int, seed: int = 0) -> list[dict]:
    """Point hints whose colours are read from the true colour image (a 3x3 mean, as a
    researcher would pick a colour from a reference)."""
    rng = np.random.default_rng(seed)
    h, w = truth.shape[:2]
    blurred = cv2.blur(truth, (3, 3))
    hints = []
    for i in range(n):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r, g, b = (int(v) for v in blurred[y, x])
        hints.append(
            {
                "x": x,
                "y": y,
                "color": f"#{r:02x}{g:02x}{b:02x}",
                "radius": 1,
                "citation": f"cit-{i % 4}",
            }
        )
    return hints


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    full = load_rgb("old_b.png")
    return cv2.resize(full, (322, 450), interpolation=cv2.INTER_AREA)


def test_hints_beat_the_grey_baseline_by_a_wide_margin(truth: np.ndarray) -> None:
    grey = to_uint8(gray(to_float(truth)))
    result = get_operation("colorize_hints").run(
        OpInputs(grey), {"hints": sampled_hints(truth, 150)}, RunContext()
    )
    baseline = lab_error(rgb(grey), truth)
    colourised = lab_error(result.image, truth)
    assert baseline > 15  # a real colour photo: the grey version is far off
    assert colourised < 0.3 * baseline  # measured 2.9 vs 21.3 ΔE*ab
    assert result.record["citations"] == ["cit-0", "cit-1", "cit-2", "cit-3"]
    assert result.record["facts"]["hints"] == 150


def test_strokes_colour_regions_and_lightness_is_kept() -> None:
    grey = np.full((60, 80), 140, np.uint8)
    grey[:, 40:] = 60  # two flat regions separated by an edge
    hints = [
        {"points": [[5, 10], [30, 50]], "color": "#c03020", "radius": 2, "citation": 1},
        {"points": [[60, 10], [70, 50]], "color": "#2040c0", "radius": 2},
    ]
    out = get_operation("colorize_hints").run(OpInputs(grey), {"hints": hints}, RunContext())
    img = out.image.astype(int)
    assert img[30, 10, 0] > img[30, 10, 2] + 20  # left region reddish
    assert img[30, 70, 2] > img[30, 70, 0] + 20  # right region bluish: colour stops at the edge
    # CIE L* is taken from the input; it moves only where a colour leaves the sRGB gamut.
    l_in = rgb_to_lab(to_float(rgb(grey)))[..., 0]
    l_out = rgb_to_lab(to_float(out.image))[..., 0]
    assert np.abs(l_out - l_in)[:, :40].mean() < 1.0
    assert out.record["citations"] == [1]


def test_hint_outside_the_image_is_a_bad_input() -> None:
    with pytest.raises(BadInputError, match="outside the 8x8 image"):
        get_operation("colorize_hints").run(
            OpInputs(np.zeros((8, 8), np.uint8)),
            {"hints": [{"x": 8, "y": 0, "color": "#ffffff"}]},
            RunContext(),
        )


def test_large_images_are_solved_at_working_size_and_upsampled(truth: np.ndarray) -> None:
    grey = to_uint8(gray(to_float(truth)))
    result = get_operation("colorize_hints").run(
        OpInputs(grey), {"hints": sampled_hints(truth, 150), "solve_pixels": 20_000}, RunContext()
    )
    assert result.record["facts"]["solve_size"][0] < 322 and result.image.shape == truth.shape
    assert lab_error(result.image, truth) < 0.5 * lab_error(rgb(grey), truth)


# --- issue 16: one label image for all hints, MMD_AT_PLUS_A ordering: the same output ---------


def _hint_masks_per_layer(hints, shape, scale):
    """The former rasterisation (a full-size layer per hint), kept here as the reference."""
    from restoration.engine.imageutil import parse_color

    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    chroma = np.zeros((h, w, 2), np.float32)
    for hint in hints:
        layer = np.zeros((h, w), np.uint8)
        radius = max(0, round(hint["radius"] * scale))
        points = hint["points"] if "points" in hint else [[hint["x"], hint["y"]]]
        pts = [(round(x * scale), round(y * scale)) for x, y in points]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] or pts, strict=False):
            cv2.line(layer, (x0, y0), (x1, y1), 1, thickness=2 * radius + 1 if radius else 1)
        for x, y in pts:
            cv2.circle(layer, (x, y), radius, 1, thickness=-1)
        on = layer.astype(bool)
        lab = rgb_to_lab(np.array([[parse_color(hint["color"])]], np.float32))[0, 0]
        chroma[on] = lab[1:]
        mask |= layer
    return mask.astype(bool), chroma


def _overlapping_hints(w: int, h: int, n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    hints = []
    for i in range(n):
        colour = "#" + "".join(f"{int(v):02x}" for v in rng.integers(0, 256, 3))
        if i % 3 == 0:
            pts = [[int(rng.integers(0, w)), int(rng.integers(0, h))] for _ in range(3)]
            hints.append({"points": pts, "color": colour, "radius": int(rng.integers(0, 6))})
        else:
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            hints.append({"x": x, "y": y, "color": colour, "radius": int(rng.integers(0, 9))})
    return hints


@pytest.mark.parametrize("scale", [1.0, 0.37])
def test_one_label_image_rasterises_exactly_like_a_layer_per_hint(scale) -> None:
    from restoration.engine.hints import hint_masks

    hints = _overlapping_hints(200, 150, 60, seed=4)
    shape = (round(150 * scale), round(200 * scale))
    mask, chroma = hint_masks(hints, shape, scale)
    ref_mask, ref_chroma = _hint_masks_per_layer(hints, shape, scale)
    assert mask.dtype == bool and chroma.dtype == np.float32
    assert np.array_equal(mask, ref_mask)
    assert np.array_equal(chroma, ref_chroma)  # later hints win where they overlap, as before


def test_mmd_ordering_gives_the_colamd_output(truth: np.ndarray, monkeypatch) -> None:
    from restoration.engine import hints as hints_module

    grey = to_uint8(gray(to_float(truth)))
    hints = sampled_hints(truth, 80, seed=2)
    params = {"hints": hints, "solve_pixels": 40_000}  # a solve below full size, then upsampled
    fast = get_operation("colorize_hints").run(OpInputs(grey), dict(params), RunContext())
    monkeypatch.setattr(hints_module, "PERMC_SPEC", "COLAMD")
    slow = get_operation("colorize_hints").run(OpInputs(grey), dict(params), RunContext())
    assert np.array_equal(fast.image, slow.image)
    lum = to_float(grey)[::4, ::4].astype(np.float32)
    fixed, chroma = hints_module.hint_masks(hints, lum.shape, 0.25)
    monkeypatch.setattr(hints_module, "PERMC_SPEC", "MMD_AT_PLUS_A")
    a = hints_module.solve_chroma(lum, fixed, chroma)
    monkeypatch.setattr(hints_module, "PERMC_SPEC", "COLAMD")
    b = hints_module.solve_chroma(lum, fixed, chroma)
    assert np.abs(a - b).max() < 1e-4  # float32 results of two exact factorisations
