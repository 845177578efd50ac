"""Value types shared by every operation: inputs, context, results, model references, errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class ParamError(EngineError):
    """A parameter is unknown, missing, of the wrong type or out of range."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnavailableError(EngineError):
    """The operation cannot run here (no registered weights, no MTCNN files, ...)."""


class BadInputError(EngineError):
    """The input image or an extra input cannot be processed (wrong shape, dtype, size)."""


class Cancelled(EngineError):
    """The caller asked to stop; raised between tiles or stages, never mid-write."""


def _noop_progress(fraction: float) -> None:
    return None


def _never_cancel() -> bool:
    return False


@dataclass(frozen=True)
class ModelRef:
    """A registered weights file, resolved by the caller from a model name or id."""

    name: str
    path: Path
    sha256: str
    architecture: str
    purpose: str
    scale: int = 1

    def as_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "architecture": self.architecture,
            "scale": self.scale,
        }


@dataclass(frozen=True)
class EngineEnv:
    """What this installation has: used by `Operation.availability`."""

    models: Sequence[ModelRef] = ()
    mtcnn_dir: Path | None = None


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str | None = None


@dataclass
class OpInputs:
    """The main image (HxWx3 RGB or HxW grey, uint8 or uint16) and extra inputs by role."""

    image: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class OpResult:
    """Output image (uint8 RGB HxWx3 or uint8 grey HxW), extra outputs by role, run record."""

    image: np.ndarray
    outputs: dict[str, np.ndarray]
    record: dict[str, Any]


@dataclass
class RunContext:
    """How one run is executed: seed, device, tiling, progress and cancellation hooks, models."""

    seed: int = 0
    device: str = "cpu"
    tile_size: int | None = None
    progress: Callable[[float], None] = _noop_progress
    should_cancel: Callable[[], bool] = _never_cancel
    models: Mapping[str, ModelRef] = field(default_factory=dict)
    mtcnn_dir: Path | None = None

    def report(self, fraction: float) -> None:
        self.progress(min(1.0, max(0.0, float(fraction))))

    def check_cancel(self) -> None:
        if self.should_cancel():
            raise Cancelled("cancelled by the caller")

    def model(self, param: str) -> ModelRef:
        try:
            return self.models[param]
        except KeyError:
            raise UnavailableError(
                f"no model resolved for parameter {param!r}: register weights and name them"
            ) from None
