"""The film operation contract: registry, params, frame checks, progress, cancel, laziness."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from restoration.engine import Cancelled, ParamError
from restoration.engine.film import (
    FILM_OPERATIONS,
    FilmContext,
    FilmMeta,
    get_film_operation,
    iter_chunks,
    list_film_operations,
    output_times,
    parse_fps,
)
from restoration.engine.types import BadInputError

from .conftest import counting, meta_for, run_op

NAMES = {
    "dedupe",
    "scene_detect",
    "stabilize",
    "deflicker",
    "temporal_denoise",
    "interpolate",
    "colorize_keyframes",
    "retime",
    "per_frame",
}
SAMPLE_PARAMS = {
    "interpolate": {"fps": "24000/1001"},
    "retime": {"true_fps": 16, "fps": 24},
    "per_frame": {"op": "clahe"},
    "colorize_keyframes": {
        "keyframes": [{"frame": 0, "hints": [{"x": 1, "y": 1, "color": "#AA2200"}]}]
    },
}


def frames_of(n: int, h: int = 24, w: int = 32) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return [np.roll(base, i, axis=1) for i in range(n)]


def test_registry_lists_every_film_operation_with_a_json_schema() -> None:
    assert set(FILM_OPERATIONS) == NAMES
    assert [op.name for op in list_film_operations()] == sorted(NAMES)
    for op in FILM_OPERATIONS.values():
        schema = op.json_schema()
        json.dumps(schema)
        assert schema["additionalProperties"] is False
        assert op.kind in ("classical", "ai")
    with pytest.raises(ParamError) as err:
        get_film_operation("telecine")
    assert err.value.field == "op"


@pytest.mark.parametrize("name", sorted(NAMES))
def test_validation_is_idempotent_and_window_and_footprint_are_bounded(name: str) -> None:
    op = get_film_operation(name)
    clean = op.validate(SAMPLE_PARAMS.get(name, {}))
    assert op.validate(clean) == clean
    json.dumps(clean)
    short = FilmMeta(1920, 1080, 24, 1_000)
    long = FilmMeta(1920, 1080, 24, 100_000)
    # Memory depends on the frame and the window, never on the film's length.
    assert op.footprint(short, clean).peak_bytes == op.footprint(long, clean).peak_bytes
    assert 0 <= op.window(clean) <= 1000
    with pytest.raises(ParamError):
        op.validate({"no_such_param": 1})


def test_fps_parsing() -> None:
    assert parse_fps(24) == 24
    assert parse_fps("24000/1001") == Fraction(24000, 1001)
    assert parse_fps(" 25 ") == 25
    assert parse_fps(23.976) == Fraction(2997, 125)
    for bad in ("abc", 0, -5, "1/0", True, None, float("nan"), 5000):
        with pytest.raises(ParamError):
            parse_fps(bad)
    op = get_film_operation("interpolate")
    assert op.validate({"fps": 24.0})["fps"] == "24"
    assert op.validate({"fps": "48000/2002"})["fps"] == "24000/1001"
    with pytest.raises(ParamError) as err:
        op.validate({"fps": "fast"})
    assert err.value.field == "fps"
    with pytest.raises(ParamError) as err:
        op.validate({"fps": 24, "method": "rife"})
    assert err.value.field == "model"


def test_output_times_partition_the_output_between_chunks() -> None:
    whole = output_times(0, 100, Fraction(16), Fraction(24))
    assert len(whole) == 150
    parts = output_times(0, 33, Fraction(16), Fraction(24)) + output_times(
        33, 100, Fraction(16), Fraction(24)
    )
    assert parts == whole


def test_a_wrong_frame_is_refused() -> None:
    op = get_film_operation("deflicker")
    frames = frames_of(3)
    frames[1] = frames[1][:, :, 0]
    with pytest.raises(BadInputError, match="frame 1"):
        run_op(op, frames, meta_for(frames_of(1)), {})
    with pytest.raises(BadInputError):
        FilmMeta(0, 10, 24)
    with pytest.raises(BadInputError):
        FilmMeta(10, 10, 0)


def test_progress_counts_frames_and_cancel_stops_between_frames() -> None:
    op = get_film_operation("deflicker")
    frames = frames_of(20)
    seen: list[int] = []
    fractions: list[float] = []
    ctx = FilmContext(on_frame=seen.append, progress=fractions.append)
    out, ctx = run_op(op, frames, meta_for(frames), {"radius": 2}, ctx)
    assert len(out) == 20 and seen == list(range(1, 21))
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert ctx.analysis["frames_in"] == 20 and ctx.analysis["frames_out"] == 20
    assert ctx.record["operation"] == "deflicker" and ctx.record["output"]["frames"] == 20

    pulled = [0]
    ctx = FilmContext(should_cancel=lambda: pulled[0] >= 7)
    with pytest.raises(Cancelled):
        list(op.run(counting(frames, pulled), meta_for(frames), {"radius": 2}, ctx))
    assert pulled[0] == 7


@pytest.mark.parametrize(
    "name", ["dedupe", "deflicker", "stabilize", "temporal_denoise", "interpolate"]
)
def test_operations_pull_only_their_window_ahead(name: str) -> None:
    """Streaming: the first output frame comes after at most window + 2 input frames, so what
    is held is bounded by the window, not by the film."""
    op = get_film_operation(name)
    params = op.validate(SAMPLE_PARAMS.get(name, {"fps": 48} if name == "interpolate" else {}))
    frames = frames_of(200)
    pulled = [0]
    gen = op.run(counting(frames, pulled), meta_for(frames), params, FilmContext())
    next(gen)
    assert pulled[0] <= op.window(params) + 2
    for _ in range(50):
        next(gen)
    assert pulled[0] <= 50 + op.window(params) + 2


def test_chunks_with_overlap_give_what_one_run_gives() -> None:
    op = get_film_operation("deflicker")
    frames = frames_of(30)
    meta = meta_for(frames)
    whole, ctx = run_op(op, frames, meta, {"radius": 3})
    parts, merged = iter_chunks(op, frames, meta, {"radius": 3}, 8)
    assert len(parts) == len(whole)
    assert all(np.array_equal(a, b) for a, b in zip(parts, whole, strict=True))
    assert merged["mean_luma_out"] == ctx.analysis["mean_luma_out"]
