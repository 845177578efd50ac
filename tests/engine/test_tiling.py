"""Tiled inference: matches the untiled pass, reports progress, stops when cancelled."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from restoration.engine import Cancelled, OpInputs, RunContext, get_operation
from restoration.engine.imageutil import to_float
from restoration.engine.models import load_model
from restoration.engine.ops_ai import model_forward
from restoration.engine.tiling import axis_tiles, plan_tiles, run_tiled, tile_starts


def test_tile_grid_covers_the_image_with_the_requested_overlap() -> None:
    assert tile_starts(100, 128, 16) == (0,)
    size, starts = axis_tiles(1000, 256, 16)
    assert size <= 256 and starts[0] == 0 and starts[-1] == 1000 - size
    assert all(b - a <= size - 16 for a, b in zip(starts, starts[1:], strict=False))
    # evenly shared: two 512 tiles cannot cover 1024 with overlap, three of 352 can
    assert axis_tiles(1024, 512, 16) == (352, (0, 336, 672))
    assert plan_tiles(1000, 300, 256).count == len(starts) * 2


def test_tiled_output_matches_untiled_on_a_random_network(random_weights) -> None:
    ref = random_weights("compact")  # SRVGG "Compact" x2, random weights: plumbing only
    descriptor = load_model(ref)
    image = to_float(data.astronaut()[100:260, 150:330])  # 160x180
    forward = model_forward(descriptor, "cpu")
    whole = forward(image)
    tiled = run_tiled(
        image, forward, scale=2, out_channels=3, tile=64, ctx=RunContext(), as_uint8=False
    )
    assert tiled.shape == whole.shape == (320, 360, 3)
    diff = np.abs(tiled - whole)
    assert diff.max() < 2e-3 and diff.mean() < 1e-4


def test_progress_and_cancellation_between_tiles(random_weights) -> None:
    ref = random_weights("compact")
    image = data.astronaut()[:128, :128]
    seen: list[float] = []
    ctx = RunContext(models={"model": ref}, progress=seen.append)
    get_operation("sr").run(OpInputs(image), {"model": ref.name, "tile": 32}, ctx)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 16

    calls = {"n": 0}

    def cancel_after_three() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    ctx = RunContext(models={"model": ref}, should_cancel=cancel_after_three)
    with pytest.raises(Cancelled):
        get_operation("sr").run(OpInputs(image), {"model": ref.name, "tile": 32}, ctx)
    assert calls["n"] == 4


def test_sr_is_deterministic_and_records_the_tiling(random_weights) -> None:
    ref = random_weights("compact")
    image = data.camera()[:96, :120]  # grey in, grey out
    ctx = RunContext(models={"model": ref}, seed=5)
    a = get_operation("sr").run(OpInputs(image), {"model": ref.name, "tile": 48}, ctx)
    b = get_operation("sr").run(OpInputs(image), {"model": ref.name, "tile": 48}, ctx)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.image.shape == (192, 240)
    assert a.record["facts"] == {
        "scale": 2,
        "tile": 48,
        "tile_shape": [40, 48],
        "tiles": 9,
        "overlap": 12,
    }
    assert a.record["model"] == {
        "name": ref.name,
        "sha256": ref.sha256,
        "architecture": "Compact",
        "scale": 2,
    }


@pytest.mark.parametrize(
    ("h", "w", "tile"), [(150, 173, 48), (97, 64, 32), (64, 300, 100), (40, 40, 64)]
)
def test_blending_weights_sum_to_one_everywhere(h: int, w: int, tile: int) -> None:
    """With a pointwise 'network' any error would come from the blending weights alone."""
    rng = np.random.default_rng(h * w)
    image = rng.random((h, w, 3), dtype=np.float32)

    def nearest_x3(t: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(t, 3, axis=0), 3, axis=1)

    tiled = run_tiled(
        image, nearest_x3, scale=3, out_channels=3, tile=tile, ctx=RunContext(), as_uint8=False
    )
    assert np.abs(tiled - nearest_x3(image)).max() < 1e-5
    as_bytes = run_tiled(image, nearest_x3, scale=3, out_channels=3, tile=tile, ctx=RunContext())
    assert np.array_equal(
        as_bytes, np.clip(np.rint(nearest_x3(image) * 255), 0, 255).astype(np.uint8)
    ) or (np.abs(as_bytes.astype(int) - np.rint(nearest_x3(image) * 255)).max() <= 1)
