"""Fixtures for job tests: a master scan, a user, a slow tiled test operation, no real broker."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest

from tests.conftest import image_bytes


@pytest.fixture
def master(db, user):
    from archive.services import photo_ingest

    result = photo_ingest(
        stream=io.BytesIO(image_bytes("PNG", size=(96, 64), seed=7)), filename="m.png", user=user
    )
    return result.artifact


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """Capture enqueued job ids instead of sending them to whatever broker the suite runs on."""
    ids: list[int] = []

    def fake_enqueue(job_id: int) -> bool:
        ids.append(job_id)
        return True

    monkeypatch.setattr("restoration.jobs.enqueue", fake_enqueue)
    return ids


def _register_slow_op() -> None:
    """A tiled test operation: 20 tiles, progress and cancellation checked between tiles."""
    from restoration.engine import operation
    from restoration.engine.operation import Applied, Operation
    from restoration.engine.params import ParamSpec

    operation._load_builtin_ops()
    if "_test_tiles" in operation._REGISTRY:
        return

    class TestTiles(Operation):
        name = "_test_tiles"
        version = "1.0"
        description = "test only: sleeps per tile"
        params = (
            ParamSpec("tiles", "int", default=20, minimum=1, maximum=1000),
            ParamSpec("sleep", "float", default=0.01, minimum=0.0, maximum=1.0),
        )

        def apply(self, inputs: Any, params: dict[str, Any], ctx: Any) -> Applied:
            for i in range(params["tiles"]):
                ctx.check_cancel()
                time.sleep(params["sleep"])
                ctx.report((i + 1) / params["tiles"])
            return Applied(inputs.image[::-1].copy())

    operation.register(TestTiles)


@pytest.fixture
def slow_op():
    """Registered only for the test that asks for it, so listings elsewhere never show it."""
    from restoration.engine import operation

    _register_slow_op()
    yield "_test_tiles"
    operation._REGISTRY.pop("_test_tiles", None)
