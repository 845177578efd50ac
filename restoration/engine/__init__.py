"""The restoration engine: pure image code (numpy / torch / OpenCV / scipy / spandrel).

No Django imports here (import-linter enforces it): arrays in, arrays and a run record out.
See docs/engine.md for the contract.
"""

import os

# torch's OpenMP workers spin while waiting for work by default. On a small shared machine
# (2 cores, several processes) that spinning starves the other threads: a 2-thread Real-ESRGAN
# pass measured 5-10x slower under load than with passive waiting, which costs next to nothing
# when the machine is idle. It must be set before torch is first imported, which happens in
# this package (lazily); an operator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .models import WeightsInfo  # noqa: E402
from .operation import Operation, software_versions  # noqa: E402
from .params import ParamSpec  # noqa: E402
from .registry import get_operation, list_operations  # noqa: E402
from .types import (  # noqa: E402
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
from .weights import inspect_weights  # noqa: E402

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
