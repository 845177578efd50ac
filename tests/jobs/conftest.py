"""Fixtures for job tests: a master scan, a user, a slow tiled test operation, no real broker."""

from __future__ import annotations

import io

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


@pytest.fixture
def slow_op() -> str:
    """A tiled test operation (restoration/engine/testing_ops.py): progress and cancellation
    between tiles. It must exist in the engine worker processes too, so it is registered by
    ARCHIVE_ENGINE_TEST_OPS (tests/conftest.py), not by the test."""
    return "test_tiles"


@pytest.fixture(autouse=True)
def no_monitor_outside_transactions(request, monkeypatch):
    """Operations now run in engine worker processes, so a step can outlast the monitor's
    first heartbeat (1 s). The monitor thread has its own database connection: inside a test's
    uncommitted transaction (PostgreSQL) it cannot see the job, takes the claim for lost and
    stops the run. Tests that exercise the monitor are ``transaction=True``; in the others it
    is switched off."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or marker.kwargs.get("transaction"):
        return
    from restoration import runner

    monkeypatch.setattr(runner._Monitor, "start", lambda self: None)
