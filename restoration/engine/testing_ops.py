"""Operations that misbehave on purpose, to prove that a job cannot take the archive down.

Registered only when ``ARCHIVE_ENGINE_TEST_OPS=1`` is in the environment (the test suite sets
it; an installation never does): a crash inside native code, an allocation beyond any budget,
one long call that never looks at cancel. Their output is the input, unchanged.
"""

from __future__ import annotations

import ctypes
import time
from typing import Any

import numpy as np

from .operation import Applied, Operation
from .params import ParamSpec
from .types import OpInputs, RunContext


class TestCrash(Operation):
    name = "test_crash"
    version = "1"
    description = "Test only: dereferences a null pointer (SIGSEGV), like a crash inside OpenCV."

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        ctypes.string_at(0)  # reads address 0: the kernel sends SIGSEGV
        return Applied(image=inputs.image)


class TestAllocate(Operation):
    name = "test_allocate"
    version = "1"
    description = "Test only: touches `mb` MiB of memory, whatever its prediction says."
    params = (ParamSpec("mb", "int", default=64, minimum=1, maximum=1_000_000),)

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        block = np.ones(params["mb"] * 1024 * 1024, dtype=np.uint8)
        return Applied(image=inputs.image, facts={"touched": int(block.sum())})


class TestSleep(Operation):
    name = "test_sleep"
    version = "1"
    description = "Test only: one uninterruptible call of `seconds` that never checks cancel."
    params = (ParamSpec("seconds", "float", default=1.0, minimum=0.0, maximum=3600.0),)

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        time.sleep(params["seconds"])
        return Applied(image=inputs.image.copy())


class TestTiles(Operation):
    name = "test_tiles"
    version = "1"
    description = (
        "Test only: sleeps per tile, reporting progress and checking cancel between tiles."
    )
    params = (
        ParamSpec("tiles", "int", default=20, minimum=1, maximum=1000),
        ParamSpec("sleep", "float", default=0.01, minimum=0.0, maximum=1.0),
    )

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        for i in range(params["tiles"]):
            ctx.check_cancel()
            time.sleep(params["sleep"])
            ctx.report((i + 1) / params["tiles"])
        return Applied(inputs.image[::-1].copy())


TEST_OPERATIONS: tuple[type[Operation], ...] = (TestCrash, TestAllocate, TestSleep, TestTiles)
