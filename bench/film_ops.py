# ruff: noqa: E402  (the engine is imported after putting the repository root on sys.path)
"""Speed and memory of the film operations. Run: `.venv/bin/python bench/film_ops.py [--quick]`.

For every film operation: frames per second (input frames consumed per second of wall clock,
torch with 2 threads) at 432x320 (the corpus clip itself) and at 1920x1080 (the clip's frames
enlarged), short runs; the ratio of that speed to a baseline measured in the same run (a plain
pass that converts each frame to grey, i.e. the cost of touching every frame once); and the
peak resident memory the operation added (VmHWM after /proc/self/clear_refs, in a forked child
so runs do not see each other's peaks). RIFE runs on the real HD v3 weights when
../shared/models/rife-hdv3.safetensors is present. `bench/film.py` (jobs, chunking, workers)
imports `measure` and `cases` from here.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import multiprocessing as mp
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restoration.engine import ModelRef, inspect_weights
from restoration.engine.film import FilmContext, FilmMeta, get_film_operation

SHARED = ROOT.parent / "shared"
CLIP = SHARED / "corpus" / "film" / "abomb.mp4"
KEYFRAME = SHARED / "corpus" / "film" / "abomb_keyframes" / "0001063_out.png"
RIFE = SHARED / "models" / "rife-hdv3.safetensors"


def clip_frames(n: int, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    import av

    with av.open(str(CLIP)) as container:
        frames = []
        for i, f in enumerate(container.decode(video=0)):
            if i < 150:
                continue  # the trucks: motion, grain, flicker
            arr = f.to_ndarray(format="rgb24")
            frames.append(cv2.resize(arr, size, interpolation=cv2.INTER_CUBIC) if size else arr)
            if len(frames) == n:
                break
    return frames


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _child(conn: Any, fn: Callable[[], int]) -> None:
    import torch

    torch.set_num_threads(2)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS
    start_kb = _status_kb("VmRSS")
    t0 = time.perf_counter()
    n = fn()
    seconds = time.perf_counter() - t0
    conn.send((n, seconds, (_status_kb("VmHWM") - start_kb) / 1024))
    conn.close()


def in_child(fn: Callable[[], int]) -> tuple[int, float, float]:
    """(frames, seconds, peak MiB added) of ``fn`` run in a forked child."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, fn))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def measure(name: str, params: dict[str, Any], frames: list[np.ndarray], fps: int = 24,
            models: dict[str, ModelRef] | None = None,
            inputs: dict[str, np.ndarray] | None = None) -> dict[str, float]:  # fmt: skip
    """Frames per second and peak MiB of one film operation over ``frames``."""
    h, w = frames[0].shape[:2]
    meta = FilmMeta(w, h, fps, len(frames))
    op = get_film_operation(name)
    clean = op.validate(params)

    def work() -> int:
        ctx = FilmContext(models=models or {}, inputs=dict(inputs or {}))
        for _ in op.run(iter(frames), meta, clean, ctx):
            pass
        return len(frames)

    n, seconds, peak = in_child(work)
    return {"fps": n / seconds, "seconds": seconds, "peak_mib": peak, "frames": n}


def baseline(frames: list[np.ndarray]) -> dict[str, float]:
    def work() -> int:
        for f in frames:
            cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
        return len(frames)

    n, seconds, peak = in_child(work)
    return {"fps": n / seconds, "seconds": seconds, "peak_mib": peak, "frames": n}


def flat(name: str, params: dict[str, Any], n: int, size: tuple[int, int]) -> float:
    """Peak MiB added by ``name`` over ``n`` frames streamed from a generator that cycles 24
    real frames (nothing keeps the film): flat in ``n`` when memory is bounded by the window."""
    base = clip_frames(24, size)
    meta = FilmMeta(size[0], size[1], 24, n)
    op = get_film_operation(name)
    clean = op.validate(params)

    def frames() -> Any:
        for i in range(n):
            yield base[i % len(base)].copy()

    def work() -> int:
        for _ in op.run(frames(), meta, clean, FilmContext()):
            pass
        return n

    return in_child(work)[2]


def quality() -> None:
    """The corpus README's figures, measured by the film operations' own code."""
    import glob

    import torch
    from PIL import Image

    from restoration.engine.film.colorize import Exemplar, align_keyframe
    from restoration.engine.film.deflicker import flicker_measure
    from restoration.engine.film.frames import luma, psnr
    from restoration.engine.film.interpolate import DisInterpolator, blend
    from restoration.engine.film.rife import RifeInterpolator
    from restoration.engine.imageutil import lab_error, lab_to_rgb, rgb_to_lab, to_float, to_uint8

    torch.set_num_threads(2)
    frames = clip_frames_all()
    deduped = [f for i, f in enumerate(frames) if i % 5 != 3]
    cuts = (35, 107, 239)  # of the de-duplicated clip
    starts = [i for i in range(0, len(deduped) - 2, 2) if not any(i < c <= i + 2 for c in cuts)]
    dis = DisInterpolator()
    rife = None
    if RIFE.is_file():
        info = inspect_weights(RIFE)
        rife = RifeInterpolator(
            ModelRef("rife", RIFE, info.sha256, info.architecture, "interpolate")
        )
    scores: dict[str, list[float]] = {
        "repeat previous": [],
        "blend": [],
        "DIS": [],
        "RIFE HD v3": [],
    }
    for i in starts:
        a, mid, c = deduped[i], deduped[i + 1], deduped[i + 2]
        y = luma(mid)
        scores["repeat previous"].append(psnr(luma(a), y))
        scores["blend"].append(psnr(luma(blend(a, c, 0.5)), y))
        scores["DIS"].append(psnr(luma(dis((i, i + 2), a, c, 0.5)), y))
        if rife is not None:
            scores["RIFE HD v3"].append(psnr(luma(rife((i, i + 2), a, c, 0.5)), y))
    print(f"\n## Rebuilding a dropped frame: luma PSNR over {len(starts)} in-shot triplets\n")
    for name, vals in scores.items():
        if vals:
            print(f"- {name}: {np.mean(vals):.2f} dB")
    meta = FilmMeta(432, 320, 29, len(frames))
    ctx = FilmContext()
    out = list(get_film_operation("deflicker").run(iter(frames), meta, {}, ctx))
    print(
        "\n## deflicker (defaults), whole clip: flicker "
        f"{flicker_measure([luma(f).mean() for f in frames]):.3f} -> "
        f"{flicker_measure([luma(f).mean() for f in out]):.3f}"
    )
    ctx = FilmContext()
    list(get_film_operation("dedupe").run(iter(frames), meta, {}, ctx))
    print(
        f"\n## dedupe: {ctx.analysis['dropped_count']} repeats, cadence {ctx.analysis.get('cadence')}"
    )
    keys = {
        int(Path(p).name[:7]): np.asarray(Image.open(p).convert("RGB"))
        for p in sorted(glob.glob(str(KEYFRAME.parent / "*_out.png")))
    }
    print("\n## Exemplar colour across shots: mean ΔE*ab (grey in brackets)\n")
    for used, (frame, target) in [
        ((874, 1063), (105, 968)),
        ((874, 968), (194, 1063)),
        ((874, 968), (351, 1220)),
        ((968, 1220), (5, 874)),
    ]:
        ex = Exemplar()
        for k in used:
            ex.add(keys[k], rgb_to_lab(to_float(keys[k]))[..., 1:])
        lab = rgb_to_lab(to_float(frames[frame]))
        lab[..., 1:] = ex.predict(lab[..., 0])
        pred = to_uint8(lab_to_rgb(lab))
        truth, _ = align_keyframe(keys[target], frames[frame])
        m = 10
        ours = lab_error(pred[m:-m, m:-m], truth[m:-m, m:-m])
        grey = lab_error(frames[frame][m:-m, m:-m], truth[m:-m, m:-m])
        print(f"- keyframes {used} -> frame {frame}: {ours:.1f} ({grey:.1f})")


def clip_frames_all() -> list[np.ndarray]:
    import av

    with av.open(str(CLIP)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def cases(rife: ModelRef | None, keyframe: np.ndarray | None) -> list[tuple[str, dict, str]]:
    out: list[tuple[str, dict, str]] = [
        ("dedupe", {}, "defaults"),
        ("scene_detect", {}, "defaults"),
        ("stabilize", {}, "phase + ECC"),
        ("deflicker", {}, "radius 7"),
        ("temporal_denoise", {}, "radius 2, DIS"),
        ("interpolate", {"fps": 36}, "24 -> 36, DIS"),
        ("interpolate", {"fps": 36, "method": "blend"}, "24 -> 36, blend"),
        ("retime", {"true_fps": 16, "fps": 24}, "16 -> 24, repeat"),
        ("per_frame", {"op": "clahe"}, "clahe"),
        ("per_frame", {"op": "denoise"}, "NL-means denoise"),
    ]
    if keyframe is not None:
        out.append(
            ("colorize_keyframes", {"keyframes": [{"frame": 0, "image": 1}]}, "one image keyframe")
        )
    if rife is not None:
        out.append(("interpolate", {"fps": 48, "model": rife.name}, "24 -> 48, RIFE HD v3"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer frames, no 1080p RIFE")
    parser.add_argument("--flat", action="store_true", help="also: peak memory against length")
    parser.add_argument(
        "--quality", action="store_true", help="only: the corpus figures (PSNR, flicker, ΔE)"
    )
    args = parser.parse_args()
    if not CLIP.is_file():
        sys.exit(f"the corpus clip {CLIP} is absent")
    if args.quality:
        quality()
        return
    rife = None
    if RIFE.is_file():
        info = inspect_weights(RIFE)
        rife = ModelRef("rife-hdv3", RIFE, info.sha256, info.architecture, info.purpose)
    kf = None
    if KEYFRAME.is_file():
        from PIL import Image

        kf = np.asarray(Image.open(KEYFRAME).convert("RGB"))
    sizes = [
        ("432x320", None, 12 if args.quick else 40),
        ("1920x1080", (1920, 1080), 4 if args.quick else 12),
    ]
    print("\n## Film operations: input frames per second (2 threads), peak memory added\n")
    print("| op | setting | size | frames | fps | x baseline | peak MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, size, n in sizes:
        frames = clip_frames(n, size)
        base = baseline(frames)
        print(
            f"| (baseline: grey conversion) | | {label} | {n} | {base['fps']:.1f} | 1 | {base['peak_mib']:.0f} |"
        )
        for name, params, setting in cases(rife, kf):
            models = {"model": rife} if "model" in params and rife else None
            use = frames
            if "model" in params and size is not None:
                if args.quick:
                    continue
                use = frames[:3]  # RIFE on CPU at 1080p: seconds per frame
            inputs = {"keyframe_0": kf} if name == "colorize_keyframes" and kf is not None else None
            r = measure(name, params, use, models=models, inputs=inputs)
            print(
                f"| {name} | {setting} | {label} | {r['frames']} | {r['fps']:.2f} | "
                f"{r['fps'] / base['fps']:.4f} | {r['peak_mib']:.0f} |"
            )

    if args.flat:
        print("\n## Peak memory added against the film's length (216x160, frames streamed)\n")
        print("| op | 200 frames MiB | 2000 frames MiB |")
        print("| --- | --- | --- |")
        for name, params in [
            ("dedupe", {}),
            ("deflicker", {}),
            ("stabilize", {}),
            ("interpolate", {"fps": 36, "method": "blend"}),
        ]:
            small, big = (flat(name, params, n, (216, 160)) for n in (200, 2000))
            print(f"| {name} | {small:.0f} | {big:.0f} |")


if __name__ == "__main__":
    main()
