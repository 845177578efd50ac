"""Issue 16: the change summary's SSIM (OpenCV box filters) equals scikit-image's."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from restoration.engine.change import _box_ssim, change_summary


@pytest.mark.parametrize(("shape", "win"), [((64, 80, 3), 7), ((40, 33, 1), 5), ((9, 12, 3), 3)])
@pytest.mark.parametrize("noise", [0.01, 0.1, 0.4])
def test_box_ssim_equals_scikit_image(shape, win, noise):
    rng = np.random.default_rng(int(noise * 100) + win)
    a = rng.random(shape, dtype=np.float32)
    a = (a + np.roll(a, 1, axis=0)) / 2  # some structure
    b = np.clip(a + rng.normal(0, noise, shape).astype(np.float32), 0, 1)
    expected = structural_similarity(
        a, b, data_range=1.0, channel_axis=2, win_size=win, gaussian_weights=False
    )
    assert abs(_box_ssim(a, b, win) - float(expected)) < 1e-6


def test_summary_ssim_is_that_of_the_analysis_images():
    rng = np.random.default_rng(3)
    before = rng.integers(0, 255, (120, 90, 3), dtype=np.uint8)
    after = before.copy()
    after[10:40, 10:50] = 255 - after[10:40, 10:50]
    summary = change_summary(before, after)
    expected = structural_similarity(
        before.astype(np.float32) / 255,
        after.astype(np.float32) / 255,
        data_range=1.0,
        channel_axis=2,
        win_size=7,
        gaussian_weights=False,
    )
    assert summary["ssim"] == pytest.approx(float(expected), abs=2e-6)
    assert summary["regions"] and not summary["identical"]
