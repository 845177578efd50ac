"""`per_frame`: any still operation of the engine's registry over every frame, with its params.

The still operation runs exactly as it does on a photograph (same validation, same code, same
record rules), one frame at a time: memory is one frame and the operation's own working set.
Its extra inputs (``color_transfer``'s ``reference``) and models (``sr``, ``face_restore``,
``colorize``) are resolved by the caller as for a still job: ``artifacts_needed`` and
``models_needed`` name them. The step's kind is the still operation's (``ai`` for a network).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..operation import Footprint
from ..registry import get_operation, list_operations
from ..types import Availability, EngineEnv, ModelRef, OpInputs, ParamError, RunContext
from .base import FilmContext, FilmMeta, FilmOperation, JsonParam

# Grey frames of a film are stored as RGB: the colour operations are the point; `grayscale`
# keeps RGB output by replicating the channel.


def _check_op(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ParamError(name, f"must be the name of a still operation, got {value!r}")
    get_operation(value)  # ParamError on field "op" with the known names
    return value


def _check_inner(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ParamError(name, f"must be an object, got {type(value).__name__}")
    return dict(value)


class PerFrame(FilmOperation):
    name = "per_frame"
    version = "1.0"
    description = (
        "Run any still operation (denoise, descratch, sr, face_restore, colorize, "
        "colorize_hints, clahe, crop, rotate, ...) over every frame, with its parameters."
    )
    params = (
        JsonParam(
            "op",
            "str",
            required=True,
            checker=_check_op,
            schema={"type": "string"},
            description="the still operation",
        ),
        JsonParam(
            "params",
            "str",
            default=None,
            checker=_check_inner,
            schema={"type": "object"},
            description="its parameters",
        ),
    )
    frames_held = 2.0

    def op_for(self, params: Mapping[str, Any]) -> Any:
        return get_operation(params["op"])

    def validate(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        clean = super().validate(params)
        inner = self.op_for(clean)
        try:
            clean["params"] = inner.validate(clean.get("params") or {})
        except ParamError as exc:
            raise ParamError(f"params.{exc.field}", exc.message) from None
        return clean

    def json_schema(self) -> dict[str, Any]:
        schema = super().json_schema()
        schema["properties"]["op"]["enum"] = [op.name for op in list_operations()]
        return schema

    def kind_for(self, params: Mapping[str, Any]) -> str:
        return str(self.op_for(params).kind)

    def availability(self, env: EngineEnv) -> Availability:
        return Availability(True)

    def models_needed(self, params: Mapping[str, Any]) -> dict[str, Any]:
        inner = self.op_for(params)
        p = params.get("params") or {}
        return {name: p[name] for name in inner.model_params if p.get(name) is not None}

    def artifacts_needed(self, params: Mapping[str, Any]) -> dict[str, Any]:
        inner = self.op_for(params)
        p = params.get("params") or {}
        return {
            spec.name: p[spec.name]
            for spec in inner.params
            if spec.type == "artifact" and p.get(spec.name) is not None
        }

    def output_size(
        self,
        meta: FilmMeta,
        params: Mapping[str, Any],
        models: Mapping[str, ModelRef] | None = None,
    ) -> tuple[int, int]:
        inner = self.op_for(params)
        shape = inner.output_shape((meta.height, meta.width, 3), params["params"], models or {})
        return int(shape[1]), int(shape[0])

    def footprint(self, meta: FilmMeta, params: Mapping[str, Any]) -> Footprint:
        inner = self.op_for(params)
        fp = inner.footprint((meta.height, meta.width, 3), params["params"])
        frame = meta.width * meta.height * 3
        h, w = fp.output_shape[:2]
        return Footprint(
            peak_bytes=fp.peak_bytes + int(self.frames_held * frame) + 3 * h * w,
            output_shape=(h, w, 3),
        )

    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        inner = self.op_for(params)
        inner_params = params["params"]
        extra = {
            role: ctx.inputs[role] for role in self.artifacts_needed(params) if role in ctx.inputs
        }
        # The still operation reports progress per stage of one image: keep it off the film's.
        sub = RunContext(
            seed=ctx.seed,
            device=ctx.device,
            tile_size=ctx.tile_size,
            should_cancel=ctx.should_cancel,
            models=ctx.models,
            mtcnn_dir=ctx.mtcnn_dir,
        )
        facts: list[dict[str, Any]] = []
        record: dict[str, Any] = {}
        for index, frame in frames:
            if not meta.emits(index):
                continue
            result = inner.run(OpInputs(frame, dict(extra)), inner_params, sub)
            out = result.image
            if out.ndim == 2:
                out = np.repeat(out[:, :, None], 3, axis=2)
            record = result.record
            facts.append({"frame": index, **_small(record.get("facts", {}))})
            yield np.ascontiguousarray(out)
        ctx.analysis = {
            "still_operation": inner.name,
            "still_version": inner.version,
            "per_frame_facts": facts,
            "model": record.get("model"),
            "citations": record.get("citations", []),
        }


def _small(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Scalars only: per-frame detail lists (face boxes, ...) would make the analysis huge."""
    return {k: v for k, v in facts.items() if isinstance(v, int | float | str | bool)}
