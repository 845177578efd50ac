"""Peak memory of each classical operation, measured, against the engine's own prediction.

Each (operation, size) runs in a fresh process: the libraries are imported and warmed on a tiny
image first, then the peak resident set (``ru_maxrss``) is read before and after the real run;
the difference is what the operation used. The prediction (``Operation.footprint``) is what
``job_create`` admits against ``ARCHIVE_WORKER_MEMORY_MB``: it must not be below the
measurement (ratio predicted / measured >= 1) and should not be far above it.

    .venv/bin/python bench/memory.py [--sizes 1,4]   (megapixels, square RGB)
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES: dict[str, dict] = {
    "denoise": {},
    "descratch": {},
    "clahe": {},
    "sharpen": {},
    "upscale": {"scale": 2.0},
    "grayscale": {},
    "rotate": {"angle": 7.0},
    "colorize_hints": {"hints": [{"x": 1, "y": 1, "color": "#a05030"}]},
    "colorize_hints@1M": {
        "hints": [{"x": 1, "y": 1, "color": "#a05030"}],
        "solve_pixels": 1_000_000,
    },
}

CHILD = r"""
import json, resource, sys
import numpy as np
from restoration.engine import OpInputs, RunContext, get_operation
name, side, params = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
op = get_operation(name)
rng = np.random.default_rng(0)
op.run(OpInputs(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)), params, RunContext())
image = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
op.run(OpInputs(image), params, RunContext())
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
predicted = op.footprint(image.shape, op.validate(params)).peak_bytes
print(json.dumps({"used": (after - before) * 1024, "predicted": predicted}))
"""


def measure(name: str, side: int, params: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, name, str(side), json.dumps(params)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,4", help="megapixels, comma-separated")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    print(f"{'operation':<22}{'MP':>5}{'used MiB':>11}{'predicted MiB':>15}{'pred/used':>11}")
    worst = math.inf
    for case, params in CASES.items():
        name = case.split("@")[0]
        for mp in sizes:
            side = int(math.sqrt(mp * 1e6))
            got = measure(name, side, params)
            used, predicted = got["used"], got["predicted"]
            ratio = predicted / used if used > 0 else math.inf
            worst = min(worst, ratio)
            print(
                f"{case:<22}{mp:>5g}{used / 2**20:>11.0f}{predicted / 2**20:>15.0f}{ratio:>11.2f}"
            )
    print(f"lowest predicted/used ratio: {worst:.2f} (>= 1 means admission never under-predicts)")


if __name__ == "__main__":
    main()
