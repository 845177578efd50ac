# ruff: noqa: E402  (the engine is imported after putting the repository root on sys.path)
"""Films through the plumbing: streaming memory, chunks on several workers, operation speed.

    .venv/bin/python bench/film.py [--quick]

1. Frames per second of a few film operations at 432x320 (the corpus clip) and 1920x1080 (its
   frames enlarged), against a baseline measured in the same run (a pass that touches each
   frame once); the full table of every operation is bench/film_ops.py.
2. Peak memory of a whole film step as a worker runs it (decode -> operation -> FFV1 encode,
   ``restoration.engine.film_run.run_film_chunk``) on a 1,000- and a 10,000-frame film, each in
   a fresh process (``ru_maxrss``): it must be flat (ratio about 1), since only the
   operation's window is held.
3. Two workers against one: the same film split into chunks (``film_jobs.plan_chunks``) and run
   by one process, then by two processes at once, then joined; the speed-up (wall clock).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np

from restoration.engine.film_run import ChunkSpec, join_parts, plan_chunks, run_film_chunk
from restoration.engine.video import VideoWriter

MEMORY_CHILD = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
from restoration.engine.film_run import ChunkSpec, run_film_chunk
spec = ChunkSpec(**json.loads(sys.argv[2]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = run_film_chunk(spec)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"frames": result.frames, "peak_kib": after, "before_kib": before}))
"""


def synthetic_film(path: Path, frames: int, size: tuple[int, int], fps: int = 24) -> Path:
    """Grain, a moving bar and flicker: content the operations have something to do on."""
    w, h = size
    rng = np.random.default_rng(0)
    grain = rng.integers(0, 24, size=(8, h, w, 1), dtype=np.uint8)
    ramp = np.linspace(40, 200, w, dtype=np.float32)[None, :, None]
    with VideoWriter(path, width=w, height=h, fps=Fraction(fps)) as writer:
        for i in range(frames):
            flicker = 1.0 + 0.08 * np.sin(i * 1.7)
            frame = np.clip(ramp * flicker, 0, 255).astype(np.uint8).repeat(h, 0).repeat(3, 2)
            x = (i * 3) % max(1, w - 8)
            frame[:, x : x + 8] = 230
            writer.write(np.clip(frame + grain[i % 8], 0, 255).astype(np.uint8))
    return path


def spec_for(path: Path, out: Path, op: str, params: dict, frames: int, size, span=None) -> dict:
    lo, hi, a, b = span or (0, frames, 0, frames)
    return {
        "op": op,
        "params": params,
        "input_path": str(path),
        "output_path": str(out),
        "width": size[0],
        "height": size[1],
        "fps": "24/1",
        "frame_count": frames,
        "read_start": lo,
        "read_stop": hi,
        "emit_start": a,
        "emit_stop": b,
    }


def memory(tmp: Path, op: str, params: dict, counts: list[int], size: tuple[int, int]) -> None:
    print(f"\n== peak memory of a whole {op} step, by film length ({size[0]}x{size[1]}) ==")
    peaks = {}
    for n in counts:
        film = synthetic_film(tmp / f"mem-{n}.mkv", n, size)
        spec = spec_for(film, tmp / f"mem-{n}-out.mkv", op, params, n, size)
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(ROOT), json.dumps(spec)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        seconds = time.perf_counter() - started
        report = json.loads(out.stdout.strip().splitlines()[-1])
        peaks[n] = report["peak_kib"] / 1024
        print(
            f"{n:>6} frames: peak RSS {peaks[n]:7.1f} MiB, {report['frames']} frames out, "
            f"{seconds:5.1f} s ({n / seconds:6.0f} fps end to end)"
        )
    first, last = counts[0], counts[-1]
    print(f"ratio peak({last}) / peak({first}) = {peaks[last] / peaks[first]:.3f} (flat: ~1.0)")


def _chunk(args: tuple[dict, str]) -> int:
    spec, _name = args
    return run_film_chunk(ChunkSpec(**spec)).frames


def _warm(_: int) -> int:
    """Import what a worker needs (libraries, the operations) before the clock starts, as a
    warm engine worker has."""
    from restoration.engine.film_run import film_operation

    film_operation("deflicker")
    time.sleep(0.5)  # so that each process of the pool takes one warm-up
    return os.getpid()


def workers(tmp: Path, op: str, params: dict, frames: int, size, chunk: int, window: int) -> None:
    print(f"\n== {op} on {frames} frames at {size[0]}x{size[1]}: two workers against one ==")
    film = synthetic_film(tmp / "par.mkv", frames, size)
    plan = plan_chunks(frames, shots=None, window=window, size=chunk)
    times = {}
    for n_workers in (1, 2):
        specs = [
            (spec_for(film, tmp / f"p{n_workers}-{i}.mkv", op, params, frames, size, span), "")
            for i, span in enumerate(plan)
        ]
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            list(pool.map(_warm, range(n_workers)))
            started = time.perf_counter()
            done = sum(pool.map(_chunk, specs))
            chunked = time.perf_counter() - started
        join_parts(
            [s["output_path"] for s, _ in specs],
            str(tmp / f"joined-{n_workers}.mkv"),
            width=size[0],
            height=size[1],
            fps="24/1",
        )
        times[n_workers] = time.perf_counter() - started
        print(
            f"{n_workers} worker(s): {len(plan)} chunks, {done} frames, {times[n_workers]:.1f} s "
            f"({frames / times[n_workers]:.1f} fps; chunks {chunked:.1f} s, join "
            f"{times[n_workers] - chunked:.1f} s)"
        )
    load = os.getloadavg()[0]
    print(
        f"speed-up of two workers over one: {times[1] / times[2]:.2f}x "
        f"(cores: {os.cpu_count()}, load average {load:.1f})"
    )


def speeds(quick: bool) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import film_ops  # bench/film_ops.py (issue 13's engine side): measure, baseline, clip_frames

    print("\n== frames per second (film operations alone; full table: bench/film_ops.py) ==")
    ops = [("dedupe", {}), ("deflicker", {}), ("stabilize", {}), ("interpolate", {"fps": 30})]
    for size, n in (((432, 320), 24 if quick else 48), ((1920, 1080), 6 if quick else 12)):
        frames = film_ops.clip_frames(n, None if size == (432, 320) else size)
        base = film_ops.baseline(frames)
        print(f"{size[0]}x{size[1]}: baseline {base['fps']:.1f} fps ({n} frames)")
        for name, params in ops:
            got = film_ops.measure(name, params, frames)
            print(
                f"  {name:12} {got['fps']:7.2f} fps  ratio to baseline {got['fps'] / base['fps']:.3f}"
                f"  peak {got['peak_mib']:.0f} MiB"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-speeds", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if not args.skip_speeds:
            speeds(args.quick)
        memory(tmp, "deflicker", {"radius": 7}, [1_000, 10_000], (96, 64))
        workers(
            tmp,
            "deflicker",
            {"radius": 4},
            frames=120 if args.quick else 240,
            size=(432, 320),
            chunk=30 if args.quick else 60,
            window=4,
        )


if __name__ == "__main__":
    main()
