"""`per_frame`: a still operation over every frame, exactly as on a photograph."""

from __future__ import annotations

import numpy as np
import pytest

from restoration.engine import OpInputs, ParamError, RunContext, get_operation
from restoration.engine.film import FilmContext, get_film_operation

from .conftest import meta_for, run_op


def test_per_frame_runs_the_still_operation_on_each_frame(clip: list[np.ndarray]) -> None:
    frames = [f[:96, :128].copy() for f in clip[:4]]
    op = get_film_operation("per_frame")
    out, ctx = run_op(op, frames, meta_for(frames), {"op": "clahe", "params": {"clip_limit": 3}})
    still = get_operation("clahe")
    for f, o in zip(frames, out, strict=True):
        expected = still.run(OpInputs(f), {"clip_limit": 3}, RunContext()).image
        assert np.array_equal(o, expected)
    assert ctx.analysis["still_operation"] == "clahe"
    assert len(ctx.analysis["per_frame_facts"]) == 4


def test_per_frame_sizes_params_and_kind() -> None:
    op = get_film_operation("per_frame")
    frames = [np.full((20, 30, 3), 99, np.uint8)] * 3
    params = op.validate({"op": "upscale", "params": {"scale": 2}})
    assert op.output_size(meta_for(frames), params) == (60, 40)
    out, _ = run_op(op, frames, meta_for(frames), params)
    assert out[0].shape == (40, 60, 3)
    out, _ = run_op(op, frames, meta_for(frames), {"op": "grayscale"})
    assert out[0].shape == (20, 30, 3)  # grey frames stay RGB in a film
    with pytest.raises(ParamError) as err:
        op.validate({"op": "denoise", "params": {"strength": 99}})
    assert err.value.field == "params.strength"
    with pytest.raises(ParamError) as err:
        op.validate({"op": "no-such-op"})
    assert err.value.field == "op"
    assert op.kind_for(op.validate({"op": "sr", "params": {"model": "x"}})) == "ai"
    assert op.models_needed(op.validate({"op": "sr", "params": {"model": "x"}})) == {"model": "x"}
    assert op.artifacts_needed(
        op.validate({"op": "color_transfer", "params": {"reference": 7}})
    ) == {"reference": 7}


def test_per_frame_with_a_network_resolves_its_model(random_weights) -> None:  # type: ignore[no-untyped-def]
    """A randomly initialised Compact x2 network (the plumbing only: its output is noise)."""
    ref = random_weights("compact")
    op = get_film_operation("per_frame")
    params = op.validate({"op": "sr", "params": {"model": ref.name}})
    frames = [np.full((12, 16, 3), 80 + 20 * i, np.uint8) for i in range(2)]
    ctx = FilmContext(models={"model": ref})
    assert op.output_size(meta_for(frames), params, {"model": ref}) == (32, 24)
    out, ctx = run_op(op, frames, meta_for(frames), params, ctx)
    assert [o.shape for o in out] == [(24, 32, 3)] * 2
    assert ctx.record["kind"] == "ai"
    assert ctx.record["model"]["sha256"] == ref.sha256
    assert ctx.record["output"]["width"] == 32
