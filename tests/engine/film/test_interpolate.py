"""`interpolate` and `retime`: timing of any ratio, and frames rebuilt from their neighbours."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from restoration.engine import ModelRef, inspect_weights
from restoration.engine.film import FilmContext, get_film_operation, iter_chunks
from restoration.engine.film.frames import luma, psnr
from restoration.engine.film.interpolate import DisInterpolator, blend

from .conftest import RIFE, meta_for, run_op

# Shot boundaries of the de-duplicated clip (the clip's 44, 134, 299 less the repeats before).
DEDUPED_CUTS = (35, 107, 239)


def triplets(n: int, step: int) -> list[int]:
    """Starts i of (i, i+1, i+2) inside one shot, every `step` frames."""
    return [i for i in range(0, n - 2, step) if not any(i < c <= i + 2 for c in DEDUPED_CUTS)]


def ramp(n: int) -> list[np.ndarray]:
    return [np.full((16, 24, 3), 2 * i, np.uint8) for i in range(n)]


@pytest.mark.parametrize(
    ("src", "dst", "n", "expected"),
    [(16, 24, 32, 48), (18, 25, 36, 50), (24, "24000/1001", 48, 48), (16, 8, 32, 16)],
)
def test_any_ratio_gives_the_right_frames_and_chunks_agree(src, dst, n, expected) -> None:  # type: ignore[no-untyped-def]
    op = get_film_operation("interpolate")
    params = op.validate({"fps": dst, "method": "blend"})
    frames = ramp(n)
    meta = meta_for(frames, fps=src)
    out, ctx = run_op(op, frames, meta, params)
    assert len(out) == expected == op.output_frame_count(meta, params)
    assert op.output_fps(meta, params) == Fraction(dst) if not isinstance(dst, str) else True
    # Frame k shows time k/dst: its value is the ramp at position k*src/dst.
    ratio = Fraction(src) / Fraction(dst if not isinstance(dst, str) else Fraction(dst))
    for k in (1, 5, expected - 3):
        p = float(k * ratio)
        assert abs(int(out[k][0, 0, 0]) - 2 * p) <= 1.01
    parts, _ = iter_chunks(op, frames, meta, params, 7)
    assert len(parts) == len(out) and all(
        np.array_equal(a, b) for a, b in zip(parts, out, strict=True)
    )


def test_never_blends_across_a_cut() -> None:
    a = [np.full((32, 48, 3), 30, np.uint8)] * 6
    rng = np.random.default_rng(3)
    b = [rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)] * 6
    frames = a + b
    op = get_film_operation("interpolate")
    out, ctx = run_op(op, frames, meta_for(frames, fps=12), {"fps": 24, "method": "blend"})
    for o in out:
        assert np.array_equal(o, a[0]) or np.array_equal(o, b[0]) or int(o[0, 0, 0]) == 30
    assert ctx.analysis["repeated_at_cuts"] == [11]


def test_dis_rebuilds_dropped_frames_better_than_a_blend(deduped: list[np.ndarray]) -> None:
    """Drop the middle frame of (i, i+1, i+2), rebuild it at t = 1/2 and score luma PSNR
    (README: blend 27.2 dB, DIS 31.0 dB over 135 triplets; here every 6th of ours)."""
    dis = DisInterpolator()
    p_blend, p_dis = [], []
    for i in triplets(len(deduped), 12):
        a, mid, c = deduped[i], deduped[i + 1], deduped[i + 2]
        p_blend.append(psnr(luma(blend(a, c, 0.5)), luma(mid)))
        p_dis.append(psnr(luma(dis((i, i + 2), a, c, 0.5)), luma(mid)))
    assert len(p_dis) >= 20
    assert np.mean(p_dis) > np.mean(p_blend) + 2.5
    assert np.mean(p_dis) > 30.5


def test_interpolate_op_doubles_the_rate_with_dis(deduped: list[np.ndarray]) -> None:
    frames = deduped[110:122]
    op = get_film_operation("interpolate")
    out, ctx = run_op(op, frames, meta_for(frames, fps=12), {"fps": 24})
    assert len(out) == 24 and ctx.analysis["built"] == 11
    assert all(np.array_equal(out[2 * k], frames[k]) for k in range(12))
    assert ctx.record["kind"] == "classical" and ctx.record["output"]["fps"] == "24"


@pytest.fixture(scope="module")
def rife_ref() -> ModelRef:
    if not RIFE.is_file():
        pytest.skip(f"RIFE weights are absent from {RIFE}")
    info = inspect_weights(RIFE)
    return ModelRef("rife-hdv3", RIFE, info.sha256, info.architecture, info.purpose)


def test_models_scan_recognises_rife(rife_ref: ModelRef) -> None:
    info = inspect_weights(RIFE)
    assert (info.architecture, info.purpose, info.license) == (
        "RIFE-HDv3",
        "interpolate",
        "permissive",
    )
    assert info.sha256 == "13ce6cbe8397534250e44b28e05936c3aa43e8b91a7044daa2fbc7c4ebec0c1b"


def test_rife_loads_key_for_key_and_beats_a_blend(
    rife_ref: ModelRef, deduped: list[np.ndarray]
) -> None:
    from safetensors.torch import load_file

    from restoration.engine.film.rife import build_random, load_rife

    net = load_rife(rife_ref)
    state = load_file(str(RIFE))
    assert set(net.state_dict()) == set(state)  # every key, no more: loaded with strict=True
    assert set(build_random().state_dict()) == set(state)
    op = get_film_operation("interpolate")
    p_rife, p_blend = [], []
    # Three triplets of the trucks shot (107..238 here), where the camera moves: over the whole
    # clip RIFE measured 31.9 dB against 28.0 for a blend (every 4th triplet, 35).
    for i in (120, 156, 192):
        a, mid, c = deduped[i], deduped[i + 1], deduped[i + 2]
        pair = [a, c]
        ctx = FilmContext(models={"model": rife_ref})
        out = list(
            op.run(iter(pair), meta_for(pair, fps=12), {"fps": 24, "model": "rife-hdv3"}, ctx)
        )
        assert len(out) == 4 and ctx.record["kind"] == "ai"
        assert ctx.record["model"]["sha256"] == rife_ref.sha256
        p_rife.append(psnr(luma(out[1]), luma(mid)))
        p_blend.append(psnr(luma(blend(a, c, 0.5)), luma(mid)))
    assert np.mean(p_rife) > np.mean(p_blend) + 2.0


def test_retime_plays_16fps_at_true_speed() -> None:
    op = get_film_operation("retime")
    frames = ramp(32)
    meta = meta_for(frames, fps=24)
    out, ctx = run_op(op, frames, meta, {"true_fps": 16, "fps": 24})
    assert len(out) == 48  # 2 s of film at 16 fps, delivered at 24
    shown = [int(o[0, 0, 0]) // 2 for o in out[:9]]
    assert shown == [0, 0, 1, 2, 2, 3, 4, 4, 5]  # the projector's 2:1 cadence
    assert ctx.analysis["speed_factor"] == 1.5
    out, ctx = run_op(op, frames, meta, {"true_fps": 16})
    assert len(out) == 32 and ctx.record["output"]["fps"] == "16"
    assert all(np.array_equal(a, b) for a, b in zip(out, frames, strict=True))


def test_chunks_cut_at_a_known_shot_boundary_agree_with_one_run() -> None:
    """The runner cuts at known shots with no context across them: same frames either way."""
    a = [np.full((16, 24, 3), 10 + i, np.uint8) for i in range(7)]
    b = [np.full((16, 24, 3), 150 + i, np.uint8) for i in range(9)]
    frames = a + b
    op = get_film_operation("interpolate")
    params = op.validate({"fps": 25, "method": "blend"})
    meta = meta_for(frames, fps=18, shots=(0, 7))
    whole, _ = run_op(op, frames, meta, params)
    first, _ = run_op(op, a, meta.chunk(start=0, emit_start=0, emit_stop=7), params)
    second, _ = run_op(op, b, meta.chunk(start=7, emit_start=7, emit_stop=16), params)
    assert len(first) + len(second) == len(whole)
    assert all(np.array_equal(x, y) for x, y in zip(first + second, whole, strict=True))
