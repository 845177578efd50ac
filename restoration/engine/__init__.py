"""The restoration engine: pure image code (numpy / torch / OpenCV / scipy / spandrel).

No Django imports here (import-linter enforces it): arrays in, arrays and a run record out.
See docs/engine.md for the contract.
"""

from .models import WeightsInfo, inspect_weights
from .operation import Operation, get_operation, list_operations, software_versions
from .params import ParamSpec
from .types import (
    Availability,
    BadInputError,
    Cancelled,
    EngineEnv,
    EngineError,
    ModelRef,
    OpInputs,
    OpResult,
    ParamError,
    RunContext,
    UnavailableError,
)

__all__ = [
    "Availability",
    "BadInputError",
    "Cancelled",
    "EngineEnv",
    "EngineError",
    "ModelRef",
    "OpInputs",
    "OpResult",
    "Operation",
    "ParamError",
    "ParamSpec",
    "RunContext",
    "UnavailableError",
    "WeightsInfo",
    "get_operation",
    "inspect_weights",
    "list_operations",
    "software_versions",
]
