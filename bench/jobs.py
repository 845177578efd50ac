"""Job overhead: embedded mode (SQLite + in-process workers) and scaled out (PostgreSQL + Redis).

For a trivial operation (grayscale of a 64x64 image) it prints jobs per second and the per-job
overhead: the job's time from claim to success minus the operation's bare ``run`` time in the
same process. For a real operation (denoise of a ~1 MP photograph) it prints the job's time
(claim to success: decode, run, PNG encode, hash, store, change summary, record) as a ratio to
the operation's bare run time measured in the same run.

    .venv/bin/python bench/jobs.py [--jobs 100] [--no-redis]

Each mode runs in a child process of its own (Django settings are per process); the Redis mode
needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (db 5) and starts one
``manage.py rundramatiq`` worker (1 process, 1 thread).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/5")
PHOTO = ROOT.parent / "shared" / "corpus" / "old_b.png"
TRIVIAL = [{"op": "grayscale"}]
REAL = [{"op": "denoise"}]


# --- child side ------------------------------------------------------------------------------


def _png(array: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _photo_1mp() -> Any:
    import numpy as np
    from PIL import Image

    if PHOTO.is_file():
        img = Image.open(PHOTO).convert("RGB")
    else:  # a smooth synthetic stand-in
        rng = np.random.default_rng(0)
        img = Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8))
    scale = (1_000_000 / (img.width * img.height)) ** 0.5
    img = img.resize(
        (round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS
    )
    return np.asarray(img)


def _ingest(array: Any, name: str) -> Any:
    from archive.services import photo_ingest

    return photo_ingest(stream=io.BytesIO(_png(array)), filename=name).artifact


def _bare_seconds(op_name: str, artifact: Any, repeat: int) -> float:
    """Median of ``op.run`` on the decoded input, nothing else."""
    from django.conf import settings

    from restoration import imagefile
    from restoration.engine import OpInputs, RunContext, get_operation
    from restoration.storage import open_object

    with open_object(artifact.sha256) as fh:
        image = imagefile.decode_rgb_or_grey(fh.read(), max_pixels=settings.ARCHIVE_MAX_PIXELS)
    op = get_operation(op_name)
    params = op.validate({})
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        op.run(OpInputs(image), params, RunContext())
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _components(artifact: Any) -> dict[str, float]:
    """Where a real job's overhead goes: the pieces it runs besides the operation."""
    from django.conf import settings

    from restoration import imagefile
    from restoration.engine import OpInputs, RunContext, get_operation
    from restoration.engine.change import change_summary
    from restoration.storage import open_object

    def timed(fn: Any) -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    with open_object(artifact.sha256) as fh:
        data = fh.read()
    decode = timed(
        lambda: imagefile.decode_rgb_or_grey(data, max_pixels=settings.ARCHIVE_MAX_PIXELS)
    )
    image = imagefile.decode_rgb_or_grey(data, max_pixels=settings.ARCHIVE_MAX_PIXELS)
    op = get_operation("denoise")
    out = op.run(OpInputs(image), op.validate({}), RunContext()).image
    return {
        "decode": decode,
        "encode": timed(lambda: imagefile.encode_png(out)),
        "change": timed(lambda: change_summary(image, out)),
    }


def _submit(artifact: Any, steps: list[dict], n: int) -> list[int]:
    """Create the rows first, then send all messages at once (submission is not measured)."""
    from unittest import mock

    from django.contrib.auth import get_user_model

    from restoration import jobs

    user, _ = get_user_model().objects.get_or_create(username="bench")
    with mock.patch.object(jobs, "enqueue", lambda job_id: True):
        ids = [jobs.job_create(user=user, input_id=artifact.pk, steps=steps).pk for _ in range(n)]
    return ids


def _run_and_wait(ids: list[int], poll: float = 0.02, timeout: float = 600) -> dict[str, float]:
    from restoration import jobs
    from restoration.models import Job

    sent = time.perf_counter()
    for job_id in ids:
        jobs.enqueue(job_id)
    deadline = time.monotonic() + timeout
    while Job.objects.filter(pk__in=ids, status__in=jobs.UNFINISHED).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"jobs did not finish in {timeout} s")
        time.sleep(poll)  # coarse on purpose: polling competes with the worker for the GIL
    wall = time.perf_counter() - sent
    rows = list(Job.objects.filter(pk__in=ids).values_list("status", "started_at", "ended_at"))
    bad = [r[0] for r in rows if r[0] != Job.Status.SUCCEEDED]
    if bad:
        raise SystemExit(f"{len(bad)} job(s) did not succeed: {bad[:3]}")
    durations = [(e - s).total_seconds() for _, s, e in rows]
    from restoration.models import Step

    inside = [
        r.get("timings", {}).get("total_s", 0.0)
        for r in Step.objects.filter(job_id__in=ids).values_list("run_record", flat=True)
    ]
    return {
        "wall": wall,
        "job_median": statistics.median(durations),
        "op_inside_median": statistics.median(inside) if inside else 0.0,
    }


def _measure(mode: str, n: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(1)
    tiny = _ingest(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), "tiny.png")
    photo = _ingest(_photo_1mp(), "photo.png")
    _run_and_wait(_submit(tiny, TRIVIAL, 3))  # warm-up: imports, connections, caches

    bare_trivial = _bare_seconds("grayscale", tiny, 50)
    trivial = _run_and_wait(_submit(tiny, TRIVIAL, n))
    ratios, jobs_s, bares, insides = [], [], [], []
    for _ in range(3):  # interleaved (bare, job, bare), so machine load hits both alike
        before = _bare_seconds("denoise", photo, 1)
        result = _run_and_wait(_submit(photo, REAL, 1), poll=0.2)
        job = result["job_median"]
        insides.append(result["op_inside_median"])
        bare = (before + _bare_seconds("denoise", photo, 1)) / 2
        bares.append(bare)
        jobs_s.append(job)
        ratios.append(job / bare)
    parts = _components(photo)
    return {
        "parts": parts,
        "mode": mode,
        "jobs": n,
        "jobs_per_s": n / trivial["wall"],
        "trivial_bare_ms": bare_trivial * 1000,
        "trivial_job_ms": trivial["job_median"] * 1000,
        "overhead_ms": (trivial["job_median"] - bare_trivial) * 1000,
        "overhead_wall_ms": (trivial["wall"] / n - bare_trivial) * 1000,
        "real_pixels": int(np.prod(_photo_1mp().shape[:2])),
        "real_bare_s": statistics.median(bares),
        "real_job_s": statistics.median(jobs_s),
        "real_ratio": statistics.median(ratios),
        "real_op_inside_s": statistics.median(insides),
    }


def child_embedded(n: int) -> dict[str, Any]:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from restoration.management.commands.serve import start_embedded_worker

    worker = start_embedded_worker(1)
    try:
        return _measure("embedded (SQLite, in-process worker, 1 thread)", n)
    finally:
        worker.stop(timeout=5000)


def child_redis(n: int) -> dict[str, Any]:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    log = open(Path(os.environ["ARCHIVE_DATA_DIR"]) / "worker.log", "ab")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "rundramatiq",
            "--processes",
            "1",
            "--threads",
            "1",
            "--queues",
            os.environ["JOBS_QUEUE"],
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        return _measure("PostgreSQL + Redis (1 rundramatiq process, 1 thread)", n)
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)


# --- parent side -----------------------------------------------------------------------------


def _spawn(mode: str, n: int, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--jobs", str(n)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"{mode} run failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(lines[-1])


def _reachable(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--child", choices=["embedded", "redis"])
    args = parser.parse_args()
    if args.child:
        fn = child_embedded if args.child == "embedded" else child_redis
        print(json.dumps(fn(args.jobs)))
        return

    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "BROKER_URL"}}
    base.update({"DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "WARNING"})
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(_spawn("embedded", args.jobs, {**base, "ARCHIVE_DATA_DIR": f"{tmp}/e"}))
        if not args.no_redis and not (_reachable(5432) and _reachable(6379)):
            print("PostgreSQL (5432) or Redis (6379) unreachable on 127.0.0.1: Redis mode skipped")
        elif not args.no_redis:
            tag = uuid.uuid4().hex[:8]
            db = f"jobs_bench_{tag}"
            _pg(f"CREATE DATABASE {db}")
            try:
                env = {
                    **base,
                    "ARCHIVE_DATA_DIR": f"{tmp}/r",
                    "DATABASE_URL": f"{PG}/{db}",
                    "BROKER_URL": REDIS,
                    "JOBS_QUEUE": f"jobs-bench-{tag}",
                }
                results.append(_spawn("redis", args.jobs, env))
            finally:
                _pg(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    for r in results:
        print(f"\n{r['mode']}")
        print(f"  trivial op (grayscale 64x64), {r['jobs']} jobs:")
        print(f"    throughput            {r['jobs_per_s']:8.1f} jobs/s")
        print(f"    bare op run           {r['trivial_bare_ms']:8.2f} ms")
        print(f"    job, claim->succeeded {r['trivial_job_ms']:8.2f} ms (median)")
        print(
            f"    per-job overhead      {r['overhead_ms']:8.2f} ms in the job, "
            f"{r['overhead_wall_ms']:.2f} ms wall per job incl. queueing"
        )
        print(f"  real op (denoise, {r['real_pixels'] / 1e6:.2f} MP):")
        print(f"    bare op run           {r['real_bare_s']:8.3f} s")
        print(f"    job, claim->succeeded {r['real_job_s']:8.3f} s")
        print(
            f"    job / bare            {r['real_ratio']:8.3f}  "
            f"(overhead {100 * (r['real_ratio'] - 1):.1f} %)"
        )
        p = r["parts"]
        print(
            f"    pieces, each alone    decode {p['decode']:.3f} s, PNG encode {p['encode']:.3f} s, "
            f"change summary {p['change']:.3f} s (the last two run in parallel in a job)"
        )
        inside = r["real_op_inside_s"]
        print(
            f"    op run inside the job {inside:8.3f} s  (job / that "
            f"{r['real_job_s'] / inside if inside else float('nan'):.3f}; the rest is decode, "
            "PNG encode, hashing, change summary, records)"
        )


if __name__ == "__main__":
    main()
