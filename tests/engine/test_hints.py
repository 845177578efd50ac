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
