"""`colorize_keyframes`: colour from hand-coloured or hinted keyframes, carried along flow."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from restoration.engine import ParamError
from restoration.engine.film import FilmContext, FilmMeta, get_film_operation
from restoration.engine.film.colorize import align_keyframe
from restoration.engine.imageutil import lab_error

from .conftest import keyframe, run_op

M = 10  # border left out of ΔE: the hand-coloured frames are cropped a little differently


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return lab_error(a[M:-M, M:-M], b[M:-M, M:-M])


def test_keyframes_near_5_and_194_predict_the_one_near_105(clip: list[np.ndarray]) -> None:
    """The README's hold-out: colour keyframes 874 (frame ~5) and 1063 (~194), score the
    hand-coloured 968 (~105, the road sign) by mean ΔE*ab against grey. Frame 105 lies in a shot
    with no keyframe, so its colour comes from the exemplar (region matching)."""
    index = list(range(3, 8)) + list(range(104, 107)) + list(range(192, 197))
    frames = [clip[i] for i in index]
    # The op sees this subset as a film of three shots (0, 5, 8); keyframes at 2 and 10.
    meta = FilmMeta(432, 320, 24, len(frames), shots=(0, 5, 8))
    params = {
        "keyframes": [
            {"frame": 2, "image": 101, "citations": [3]},
            {"frame": 10, "image": 102, "note": "hand-coloured, DeepRemaster example"},
        ]
    }
    ctx = FilmContext(inputs={"keyframe_2": keyframe(874), "keyframe_10": keyframe(1063)})
    out, ctx = run_op(get_film_operation("colorize_keyframes"), frames, meta, params, ctx)
    target, facts = align_keyframe(keyframe(968), clip[105])
    assert facts["correlation"] > 0.95
    ours, grey = delta_e(out[index.index(105)], target), delta_e(clip[105], target)
    assert ours < 0.85 * grey  # measured: 16.9 against 22.2
    a = ctx.analysis
    assert a["sources"][index.index(105)] == "exemplar"
    assert a["sources"][2] == "keyframe" and a["sources"][3] == "propagated"
    assert a["sources"][0] == "propagated"  # before the keyframe: carried backwards
    evidence = {k["frame"]: k for k in a["keyframes"]}
    assert evidence[2]["citations"] == [3] and evidence[2]["kind"] == "image"
    assert evidence[2]["alignment"]["correlation"] > 0.95
    assert evidence[10]["note"].startswith("hand-coloured")
    assert a["citations"] == [3]
    # The keyframes themselves come out in the hand colour (on the film's own lightness).
    k5, _ = align_keyframe(keyframe(874), clip[5])
    assert delta_e(out[2], k5) < 0.5 * delta_e(clip[5], k5)


def pan(n: int, step: int) -> list[np.ndarray]:
    """Windows of a real colour photograph moving right and down: a camera pan with truth."""
    photo = data.astronaut()
    return [
        np.ascontiguousarray(
            photo[
                40 + i * step // 2 : 40 + i * step // 2 + 240, 20 + i * step : 20 + i * step + 320
            ]
        )
        for i in range(n)
    ]


def grey3(f: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
    return np.repeat(g[..., None], 3, axis=2)


def test_colour_follows_the_motion_within_a_shot() -> None:
    truth = pan(13, 6)
    frames = [grey3(f) for f in truth]
    meta = FilmMeta(320, 240, 24, len(frames))
    op = get_film_operation("colorize_keyframes")
    # One keyframe at each end: colour is carried forwards and backwards and blended.
    params = {
        "keyframes": [{"frame": 0, "image": 1}, {"frame": 12, "image": 2}],
        "fallback": "none",
    }
    ctx = FilmContext(inputs={"keyframe_0": truth[0], "keyframe_12": truth[12]})
    out, ctx = run_op(op, frames, meta, params, ctx)
    assert ctx.analysis["sources"][6] == "propagated"
    mid = delta_e(out[6], truth[6])
    assert mid < 0.4 * delta_e(frames[6], truth[6])
    # Forwards only (no later keyframe) still carries it.
    params = {"keyframes": [{"frame": 0, "image": 1}], "fallback": "none"}
    out, _ = run_op(op, frames, meta, params, FilmContext(inputs={"keyframe_0": truth[0]}))
    assert delta_e(out[8], truth[8]) < 0.5 * delta_e(frames[8], truth[8])


def test_hint_keyframes_and_their_citations() -> None:
    truth = pan(6, 4)
    frames = [grey3(f) for f in truth]
    meta = FilmMeta(320, 240, 24, len(frames))
    hints = [{"x": 160, "y": 20, "color": "#3060c0", "radius": 6, "citation": 42}]
    params = {"keyframes": [{"frame": 2, "hints": hints, "citations": [7]}]}
    out, ctx = run_op(get_film_operation("colorize_keyframes"), frames, meta, params)
    kf = ctx.analysis["keyframes"][0]
    assert kf["kind"] == "hints" and kf["citations"] == [7, 42]
    assert ctx.analysis["citations"] == [7, 42]
    b = cv2.cvtColor(out[2], cv2.COLOR_RGB2LAB)[..., 2].astype(int) - 128
    assert b[20, 160] < -15  # blue where the hint said so
    assert ctx.analysis["sources"] == [
        "propagated",
        "propagated",
        "keyframe",
        "propagated",
        "propagated",
        "propagated",
    ]


def test_keyframe_params_are_checked() -> None:
    op = get_film_operation("colorize_keyframes")
    for bad, field in [
        ({"keyframes": []}, "keyframes"),
        ({"keyframes": [{"frame": -1, "image": 1}]}, "keyframes[0].frame"),
        ({"keyframes": [{"frame": 1}]}, "keyframes[0]"),
        ({"keyframes": [{"frame": 1, "image": 1, "hints": []}]}, "keyframes[0]"),
        (
            {"keyframes": [{"frame": 1, "hints": [{"x": 1, "y": 1, "color": "red"}]}]},
            "keyframes[0].hints[0].color",
        ),
        ({"keyframes": [{"frame": 1, "image": 1}, {"frame": 1, "image": 2}]}, "keyframes[1].frame"),
    ]:
        with pytest.raises(ParamError) as err:
            op.validate(bad)
        assert err.value.field == field
    clean = op.validate({"keyframes": [{"frame": 9, "image": 3}, {"frame": 2, "image": "a1"}]})
    assert [k["frame"] for k in clean["keyframes"]] == [2, 9]
    assert op.artifacts_needed(clean) == {"keyframe_2": "a1", "keyframe_9": 3}


def test_chunks_with_the_window_give_what_one_run_gives() -> None:
    from restoration.engine.film import iter_chunks

    truth = pan(10, 6)
    frames = [grey3(f) for f in truth]
    meta = FilmMeta(320, 240, 24, len(frames))
    op = get_film_operation("colorize_keyframes")
    params = op.validate(
        {"keyframes": [{"frame": 2, "image": 1}, {"frame": 8, "image": 2}], "max_gap": 20}
    )
    inputs = {"keyframe_2": truth[2], "keyframe_8": truth[8]}
    whole, ctx = run_op(op, frames, meta, params, FilmContext(inputs=inputs))
    parts, merged = iter_chunks(op, frames, meta, params, 4, lambda: FilmContext(inputs=inputs))
    assert all(np.array_equal(a, b) for a, b in zip(parts, whole, strict=True))
    assert merged["sources"] == ctx.analysis["sources"]
    assert [k["frame"] for k in merged["keyframes"]] == [2, 8]
