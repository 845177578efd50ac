"""`animate`: frames per second and peak memory for a 512x512 and a 2048x2048 portrait.

Each size runs in a fresh process: the libraries and the landmark models are warmed on a tiny
clip first, then the real clip (default 3 s at 25 fps, label on, smile, one blink, eye contact,
a small nod) is rendered and written losslessly (FFV1/Matroska), as a job does. Reported per
size: landmarks + planning time, frames per second of render+encode, and the ratio against a
baseline measured in the same process, writing the unchanged still the same number of times
(the cost of the container alone); peak memory (ru_maxrss increase) against the operation's own
prediction (``Operation.footprint``, what admission control admits against the worker budget).

The portrait is the corpus' old_w_scratch_b.png (256 px, a real scan) enlarged with Lanczos.

    .venv/bin/python bench/animate.py [--sizes 512,2048] [--seconds 3] [--fps 25]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT.parent / "shared" / "corpus" / "old_w_scratch_b.png"

CHILD = r"""
import json, os, resource, sys, tempfile, time
import cv2, numpy as np
from PIL import Image
from restoration.engine import OpInputs, RunContext
from restoration.engine.animate.op import Animate
from restoration.engine.video import VideoWriter
from fractions import Fraction

path, side, seconds, fps = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
still = np.asarray(Image.open(path).convert("RGB"))
image = cv2.resize(still, (side, side), interpolation=cv2.INTER_LANCZOS4)
op = Animate()
params = {"duration": seconds, "fps": fps, "smile": 0.5, "blinks": 1, "gaze": "viewer", "nod": 2}
tmp = tempfile.mkdtemp()
# warm: libraries, litert models, encoder
op.write(OpInputs(still), {**params, "duration": 0.5}, RunContext(), os.path.join(tmp, "w.mkv"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
animation, md5s = op.write(OpInputs(image), params, RunContext(), os.path.join(tmp, "a.mkv"))
total = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
frames = animation.frame_count
prepare = animation.record["timings"]["prepare_s"]
t1 = time.perf_counter()
with VideoWriter(os.path.join(tmp, "b.mkv"), width=side, height=side, fps=Fraction(fps)) as w:
    for _ in range(frames):
        w.write(image, keep_hash=True)
baseline = time.perf_counter() - t1
predicted = op.footprint(image.shape, op.validate(params)).peak_bytes
face = animation.record["facts"]["driver"]["faces"][0]
print(json.dumps({
    "side": side, "frames": frames, "total_s": total, "prepare_s": prepare,
    "baseline_s": baseline, "used": (after - before) * 1024, "predicted": predicted,
    "face_width_px": face["face_width_px"], "smile_gain": face.get("smile_gain"),
}))
"""


def measure(side: int, seconds: float, fps: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(PORTRAIT), str(side), str(seconds), str(fps)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"OMP_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"size {side}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,2048")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()
    if not PORTRAIT.is_file():
        raise SystemExit(f"{PORTRAIT} is absent")
    print(f"animate: {args.seconds:g} s at {args.fps} fps, portrait {PORTRAIT.name} enlarged")
    header = (
        f"{'size':>10} {'frames':>6} {'prepare s':>9} {'render+encode fps':>17} "
        f"{'x baseline':>10} {'peak MiB':>9} {'predicted MiB':>13} {'pred/meas':>9}"
    )
    print(header)
    for side in (int(s) for s in args.sizes.split(",")):
        r = measure(side, args.seconds, args.fps)
        render = r["total_s"] - r["prepare_s"]
        fps = r["frames"] / render
        base_fps = r["frames"] / r["baseline_s"]
        used = max(r["used"], 1)
        print(
            f"{side:>5}x{side:<4} {r['frames']:>6} {r['prepare_s']:>9.2f} {fps:>17.1f} "
            f"{base_fps / fps:>10.2f} {used / 2**20:>9.0f} {r['predicted'] / 2**20:>13.0f} "
            f"{r['predicted'] / used:>9.2f}"
        )
    print(
        "x baseline: how many times longer a frame takes than writing the unchanged still "
        "(same process, same encoder). pred/meas >= 1: admission control is not optimistic."
    )


if __name__ == "__main__":
    main()
