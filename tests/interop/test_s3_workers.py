"""Jobs on S3 storage with real worker processes (run by scripts/ci-s3.sh, which exports
ARCHIVE_STORAGE=s3 and the SeaweedFS endpoint): two ``rundramatiq`` workers on PostgreSQL +
Redis share the jobs, one is SIGKILLed in the middle of a step, a fresh one takes over; every
job ends with exactly its steps, every artifact's object is in the bucket and nothing else is
(no orphan, nothing missing), and verify passes (hashing streams from S3)."""

from __future__ import annotations

import os

import pytest

from tests.jobs.test_integration import (  # noqa: F401  (fixtures)
    REDIS,
    _need,
    check_end_state,
    make_stack,
    template_db,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("ARCHIVE_STORAGE") != "s3",
        reason="runs on S3 storage: scripts/ci-s3.sh (ARCHIVE_STORAGE=s3 and a SeaweedFS server)",
    ),
]


def test_two_workers_on_s3_one_killed_mid_step_lose_nothing(make_stack):  # noqa: F811
    _need("PostgreSQL", "127.0.0.1", 5432)
    _need("Redis", "127.0.0.1", 6379)
    stack = make_stack(REDIS)
    # The jobs are queued before any worker starts: seeding uploads every input to S3, and with
    # workers already running they could finish every job before the first poll.
    n_jobs = 24
    ids = stack.harness("seed", "--jobs", str(n_jobs), "--size", "256", "--seed", "5000")["jobs"]
    victim = stack.worker(log="a.log")
    stack.worker(log="b.log")
    stack.wait_until(
        lambda: stack.counts().get("succeeded", 0) >= 2 and stack.running_mid_step(),
        timeout=60,
        what="the first jobs on S3",
    )
    stack.kill(victim)
    assert stack.counts().get("succeeded", 0) < n_jobs
    stack.worker(log="c.log")
    stack.wait_until(stack.all_ended, timeout=90, what="all jobs on S3")
    jobs = check_end_state(stack, ids)  # includes: no orphan and no missing object in the bucket
    assert all(j["status"] == "succeeded" for j in jobs.values())
