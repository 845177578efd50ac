"""Classical operations on real images (scikit-image's camera/astronaut, corpus crops)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio as psnr

from restoration.engine import BadInputError, OpInputs, RunContext, get_operation
from restoration.engine.imageutil import lab_error, rgb_to_lab, to_float

from .conftest import load_rgb


def run(op: str, image: np.ndarray, params: dict | None = None, **extra: np.ndarray):
    return get_operation(op).run(OpInputs(image, dict(extra)), params or {}, RunContext())


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    return data.camera()[128:320, 160:352]  # 192x192 crop: the photographer and tripod


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()[0:192, 128:320]  # face and helmet


def test_denoise_removes_added_noise_from_a_real_photo(camera: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    noisy = np.clip(camera + rng.normal(0, 15, camera.shape), 0, 255).astype(np.uint8)
    out = run("denoise", noisy, {"strength": 12}).image
    assert out.shape == camera.shape and out.dtype == np.uint8
    assert psnr(camera, out) > psnr(camera, noisy) + 3


def test_denoise_is_colour_aware(astronaut: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    noisy = np.clip(astronaut + rng.normal(0, 12, astronaut.shape), 0, 255).astype(np.uint8)
    out = run("denoise", noisy, {"strength": 10, "color_strength": 10}).image
    assert out.ndim == 3 and lab_error(out, astronaut) < lab_error(noisy, astronaut)


def test_clahe_raises_local_contrast_and_keeps_chroma(astronaut: np.ndarray) -> None:
    flat = (astronaut.astype(np.float32) * 0.4 + 80).astype(np.uint8)
    out = run("clahe", flat, {"clip_limit": 3.0}).image
    assert out.std() > flat.std() * 1.3
    ab_in, ab_out = rgb_to_lab(to_float(flat))[..., 1:], rgb_to_lab(to_float(out))[..., 1:]
    assert np.abs(ab_in - ab_out).mean() < 3.0


def test_sharpen_increases_edge_energy(camera: np.ndarray) -> None:
    import cv2

    out = run("sharpen", camera, {"amount": 1.0}).image
    lap = lambda im: cv2.Laplacian(im.astype(np.float32), cv2.CV_32F).var()  # noqa: E731
    assert lap(out) > lap(camera) * 1.5
    assert out.ndim == 2


def test_upscale_lanczos_scale(camera: np.ndarray) -> None:
    out = run("upscale", camera, {"scale": 2.5}).image
    assert out.shape == (480, 480)


def test_grayscale_crop_rotate(astronaut: np.ndarray) -> None:
    grey = run("grayscale", astronaut).image
    assert grey.shape == astronaut.shape[:2]
    crop = run("crop", astronaut, {"rect": {"x": 10, "y": 20, "width": 30, "height": 40}}).image
    assert np.array_equal(crop, astronaut[20:60, 10:40])
    with pytest.raises(BadInputError, match="leaves the 192x192 image"):
        run("crop", astronaut, {"rect": [180, 0, 30, 30]})
    r90 = run("rotate", astronaut, {"angle": 90}).image
    assert np.array_equal(r90, np.rot90(astronaut))  # exact, no resampling
    r10 = run("rotate", astronaut, {"angle": 10, "expand": True}).image
    assert r10.shape[0] > 192 and r10.shape[1] > 192
    assert (r10[0, 0] == 255).all()  # white fill in the corner


def test_uint16_input_keeps_precision_until_output() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    out = run("upscale", ramp, {"scale": 1.0}).image
    assert out.dtype == np.uint8 and abs(int(out[0, -1]) - 255) <= 1 and out[0, 0] == 0


def test_color_transfer_moves_lab_statistics_towards_the_reference() -> None:
    source = load_rgb("old_c.png")[200:456, 200:456]
    reference = load_rgb("old_b.png")[300:556, 200:456]
    result = run("color_transfer", source, {"reference": 12}, reference=reference)
    out_lab, ref_lab = rgb_to_lab(to_float(result.image)), rgb_to_lab(to_float(reference))
    src_lab = rgb_to_lab(to_float(source))
    for c in (1, 2):
        assert abs(out_lab[..., c].mean() - ref_lab[..., c].mean()) < abs(
            src_lab[..., c].mean() - ref_lab[..., c].mean()
        )
    # keep_lightness: tones of the source are untouched (up to 8-bit rounding and gamut clipping)
    assert np.abs(out_lab[..., 0] - src_lab[..., 0]).mean() < 1.5
    assert set(result.record["facts"]["reference_stats"]) == {"a", "b"}


def test_classical_ops_are_deterministic(astronaut: np.ndarray) -> None:
    for op, params in [("denoise", {}), ("descratch", {}), ("clahe", {}), ("sharpen", {})]:
        a = run(op, astronaut, params).image
        b = run(op, astronaut, params).image
        assert a.tobytes() == b.tobytes(), op
