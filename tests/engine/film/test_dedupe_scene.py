"""`dedupe` and `scene_detect` on the corpus clip (abomb.mp4: a repeat every 5th frame)."""

from __future__ import annotations

import numpy as np

from restoration.engine.film import get_film_operation, iter_chunks

from .conftest import CUTS, meta_for, run_op

REPEATS = {i for i in range(360) if i % 5 == 3}


def test_dedupe_finds_the_repeated_frames_and_drops_them(clip: list[np.ndarray]) -> None:
    op = get_film_operation("dedupe")
    out, ctx = run_op(op, clip, meta_for(clip, fps=29), {})
    a = ctx.analysis
    assert set(a["dropped"]) == REPEATS  # all 72, nothing else
    assert len(out) == 360 - 72 == a["frames_out"]
    assert a["cadence"] == {"period": 5, "phase": 3, "share": 1.0}
    # Most are found on their own measure; the pattern only adds the few coding disturbed.
    assert a["by_measure"] >= 64 and a["by_measure"] + a["by_cadence"] == 72
    kept = [i for i in range(360) if i not in REPEATS]
    assert all(np.array_equal(o, clip[i]) for o, i in zip(out, kept, strict=True))


def test_dedupe_without_cadence_finds_the_clear_repeats_only(clip: list[np.ndarray]) -> None:
    op = get_film_operation("dedupe")
    _, ctx = run_op(op, clip[:200], meta_for(clip[:200]), {"cadence": False, "drop": False})
    dropped = set(ctx.analysis["dropped"])
    assert dropped <= REPEATS and len(dropped) >= 36
    assert ctx.analysis["frames_out"] == 200  # drop=false: found and reported only


def test_dedupe_in_chunks_matches_one_run(clip: list[np.ndarray]) -> None:
    op = get_film_operation("dedupe")
    frames = clip[:150]
    whole, ctx = run_op(op, frames, meta_for(frames), {})
    parts, merged = iter_chunks(op, frames, meta_for(frames), {}, 40)
    assert merged["dropped"] == ctx.analysis["dropped"]
    assert merged["cadence"] == ctx.analysis["cadence"]
    assert merged["by_measure"] + merged["by_cadence"] == ctx.analysis["dropped_count"]
    assert len(parts) == len(whole)


def test_scene_detect_finds_the_three_cuts(clip: list[np.ndarray]) -> None:
    op = get_film_operation("scene_detect")
    out, ctx = run_op(op, clip, meta_for(clip), {})
    assert ctx.analysis["cuts"] == list(CUTS)
    assert ctx.analysis["shot_starts"] == [0, *CUTS]
    assert len(out) == 360 and out[10] is clip[10]  # frames pass unchanged
    _, merged = iter_chunks(op, clip, meta_for(clip), {}, 100)
    assert merged["cuts"] == list(CUTS)


def test_flicker_is_not_a_cut(clip: list[np.ndarray]) -> None:
    frames = [
        np.clip(f.astype(np.float32) * (1.25 if i % 2 else 0.8), 0, 255).astype(np.uint8)
        for i, f in enumerate(clip[140:200])
    ]
    _, ctx = run_op(get_film_operation("scene_detect"), frames, meta_for(frames), {})
    assert ctx.analysis["cuts"] == []
