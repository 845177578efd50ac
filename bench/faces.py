"""Faces: embeddings per second, and nearest-face search at 10,000 and 1,000,000 faces.

1. ``identity.measure_faces`` (tiled detection, then a dlib embedding per face) on a 1 MP and a
   16 MP image: the corpus' old_a.png and skimage's astronaut on a grey canvas (at 16 MP both
   enlarged 4x, so the faces stay in proportion). Baseline, same process: ``detect_faces``
   alone, so the ratio is what measuring the faces adds to finding them.
2. ``FaceIndex.search`` (k = 10) over random unit vectors, 200 queries: median and p99, the
   ratio to the exact scan on the same faces (the baseline), recall@10 against brute force,
   the time to build the index, and its memory (VmHWM increase over the process' resident set
   once the vectors exist: usearch's native memory included, which tracemalloc cannot see).
   Random vectors are the graph's worst case for recall (real embeddings cluster by person);
   the timings are what they would be.

Each case runs in a fresh process, so that one case's memory is not another's.

    .venv/bin/python bench/faces.py [--quick] [--hnsw-million]
    (--quick: no million-face case; --hnsw-million: also the graph at a million, > 10 min)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OLD_A = ROOT.parent / "shared" / "corpus" / "old_a.png"
QUERIES = 200
K = 10


def vm(field: str) -> int:
    """A /proc/self/status figure (VmRSS, VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak() -> None:
    """Start VmHWM afresh (Linux 4.0+), so that the figure is this case's own peak."""
    # Where it cannot be reset the peak includes what came before: an overestimate.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def canvas(side: int) -> np.ndarray:
    """A grey canvas of side x side with two real photographs on it, scaled with the side."""
    import cv2
    from PIL import Image
    from skimage import data

    image = np.full((side, side, 3), 128, np.uint8)
    scale = side / 1000
    photos = [
        (data.astronaut(), (40, 40)),
        (np.asarray(Image.open(OLD_A).convert("RGB")), (620, 380)),
    ]
    for photo, (x, y) in photos:
        size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
        placed = cv2.resize(photo, size, interpolation=cv2.INTER_LANCZOS4)
        x0, y0 = round(x * scale), round(y * scale)
        image[y0 : y0 + size[1], x0 : x0 + size[0]] = placed[: side - y0, : side - x0]
    return image


def case_embed(side: int) -> dict[str, float]:
    from restoration.engine import identity

    image = canvas(side)
    identity.measure_faces(canvas(400))  # warm: detector and dlib models loaded
    reset_peak()
    before = vm("VmRSS")
    reps = 3 if side <= 1000 else 1
    detect = min(_timed(lambda: identity.detect_faces(image)) for _ in range(reps))
    full, faces = float("inf"), []
    for _ in range(reps):
        t0 = time.perf_counter()
        faces = identity.measure_faces(image)
        full = min(full, time.perf_counter() - t0)
    measured = sum(f.embedding is not None for f in faces)
    return {
        "faces": len(faces),
        "measured": measured,
        "total_s": full,
        "detect_s": detect,
        "peak": vm("VmHWM") - before,
    }


def _timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def case_search(n: int, mode: str) -> dict[str, float]:
    from restoration.engine.faceindex import FaceIndex

    rng = np.random.default_rng(n)
    vectors = rng.standard_normal((n, 128), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((QUERIES, 128), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids = np.arange(n, dtype=np.int64)
    reset_peak()
    before = vm("VmRSS")
    t0 = time.perf_counter()
    index = FaceIndex(hnsw_threshold=1 if mode == "hnsw" else 10**12)
    index.add(ids, vectors)
    build = time.perf_counter() - t0
    assert index.mode == mode
    times, found = [], []
    for query in queries:
        t0 = time.perf_counter()
        got = index.search(query, K)
        times.append(time.perf_counter() - t0)
        found.append({i for i, _ in got})
    # visibility: only 1% of the faces may be seen
    filtered = []
    for query in queries[:50]:
        t0 = time.perf_counter()
        got = index.search(query, K, allowed=lambda i: i % 100 == 0)
        filtered.append(time.perf_counter() - t0)
        assert len(got) == K
    peak = vm("VmHWM") - before
    # brute-force reference for recall, after the memory figure (its temporaries are large)
    hits = 0
    for query, got_ids in zip(queries, found, strict=True):
        d2 = index._norms[: len(index)] - 2 * (vectors @ query)
        hits += len(got_ids & set(np.argpartition(d2, K)[:K].tolist()))
    return {
        "build_s": build,
        "median": statistics.median(times),
        "p99": float(np.percentile(times, 99)),
        "filtered_median": statistics.median(filtered),
        "recall": hits / (K * QUERIES),
        "peak": peak,
    }


def child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--case", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"case {args}: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the million-face case")
    parser.add_argument(
        "--hnsw-million",
        action="store_true",
        help="also build the HNSW graph of a million faces (over ten minutes on 2 cores; the "
        "live index scans exactly up to ARCHIVE_FACE_HNSW_FROM, 5,000,000 by default)",
    )
    parser.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        kind, *rest = args.case
        result = case_embed(int(rest[0])) if kind == "embed" else case_search(int(rest[0]), rest[1])
        print(json.dumps(result))
        return
    if not OLD_A.is_file():
        raise SystemExit(f"{OLD_A} is absent")
    print(f"faces: {os.cpu_count()} cores; every case in its own process\n")
    print("## embeddings (identity.measure_faces; baseline: detect_faces alone)\n")
    print(
        f"{'image':>11} {'faces':>5} {'measured':>8} {'total s':>8} {'embeddings/s':>12} "
        f"{'detect s':>8} {'x baseline':>10} {'peak MiB':>8}"
    )
    for side in (1000, 4000):
        r = child("embed", str(side))
        rate = r["measured"] / r["total_s"]
        print(
            f"{side:>5}x{side:<5} {r['faces']:>5} {r['measured']:>8} {r['total_s']:>8.2f} "
            f"{rate:>12.2f} {r['detect_s']:>8.2f} {r['total_s'] / r['detect_s']:>10.2f} "
            f"{r['peak'] / 2**20:>8.0f}"
        )
    print(f"\n## search (k={K}, {QUERIES} queries; baseline: the exact scan on the same faces)\n")
    print(
        f"{'faces':>9} {'mode':>6} {'build s':>8} {'median ms':>9} {'p99 ms':>7} "
        f"{'x baseline':>10} {'recall@10':>9} {'1% visible ms':>13} {'peak MiB':>8}"
    )
    for n in (10_000,) if args.quick else (10_000, 1_000_000):
        base = None
        modes = ("exact", "hnsw") if n < 1_000_000 or args.hnsw_million else ("exact",)
        for mode in modes:
            r = child("search", str(n), mode)
            base = base or r["median"]
            print(
                f"{n:>9,} {mode:>6} {r['build_s']:>8.2f} {r['median'] * 1e3:>9.3f} "
                f"{r['p99'] * 1e3:>7.3f} {r['median'] / base:>10.2f} {r['recall']:>9.3f} "
                f"{r['filtered_median'] * 1e3:>13.3f} {r['peak'] / 2**20:>8.0f}",
                flush=True,
            )
    print(
        "\nx baseline: time over the exact scan's (below 1: faster). 1% visible: the median "
        "search when only one face in a hundred may be seen (the filter is applied inside). "
        "peak: VmHWM increase over the process once its data exists."
    )


if __name__ == "__main__":
    main()
