"""The Operation base class, the registry of operations, and the run record."""

from __future__ import annotations

import platform
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any, ClassVar, Literal

import numpy as np

from .imageutil import check_image
from .params import ParamSpec, params_json_schema, validate_params
from .types import (
    Availability,
    BadInputError,
    EngineEnv,
    ModelRef,
    OpInputs,
    OpResult,
    RunContext,
)

ENGINE_VERSION = "1.0.0"


@cache
def software_versions() -> dict[str, str]:
    """Versions that influence output bytes; stored on every step."""

    def dist(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "absent"

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": dist("torch"),
        "opencv": dist("opencv-python-headless"),
        "scipy": dist("scipy"),
        "scikit-image": dist("scikit-image"),
        "spandrel": dist("spandrel"),
        "spandrel-extra-arches": dist("spandrel-extra-arches"),
        "engine": ENGINE_VERSION,
    }


@dataclass(frozen=True)
class Footprint:
    """What running an operation on an image of ``shape`` takes (peak bytes of working memory
    on top of the libraries) and gives (the output's shape): admission control uses it before
    a job is queued, from the input's size and the parameters alone."""

    peak_bytes: int
    output_shape: tuple[int, ...]


def _pixels(shape: tuple[int, ...]) -> int:
    return int(shape[0]) * int(shape[1])


@dataclass
class Applied:
    """What an operation's `apply` returns; `run` wraps it into an OpResult with the record."""

    image: np.ndarray
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class Operation(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    kind: ClassVar[Literal["classical", "ai"]] = "classical"
    description: ClassVar[str] = ""
    params: ClassVar[tuple[ParamSpec, ...]] = ()
    input_roles: ClassVar[Mapping[str, bool]] = {}
    output_roles: ClassVar[tuple[str, ...]] = ()
    # Peak working memory per pixel (of the larger of input and output, as RGB), in bytes, and
    # a fixed part (models, buffers): measured by bench/memory.py, with a margin above the
    # largest measurement. The default is generous for float32 work on a few copies.
    bytes_per_pixel: ClassVar[float] = 96.0
    fixed_bytes: ClassVar[int] = 32 * 2**20

    def json_schema(self) -> dict[str, Any]:
        schema = params_json_schema(self.params)
        schema["title"] = self.name
        schema["description"] = self.description
        return schema

    def validate(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return validate_params(self.params, params)

    def availability(self, env: EngineEnv) -> Availability:
        return Availability(True)

    def output_shape(
        self, shape: tuple[int, ...], params: Mapping[str, Any], models: Mapping[str, ModelRef]
    ) -> tuple[int, ...]:
        """The output's shape for an input of ``shape`` (validated params): same by default."""
        return shape

    def geometry(self, shape: tuple[int, ...], params: Mapping[str, Any]) -> np.ndarray | None:
        """The 2x3 map from input to output pixels (validated params), for pairing faces across
        the step (engine/identity.py); None: the output is the input resized to its own size."""
        return None

    def extra_bytes(self, shape: tuple[int, ...], params: Mapping[str, Any]) -> int:
        """Working memory that does not scale with the image (e.g. a solver's system size)."""
        return 0

    def footprint(
        self,
        shape: tuple[int, ...],
        params: Mapping[str, Any],
        models: Mapping[str, ModelRef] | None = None,
    ) -> Footprint:
        shape = tuple(int(n) for n in shape)
        out = self.output_shape(shape, params, models or {})
        pixels = max(_pixels(shape), _pixels(out))
        peak = (
            int(pixels * self.bytes_per_pixel) + self.fixed_bytes + self.extra_bytes(shape, params)
        )
        return Footprint(peak_bytes=peak, output_shape=out)

    @property
    def model_params(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.type == "model")

    def run(self, inputs: OpInputs, params: Mapping[str, Any], ctx: RunContext) -> OpResult:
        # Validation is idempotent, so re-validating guards direct engine users for free.
        clean = self.validate(params)
        image = check_image(inputs.image)
        extra = self._check_extra(inputs.extra)
        for spec in self.params:
            # An artifact parameter names the file the caller must resolve into that role.
            if spec.type == "artifact" and spec.name in clean and spec.name not in extra:
                raise BadInputError(f"{self.name}: input role {spec.name!r} is required")
        _seed_everything(ctx.seed)
        started = time.perf_counter()
        applied = self.apply(OpInputs(image, extra), clean, ctx)
        total = time.perf_counter() - started
        ctx.report(1.0)
        record = self._record(image, clean, ctx, applied, total)
        return OpResult(image=applied.image, outputs=applied.outputs, record=record)

    @abstractmethod
    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied: ...

    def _check_extra(self, extra: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        unknown = set(extra) - set(self.input_roles)
        if unknown:
            raise BadInputError(f"{self.name}: unexpected input role {sorted(unknown)[0]!r}")
        for role, required in self.input_roles.items():
            if required and role not in extra:
                raise BadInputError(f"{self.name}: input role {role!r} is required")
        return {role: check_image(arr, role) for role, arr in extra.items()}

    def _record(
        self,
        image: np.ndarray,
        params: dict[str, Any],
        ctx: RunContext,
        applied: Applied,
        total: float,
    ) -> dict[str, Any]:
        model = None
        for pname in self.model_params:
            if pname in ctx.models:
                model = ctx.models[pname].as_record()
        facts = dict(applied.facts)
        citations = facts.pop("citations", [])
        return {
            "operation": self.name,
            "version": self.version,
            "kind": self.kind,
            "params": params,
            "seed": ctx.seed,
            "device": ctx.device,
            "software": software_versions(),
            "model": model,
            "input": {
                "width": int(image.shape[1]),
                "height": int(image.shape[0]),
                "channels": 1 if image.ndim == 2 else 3,
                "dtype": str(image.dtype),
            },
            "output": {
                "width": int(applied.image.shape[1]),
                "height": int(applied.image.shape[0]),
                "channels": 1 if applied.image.ndim == 2 else 3,
            },
            "timings": {
                "total_s": round(total, 4),
                **{k: round(v, 4) for k, v in applied.timings.items()},
            },
            "facts": facts,
            "citations": citations,
        }


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch
    except ImportError:  # classical ops run without torch
        return
    torch.manual_seed(seed)
