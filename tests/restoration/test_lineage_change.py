"""The change summary (pure engine code: no database)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from restoration.engine.change import change_summary


def image(h=120, w=160, seed=0):
    return np.random.default_rng(seed).integers(0, 255, size=(h, w, 3), dtype=np.uint8)


def test_a_repainted_face_is_located_and_the_background_untouched():
    before = image()
    after = before.copy()
    after[20:50, 100:140] = 255 - after[20:50, 100:140]
    summary = change_summary(before, after)
    assert summary["changed_fraction"] == pytest.approx(30 * 40 / (120 * 160), abs=0.005)
    [region] = summary["regions"]
    assert (region["x"], region["y"], region["width"], region["height"]) == (100, 20, 40, 30)
    assert summary["mad"] > 0 and 0 < summary["ssim"] < 1 and summary["psnr_db"] > 0


def test_identical_images_are_json_safe():
    before = image()
    summary = change_summary(before, before.copy())
    assert summary["identical"] is True and summary["psnr_db"] is None and summary["ssim"] == 1.0
    assert summary["regions"] == [] and summary["changed_fraction"] == 0.0
    json.dumps(summary, allow_nan=False)


def test_compared_at_the_output_size_and_across_modes():
    grey = image()[:, :, 0]
    upscaled = np.repeat(np.repeat(grey, 2, axis=0), 2, axis=1)
    summary = change_summary(grey, np.stack([upscaled] * 3, axis=2))
    assert summary["output_size"] == [320, 240] and summary["size_changed"] is True
    assert summary["ssim"] > 0.3
    sixteen = grey.astype(np.uint16) * 257
    assert change_summary(sixteen, grey)["mad"] < 0.01  # same picture in 16 and 8 bits


def test_thin_scratch_repair_is_a_region_and_large_images_are_analysed_smaller():
    before = np.full((600, 2100, 3), 128, dtype=np.uint8)
    after = before.copy()
    after[300, 200:1900] = 0  # a one-pixel scratch
    summary = change_summary(before, after)
    assert summary["analysis_size"][0] <= 1024
    [region] = summary["regions"]
    assert region["y"] <= 300 < region["y"] + region["height"] <= 303
    assert region["x"] <= 200 and region["x"] + region["width"] >= 1900
    json.dumps(summary, allow_nan=False)


def test_tiny_images_have_no_ssim_but_no_error():
    summary = change_summary(np.zeros((2, 2), np.uint8), np.full((2, 2), 200, np.uint8))
    assert summary["ssim"] is None and summary["changed_fraction"] == 1.0
