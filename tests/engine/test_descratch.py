"""descratch on old_w_scratch_b.png: the forehead crease goes, the eyes stay sharp."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from restoration.engine import BadInputError, OpInputs, RunContext, get_operation
from restoration.engine.imageutil import gray, to_float

from .conftest import annotations, load_rgb

# Eye centres from MTCNN on this scan (see test_faces), windows 19x11 px around each.
EYES = [(108, 102), (147, 101)]


def crease_masks(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(core line, 5-px band over the crease, ring 3..7 px away = local background)."""
    spec = annotations()["old_w_scratch_b.png"]["crease"]
    pts = np.array(spec["points"], np.int32)

    def draw(thickness: int) -> np.ndarray:
        m = np.zeros(shape, np.uint8)
        cv2.polylines(m, [pts], False, 1, thickness=thickness)
        return m > 0

    band = draw(2 * spec["half_width"] + 1)
    return draw(1), band, draw(15) & ~band


def crease_excess(lum: np.ndarray, band: np.ndarray, ring: np.ndarray) -> float:
    """How much brighter the crease band is than the skin/background right beside it."""
    return float(lum[band].mean() - lum[ring].mean())


def sharpness(lum: np.ndarray, x: int, y: int) -> float:
    window = lum[y - 5 : y + 6, x - 9 : x + 10]
    return float(cv2.Laplacian(window, cv2.CV_32F).var())


@pytest.fixture(scope="module")
def scan_and_result():
    scan = load_rgb("old_w_scratch_b.png")
    return scan, get_operation("descratch").run(OpInputs(scan), {}, RunContext())


def test_descratch_removes_most_of_the_crease(scan_and_result) -> None:
    scan, result = scan_and_result
    core, band, ring = crease_masks(scan.shape[:2])
    before = crease_excess(gray(to_float(scan)), band, ring)
    after = crease_excess(gray(to_float(result.image)), band, ring)
    assert before > 0.05  # the crease is really there: ~9 % of full scale brighter
    assert after < 0.3 * before  # measured: 85 % of the excess brightness removed
    mask = result.outputs["mask"] > 0
    assert (mask & core).sum() / core.sum() > 0.55  # measured 0.67 of the hand-drawn line


def test_descratch_leaves_the_eyes_sharp_and_the_rest_untouched(scan_and_result) -> None:
    scan, result = scan_and_result
    lum0, lum1 = gray(to_float(scan)), gray(to_float(result.image))
    for x, y in EYES:
        assert sharpness(lum1, x, y) >= 0.95 * sharpness(lum0, x, y)
    mask = result.outputs["mask"] > 0
    assert np.array_equal(result.image[~mask], scan[~mask])  # only masked pixels change
    assert 0.01 < result.record["facts"]["mask_coverage"] < 0.15


def test_descratch_mask_output_and_given_mask() -> None:
    scan = load_rgb("old_w_scratch_b.png")[40:140, 40:200]
    given = np.zeros(scan.shape[:2], np.uint8)
    given[50:53, 20:140] = 255
    op = get_operation("descratch")
    result = op.run(OpInputs(scan, {"mask": given}), {"mask": 41, "detect": False}, RunContext())
    assert result.outputs["mask"].dtype == np.uint8 and result.outputs["mask"].shape == given.shape
    # the given mask is used as is (plus the 1-px halo dilation is not applied to given masks)
    assert (result.outputs["mask"][given > 0] == 255).all()
    assert not np.array_equal(result.image[50:53, 20:140], scan[50:53, 20:140])
    assert np.array_equal(result.image[:40], scan[:40])
    with pytest.raises(BadInputError, match="mask is"):
        op.run(OpInputs(scan, {"mask": given[:10]}), {"mask": 41}, RunContext())
    with pytest.raises(BadInputError, match="role 'mask' is required"):
        op.run(OpInputs(scan), {"mask": 41}, RunContext())
