# ruff: noqa: E402  (the engine is imported after putting the repository root on sys.path)
"""Speed and memory of the restoration engine. Run: `.venv/bin/python bench/engine.py`.

Prints three tables (timings are wall-clock on this machine, torch with 2 threads):

1. Throughput of every operation, in input megapixels per second, on a ~1 MP photo (old_d.png
   enlarged to 1024x1024); the AI ones on smaller inputs, said in the table. The face_restore
   and colorize rows use randomly initialised GFPGAN / DDColor networks: their *speed* is real,
   their output is noise and is not looked at.
2. Tiled Real-ESRGAN x4plus against the bare spandrel forward pass on the same image: the
   ratio of our `sr` operation's time (tiling, blending, conversion included) to
   `descriptor(tensor)` on the whole image, best of N runs each.
3. Peak resident memory of a child process running `sr` on 1, 4 and 16 MP inputs at a fixed
   tile size. Real-ESRGAN needs ~14 s per 0.1 MP on these 2 cores (16 MP would take over an
   hour), so the memory series uses a randomly initialised SRVGG "Compact" x4 network
   (32 features, 8 convs) through exactly the same tiling path; Real-ESRGAN's own per-tile
   peak is measured on a 0.1 MP input. The uint8 result (3·16·MP bytes for x4) is listed apart,
   since it has to exist whatever the tiling.
"""

from __future__ import annotations

import os

# Before torch is imported: passive OpenMP waiting (see restoration/engine/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restoration.engine import ModelRef, OpInputs, RunContext, get_operation, inspect_weights
from restoration.engine.models import load_model
from restoration.engine.ops_ai import choose_tile
from restoration.engine.tiling import plan_tiles
from tests.engine.nets import save_random_weights

SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
REALESRGAN = SHARED / "models" / "realesrgan-x4plus.fp16.safetensors"
MTCNN = SHARED / "models" / "mtcnn"


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |")


def photo(side: int) -> np.ndarray:
    img = np.asarray(Image.open(CORPUS / "old_d.png").convert("RGB"))
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)


def ref_for(path: Path, name: str) -> ModelRef:
    info = inspect_weights(path)
    return ModelRef(name, path, info.sha256, info.architecture, info.purpose, info.scale)


def random_weights(kind: str, folder: Path) -> ModelRef | None:
    """A random network of a real architecture (speed only); None when its package is absent."""
    try:
        path = save_random_weights(
            kind, folder, seed=0, compact_feat=32, compact_conv=8, compact_scale=4
        )
    except ImportError:
        return None
    return ref_for(path, f"random-{kind}")


def timed(op: str, image: np.ndarray, params: dict, ctx: RunContext, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        get_operation(op).run(OpInputs(image, {}), params, ctx)
        best = min(best, time.perf_counter() - t0)
    return best


def bench_throughput(folder: Path) -> None:
    img = photo(1024)
    mp = img.shape[0] * img.shape[1] / 1e6
    rng = np.random.default_rng(0)
    hints = [
        {"x": int(x), "y": int(y), "color": "#" + bytes(img[y, x]).hex()}
        for x, y in zip(rng.integers(0, 1024, 200), rng.integers(0, 1024, 200), strict=True)
    ]
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    cases: list[tuple[str, np.ndarray, dict, dict[str, np.ndarray], str]] = [
        ("denoise", img, {}, {}, "strength 8, patch 7, search 21"),
        ("descratch", img, {}, {}, "defaults"),
        ("clahe", img, {}, {}, "defaults"),
        ("sharpen", img, {}, {}, "defaults"),
        ("upscale", img, {"scale": 2.0}, {}, "scale 2"),
        ("grayscale", img, {}, {}, "rec601"),
        ("crop", img, {"rect": [100, 100, 512, 512]}, {}, "512x512"),
        ("rotate", img, {"angle": 7.0}, {}, "7 degrees, expand"),
        ("color_transfer", img, {"reference": 1}, {"reference": photo(512)}, "reference 512²"),
        ("colorize_hints", grey, {"hints": hints}, {}, "200 hints, solve 250k px"),
    ]
    rows = []
    for op, image, params, extra, note in cases:
        t0 = time.perf_counter()
        get_operation(op).run(OpInputs(image, extra), params, RunContext())
        seconds = time.perf_counter() - t0
        rows.append([op, f"{image.shape[1]}x{image.shape[0]}", note, seconds, mp / seconds])
    if REALESRGAN.is_file():
        ref = ref_for(REALESRGAN, "realesrgan")
        small = photo(128)
        ctx = RunContext(models={"model": ref})
        get_operation("sr").run(OpInputs(small), {"model": ref.name}, ctx)  # load once
        seconds = timed("sr", small, {"model": ref.name}, ctx)
        rows.append(["sr", "128x128", "Real-ESRGAN x4plus, float32", seconds, 0.016384 / seconds])
    gfpgan = random_weights("gfpgan", folder)
    if gfpgan is not None and MTCNN.is_dir():
        portrait = np.asarray(Image.open(CORPUS / "old_a.png").convert("RGB"))
        ctx = RunContext(models={"model": gfpgan}, mtcnn_dir=MTCNN)
        get_operation("face_restore").run(OpInputs(portrait), {"model": gfpgan.name}, ctx)
        seconds = timed("face_restore", portrait, {"model": gfpgan.name}, ctx)
        pmp = portrait.shape[0] * portrait.shape[1] / 1e6
        rows.append(
            [
                "face_restore",
                "298x450",
                "GFPGAN arch, RANDOM weights: speed only",
                seconds,
                pmp / seconds,
            ]
        )
    ddcolor = random_weights("ddcolor", folder)
    if ddcolor is not None:
        ctx = RunContext(models={"model": ddcolor})
        g512 = cv2.cvtColor(photo(512), cv2.COLOR_RGB2GRAY)
        get_operation("colorize").run(OpInputs(g512), {"model": ddcolor.name}, ctx)
        seconds = timed("colorize", g512, {"model": ddcolor.name}, ctx)
        rows.append(
            [
                "colorize",
                "512x512",
                "DDColor-T arch, RANDOM weights: speed only",
                seconds,
                0.262144 / seconds,
            ]
        )
    table(
        "Throughput (input megapixels per second)",
        ["operation", "input", "parameters", "seconds", "MP/s"],
        rows,
    )


def bench_tiling_ratio(side: int, tile: int, repeat: int) -> None:
    if not REALESRGAN.is_file():
        print("\n(tiling ratio skipped: Real-ESRGAN weights absent)")
        return
    ref = ref_for(REALESRGAN, "realesrgan")
    descriptor = load_model(ref)
    img = photo(side)
    tensor = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div(255)
    tensor = tensor.unsqueeze(0)
    ctx = RunContext(models={"model": ref})

    def bare() -> None:
        with torch.inference_mode():
            descriptor(tensor)

    def engine(t: int) -> None:
        get_operation("sr").run(OpInputs(img), {"model": ref.name, "tile": t}, ctx)

    variants = {"bare": bare, "auto": lambda: engine(0), "forced": lambda: engine(tile)}
    best = dict.fromkeys(variants, float("inf"))
    # Interleaved rounds, best of each: the machine is shared, and load drifts over minutes.
    for _ in range(repeat):
        for name, run in variants.items():
            t0 = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t0)
    rows = []
    for name, label, t in (
        ("auto", "auto (from free memory)", 0),
        ("forced", f"forced tile {tile}", tile),
    ):
        plan = plan_tiles(side, side, choose_tile(descriptor, ctx, t) or side)
        tiles = f"{plan.count} x [{plan.th}, {plan.tw}]"
        rows.append([label, tiles, best["bare"], best[name], best[name] / best["bare"]])
    pixels = plan.count * plan.th * plan.tw / (side * side)
    table(
        f"Tiled Real-ESRGAN x4plus vs bare spandrel forward, {side}x{side} input "
        f"(best of {repeat} interleaved rounds; forced tiling computes {pixels:.3f}x the pixels)",
        ["engine tiling", "tiles", "bare forward s", "engine sr s", "ratio"],
        rows,
    )


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def child_peak(kind: str, side: int, tile: int, folder: str) -> None:
    """Runs in a child process: prints JSON with resident memory before the run and its peak.

    getrusage's ru_maxrss survives execve on Linux (the child would inherit the parent's peak),
    so the peak is VmHWM, reset just before the run through /proc/self/clear_refs.
    """
    torch.set_num_threads(2)
    path = Path(folder)
    if kind == "realesrgan":
        ref = ref_for(REALESRGAN, "realesrgan")
    else:
        ref = ref_for(path / "random-compact.pth", "c")
    load_model(ref)
    img = photo(side)
    ctx = RunContext(models={"model": ref})
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    baseline = _status_kb("VmRSS")
    t0 = time.perf_counter()
    out = get_operation("sr").run(OpInputs(img), {"model": ref.name, "tile": tile}, ctx)
    seconds = time.perf_counter() - t0
    peak = _status_kb("VmHWM")
    print(
        json.dumps(
            {
                "baseline_kb": baseline,
                "peak_kb": peak,
                "seconds": seconds,
                "result_bytes": out.image.nbytes,
            }
        )
    )


def bench_memory(folder: Path, sizes: list[int], tile: int) -> None:
    random_weights("compact", folder)
    rows = []
    plans = [("Compact x4 (random, 32f/8c)", s) for s in sizes]
    if REALESRGAN.is_file():
        plans.append(("Real-ESRGAN x4plus", 320))
    for label, side in plans:
        kind = "realesrgan" if label.startswith("Real") else "compact"
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(side), str(tile), str(folder)],
            capture_output=True,
            text=True,
            check=True,
        )
        data = json.loads(out.stdout.strip().splitlines()[-1])
        mb = 1024.0
        rows.append(
            [
                label,
                f"{side}x{side} ({side * side / 1e6:.2f} MP)",
                tile,
                data["peak_kb"] / mb,
                (data["peak_kb"] - data["baseline_kb"]) / mb,
                data["result_bytes"] / 2**20,
                (data["peak_kb"] - data["baseline_kb"]) / mb - data["result_bytes"] / 2**20,
                data["seconds"],
            ]
        )
    table(
        "Peak resident memory of `sr` in a fresh process (MiB)",
        [
            "network",
            "input",
            "tile",
            "peak RSS",
            "peak - before run",
            "uint8 result",
            "working set",
            "seconds",
        ],
        rows,
    )


# --- colorize_hints (issue 16): SuperLU ordering and one label image, 1 / 4 / 16 MP ------------


def _old_hint_masks(hints: list, shape: tuple[int, int], scale: float) -> tuple:
    """The former rasterisation, a full-size layer per hint (for the comparison only)."""
    from restoration.engine.imageutil import parse_color, rgb_to_lab

    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    chroma = np.zeros((h, w, 2), np.float32)
    for hint in hints:
        layer = np.zeros((h, w), np.uint8)
        radius = max(0, round(hint["radius"] * scale))
        points = hint["points"] if "points" in hint else [[hint["x"], hint["y"]]]
        pts = [(round(x * scale), round(y * scale)) for x, y in points]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] or pts, strict=False):
            cv2.line(layer, (x0, y0), (x1, y1), 1, thickness=2 * radius + 1 if radius else 1)
        for x, y in pts:
            cv2.circle(layer, (x, y), radius, 1, thickness=-1)
        on = layer.astype(bool)
        chroma[on] = rgb_to_lab(np.array([[parse_color(hint["color"])]], np.float32))[0, 0][1:]
        mask |= layer
    return mask.astype(bool), chroma


def hints_child(mode: str, megapixels: int, n_hints: int) -> None:
    """One colorize_hints run in a fresh process: prints seconds, peak RSS and the output's
    sha256 (so the two modes can be compared for identical output)."""
    import hashlib

    from restoration.engine import hints as hints_module

    side = int(round((megapixels * 1_000_000) ** 0.5))
    grey = cv2.cvtColor(photo(side), cv2.COLOR_RGB2GRAY)
    rng = np.random.default_rng(16)
    hints = [
        {
            "x": int(rng.integers(0, side)),
            "y": int(rng.integers(0, side)),
            "color": "#" + "".join(f"{int(v):02x}" for v in rng.integers(0, 256, 3)),
            "radius": int(rng.integers(2, 12)),
        }
        for _ in range(n_hints)
    ]
    if mode == "before":
        hints_module.PERMC_SPEC = "COLAMD"
        hints_module.hint_masks = _old_hint_masks  # type: ignore[assignment]
    op = get_operation("colorize_hints")
    base = _status_kb("VmRSS")
    t0 = time.perf_counter()
    result = op.run(OpInputs(grey), {"hints": hints}, RunContext())
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": (_status_kb("VmHWM") - base) / 1024,
                "sha256": hashlib.sha256(np.ascontiguousarray(result.image).tobytes()).hexdigest(),
            }
        )
    )


def bench_hints(sizes: list[int], n_hints: int) -> None:
    rows = []
    for mp in sizes:
        runs = {}
        for mode in ("before", "after"):
            out = subprocess.run(
                [sys.executable, __file__, "--hints-child", mode, str(mp), str(n_hints)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        before, after = runs["before"], runs["after"]
        rows.append(
            [
                f"{mp} MP",
                f"{before['seconds']:.2f}",
                f"{after['seconds']:.2f}",
                f"{before['seconds'] / after['seconds']:.2f}x",
                f"{before['peak_mb']:.0f}",
                f"{after['peak_mb']:.0f}",
                "yes" if before["sha256"] == after["sha256"] else "NO",
            ]
        )
    table(
        f"colorize_hints, {n_hints} hints (solve at the default 250,000 px, then guided "
        "upsampling): before = COLAMD + a layer per hint, after = MMD_AT_PLUS_A + one label "
        "image; peak = VmHWM above the process's RSS before the run",
        [
            "input",
            "before s",
            "after s",
            "speed-up",
            "before peak MB",
            "after peak MB",
            "identical",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=4, metavar=("KIND", "SIDE", "TILE", "FOLDER"))
    parser.add_argument("--ratio-side", type=int, default=384)
    parser.add_argument("--ratio-tile", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sizes", default="1024,2048,4096", help="sides of the memory series")
    parser.add_argument("--mem-tile", type=int, default=256)
    parser.add_argument("--only", default="throughput,ratio,memory,hints", help="parts to run")
    parser.add_argument("--hints-sizes", default="1,4,16", help="megapixels (colorize_hints)")
    parser.add_argument("--hints-count", type=int, default=200)
    parser.add_argument("--hints-child", nargs=3, metavar=("MODE", "MP", "HINTS"))
    args = parser.parse_args()
    if args.hints_child:
        mode, mp, count = args.hints_child
        hints_child(mode, int(mp), int(count))
        return
    if args.child:
        kind, side, tile, folder = args.child
        child_peak(kind, int(side), int(tile), folder)
        return
    torch.set_num_threads(2)
    print("# Restoration engine speed and memory (bench/engine.py)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        parts = {
            "throughput": lambda: bench_throughput(folder),
            "ratio": lambda: bench_tiling_ratio(args.ratio_side, args.ratio_tile, args.repeat),
            "memory": lambda: bench_memory(
                folder, [int(s) for s in args.sizes.split(",")], args.mem_tile
            ),
            "hints": lambda: bench_hints(
                [int(s) for s in args.hints_sizes.split(",")], args.hints_count
            ),
        }
        for name in args.only.split(","):
            step = parts[name]
            t0 = time.perf_counter()
            step()
            print(f"\n({name}: {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
