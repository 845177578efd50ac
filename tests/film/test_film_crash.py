"""A worker killed in the middle of a chunk of a film step costs that chunk only.

PostgreSQL + Redis + two ``rundramatiq`` processes (the harness of tests/jobs/test_integration):
a 48-frame film is split into 6 chunks of a slow temporal test operation; once a chunk is
half-way through, the worker process running it is killed with SIGKILL (the whole process
group, as a power cut would; the coordinating worker, when it holds all the running chunks). The job must finish with every chunk done,
the chunks the killed worker held claimed twice and every other chunk once, and an output
whose frames are exactly what one uninterrupted run gives, verifying."""

from __future__ import annotations

import json
import os

import pytest

from tests.jobs.test_integration import (  # noqa: F401  (fixtures)
    REDIS,
    _need,
    _pg_query,
    make_stack,
    scaled_out,
    template_db,
)

pytestmark = pytest.mark.integration


def _pid(tag: str) -> int:
    return int(tag.split(":")[1]) if tag.count(":") >= 2 else -1


@scaled_out
def test_killing_a_worker_mid_chunk_costs_one_chunk(make_stack):  # noqa: F811
    _need("PostgreSQL", "127.0.0.1", 5432)
    _need("Redis", "127.0.0.1", 6379)
    stack = make_stack(REDIS)
    stack.env["ARCHIVE_FILM_CHUNK_FRAMES"] = "8"
    stack.env["ARCHIVE_ENGINE_TEST_OPS"] = "1"
    a = stack.worker(log="a.log")
    b = stack.worker(log="b.log")
    pipeline = [{"op": "test_film_slow", "params": {"radius": 1, "delay_s": 0.15}}]
    seeded = stack.run(
        "-m", "tests.film.harness", "seed", "--frames", "48", "--pipeline", json.dumps(pipeline)
    )
    job_id = seeded["job"]

    def chunks() -> list[tuple]:
        return _pg_query(
            stack.db,
            "SELECT number, status, attempts, claimed_by FROM restoration_filmchunk "
            f"WHERE job_id = {job_id} ORDER BY number",
        )

    def coordinator_pid() -> int:
        rows = _pg_query(stack.db, f"SELECT claimed_by FROM restoration_job WHERE id = {job_id}")
        return _pid(rows[0][0]) if rows else -1

    victim: dict = {}

    def mid_chunk() -> bool:
        """A chunk is half-way through on some worker (another one done already): its process
        is the victim; the one coordinating the job when no other holds a chunk."""
        rows = chunks()
        if not any(status == "done" for _n, status, _a, _t in rows):
            return False
        running = [_pid(tag) for _n, status, _a, tag in rows if status == "running"]
        coordinator = coordinator_pid()
        ordered = [p for p in running if p != coordinator] + [
            p for p in running if p == coordinator
        ]
        for pid in ordered:
            for proc in (a, b):
                try:
                    if os.getpgid(pid) == proc.pid:
                        victim["proc"], victim["pid"] = proc, pid
                        victim["coordinator"] = pid == coordinator
                        return True
                except ProcessLookupError:
                    pass
        return False

    stack.wait_until(mid_chunk, timeout=180, what="a chunk in the middle of its work")
    held = {
        n for n, status, _a, tag in chunks() if status == "running" and _pid(tag) == victim["pid"]
    }
    stack.kill(victim["proc"])

    def job_ended() -> bool:
        rows = _pg_query(stack.db, f"SELECT status FROM restoration_job WHERE id = {job_id}")
        return rows[0][0] in ("succeeded", "failed", "cancelled")

    stack.wait_until(job_ended, timeout=240, what="the film job")
    report = stack.run("-m", "tests.film.harness", "report")
    job = report["jobs"][0]
    assert job["status"] == "succeeded", job
    assert job["steps"] == [0]
    assert len(job["chunks"]) == 6 and all(c["status"] == "done" for c in job["chunks"])
    for chunk in job["chunks"]:
        if chunk["number"] in held:
            assert chunk["attempts"] == 2, chunk  # redone once, after the kill
        else:
            assert chunk["attempts"] == 1, chunk  # done once
    assert job["manifest_ok"] and job["verify_ok"], job
