"""Registry, parameter validation, schemas, availability and run records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from restoration.engine import (
    BadInputError,
    EngineEnv,
    ModelRef,
    OpInputs,
    ParamError,
    RunContext,
    get_operation,
    list_operations,
    software_versions,
)

NAMES = {
    "denoise",
    "descratch",
    "clahe",
    "sharpen",
    "upscale",
    "sr",
    "face_restore",
    "colorize",
    "colorize_hints",
    "color_transfer",
    "grayscale",
    "crop",
    "rotate",
    "animate",  # issue 12
}


def test_every_design_operation_is_registered_with_a_version_and_schema() -> None:
    ops = {op.name: op for op in list_operations()}
    # The suite also registers the misbehaving test_* operations (ARCHIVE_ENGINE_TEST_OPS).
    assert {name for name in ops if not name.startswith("test_")} == NAMES
    for op in ops.values():
        assert op.version and op.kind in ("classical", "ai", "synthetic") and op.description
        schema = op.json_schema()
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        # Defaults must themselves validate: the schema never advertises an invalid default.
        if not any(p.required for p in op.params):
            assert op.validate({}) == op.validate(op.validate({}))


def test_unknown_operation_is_a_param_error_on_op() -> None:
    with pytest.raises(ParamError) as exc:
        get_operation("deblur")
    assert exc.value.field == "op" and "denoise" in exc.value.message


@pytest.mark.parametrize(
    ("op", "params", "field", "fragment"),
    [
        (
            "denoise",
            {"strenght": 3},
            "strenght",
            "unknown parameter (allowed: color_strength, patch_size",
        ),
        ("denoise", {"strength": 51}, "strength", "must be in [0, 50], got 51"),
        ("denoise", {"strength": "strong"}, "strength", "must be a number"),
        ("denoise", {"patch_size": 4}, "patch_size", "must be one of 3, 5, 7, 9, 11"),
        ("upscale", {"scale": 0.5}, "scale", "must be in [1, 8]"),
        ("upscale", {"scale": True}, "scale", "must be a number"),
        ("rotate", {}, "angle", "is required"),
        ("crop", {"rect": {"x": 0, "y": 0, "width": 0, "height": 4}}, "rect.width", "must be >= 1"),
        ("sr", {}, "model", "is required"),
        ("sr", {"model": ""}, "model", "must not be empty"),
        ("colorize_hints", {"hints": []}, "hints", "needs at least one hint"),
        (
            "colorize_hints",
            {"hints": [{"x": 1, "y": 2, "color": "red"}]},
            "hints[0].color",
            "#rrggbb",
        ),
        (
            "colorize_hints",
            {"hints": [{"x": -1, "y": 2, "color": "#ff0000"}]},
            "hints[0].x",
            "non-negative",
        ),
        (
            "colorize_hints",
            {"hints": [{"x": 1, "y": 2, "color": "#ff0000", "size": 3}]},
            "hints[0]",
            "unknown key 'size'",
        ),
        ("face_restore", {"model": "m", "fidelity": 1.5}, "fidelity", "must be in [0, 1]"),
        ("color_transfer", {}, "reference", "is required"),
    ],
)
def test_bad_params_name_the_field_and_the_allowed_range(
    op: str, params: dict, field: str, fragment: str
) -> None:
    with pytest.raises(ParamError) as exc:
        get_operation(op).validate(params)
    assert exc.value.field == field
    assert fragment in str(exc.value)


def test_validation_fills_defaults_and_normalises_hints() -> None:
    clean = get_operation("colorize_hints").validate(
        {
            "hints": [
                {"x": 3, "y": 4, "color": "#A0B0C0", "citation": 7},
                {"points": [[1, 1], {"x": 5, "y": 6}], "color": "#000000", "radius": 0},
                [{"x": 2, "y": 2, "color": "#ffffff"}, {"x": 3, "y": 3, "color": "#ffffff"}],
            ]
        }
    )
    assert clean["hints"][0] == {"x": 3, "y": 4, "color": "#a0b0c0", "radius": 2, "citation": 7}
    assert clean["hints"][1]["points"] == [[1, 1], [5, 6]]
    assert clean["hints"][2]["points"] == [[2, 2], [3, 3]]
    assert clean["solve_pixels"] == 250_000
    assert get_operation("denoise").validate({"strength": 5}) == {
        "strength": 5.0,
        "patch_size": 7,
        "search_size": 21,
    }


def test_ai_operations_are_unavailable_without_weights_with_a_reason() -> None:
    env = EngineEnv(models=(), mtcnn_dir=None)
    for name in ("sr", "face_restore", "colorize"):
        avail = get_operation(name).availability(env)
        assert not avail.ok and "models scan" in (avail.reason or "")
    sr_model = ModelRef("x", Path("/nonexistent"), "0" * 64, "ESRGAN", "sr", 4)
    assert get_operation("sr").availability(EngineEnv(models=(sr_model,))).ok
    assert not get_operation("colorize").availability(EngineEnv(models=(sr_model,))).ok
    assert get_operation("grayscale").availability(env).ok


def test_run_record_is_complete_and_json_safe() -> None:
    import json

    image = np.full((8, 10, 3), 128, np.uint8)
    result = get_operation("grayscale").run(OpInputs(image), {}, RunContext(seed=3))
    record = result.record
    json.dumps(record)
    assert record["operation"] == "grayscale" and record["version"] == "1.0"
    assert (
        record["params"] == {"method": "rec601"}
        and record["seed"] == 3
        and record["device"] == "cpu"
    )
    assert record["model"] is None and record["citations"] == []
    assert record["timings"]["total_s"] >= 0
    assert set(record["software"]) >= {"python", "numpy", "torch", "opencv", "spandrel", "engine"}
    assert record["software"] == software_versions()
    assert record["input"] == {"width": 10, "height": 8, "channels": 3, "dtype": "uint8"}


def test_bad_inputs_are_rejected_before_running() -> None:
    op = get_operation("grayscale")
    with pytest.raises(BadInputError, match="dtype"):
        op.run(OpInputs(np.zeros((4, 4), np.float32)), {}, RunContext())
    with pytest.raises(BadInputError, match="shape"):
        op.run(OpInputs(np.zeros((4, 4, 4), np.uint8)), {}, RunContext())
    with pytest.raises(BadInputError, match="role 'reference' is required"):
        get_operation("color_transfer").run(
            OpInputs(np.zeros((4, 4, 3), np.uint8)), {"reference": 1}, RunContext()
        )
    with pytest.raises(BadInputError, match="unexpected input role"):
        op.run(
            OpInputs(np.zeros((4, 4), np.uint8), {"mask": np.zeros((4, 4), np.uint8)}),
            {},
            RunContext(),
        )
