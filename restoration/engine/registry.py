"""The registry of engine operations: every operation this installation can run, listed here.

Explicit on purpose: the operation modules import ``operation`` (the base class) and nothing
imports them back but this module, so there is no import cycle and no registration by side
effect. A new operation is one line in ``_BUILTIN``.
"""

from __future__ import annotations

import os
from functools import cache

from .animate.op import Animate
from .descratch import Descratch
from .hints import ColorizeHints
from .operation import Operation
from .ops_ai import Colorize, FaceRestore, SuperResolution
from .ops_classical import (
    Clahe,
    ColorTransfer,
    Crop,
    Denoise,
    Grayscale,
    Rotate,
    Sharpen,
    Upscale,
)
from .types import ParamError

_BUILTIN: tuple[type[Operation], ...] = (
    Denoise,
    Descratch,
    Clahe,
    Sharpen,
    Upscale,
    SuperResolution,
    FaceRestore,
    Colorize,
    ColorizeHints,
    ColorTransfer,
    Grayscale,
    Crop,
    Rotate,
    Animate,  # issue 12: synthetic, produces a video (animate/op.py)
)


@cache
def _operations() -> dict[str, Operation]:
    classes = list(_BUILTIN)
    # The misbehaving operations of testing_ops exist only where the test suite asks for them
    # (and in the engine workers it starts, which inherit the variable).
    if os.environ.get("ARCHIVE_ENGINE_TEST_OPS") == "1":
        from .testing_ops import TEST_OPERATIONS

        classes += TEST_OPERATIONS
    registry: dict[str, Operation] = {}
    for cls in classes:
        if cls.name in registry:
            raise RuntimeError(f"operation {cls.name!r} registered twice")
        registry[cls.name] = cls()
    return registry


def get_operation(name: object) -> Operation:
    """The operation called ``name`` (anything a request sent: None, a list...); ParamError on
    field ``op`` when there is none."""
    operations = _operations()
    if not isinstance(name, str) or name not in operations:
        allowed = ", ".join(sorted(operations))
        raise ParamError("op", f"unknown operation {name!r} (known: {allowed})")
    return operations[name]


def list_operations() -> list[Operation]:
    operations = _operations()
    return [operations[name] for name in sorted(operations)]
