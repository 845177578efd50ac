# ruff: noqa: E402  (the engine is imported after putting the repository root on sys.path)
"""Quality figures of the restoration engine on the real corpus (../shared/corpus).

Prints one table per operation family. Every figure names its image, operation, parameters and
how it was measured. Run: `.venv/bin/python bench/quality.py` (about 2-4 minutes on 2 cores).

- colorize_hints: the corpus' early colour photographs are turned grey (Rec. 601) and
  colourised from N point hints whose colours are read from the true photo (3x3 mean at
  random positions, seed 0); error = mean CIE76 ΔE*ab against the true colours, next to the
  error of the grey image itself (the baseline).
- color_transfer: the true photo is "faded" (chroma x0.35 and a yellow cast of +12 b*, as dye
  fading does); colour statistics are transferred from a reference: another early colour photo
  of the corpus (realistic) and the true photo itself (upper bound). ΔE*ab against the truth.
- sr: 256x256 crops are downscaled x4 (area), brought back with Real-ESRGAN x4plus and with
  Lanczos; PSNR/SSIM (luma) against the crop. Real-ESRGAN is a perceptual model: it is expected
  to look sharper and to score lower than Lanczos on these fidelity metrics.
- descratch: mask precision/recall against hand-drawn polyline annotations
  (tests/engine/data/scratch_annotations.json; partial: they mark the clear cracks, so
  precision is a lower bound), crease removal on old_w_scratch_b, eye sharpness.
- face detection: MTCNN hits on the corpus portraits and on scikit-image's LFW subset.
"""

from __future__ import annotations

import os

# Before torch is imported: passive OpenMP waiting (see restoration/engine/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restoration.engine import ModelRef, OpInputs, RunContext, get_operation, inspect_weights
from restoration.engine.imageutil import (
    gray,
    lab_error,
    lab_to_rgb,
    rgb,
    rgb_to_lab,
    to_float,
    to_uint8,
)
from restoration.engine.mtcnn import get_detector

SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
MODELS = SHARED / "models"
ANNOTATIONS = ROOT / "tests" / "engine" / "data" / "scratch_annotations.json"


def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(CORPUS / name).convert("RGB"))


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |")


def sampled_hints(truth: np.ndarray, n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    h, w = truth.shape[:2]
    blurred = cv2.blur(truth, (3, 3))
    hints = []
    for _ in range(n):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r, g, b = (int(v) for v in blurred[y, x])
        hints.append({"x": x, "y": y, "color": f"#{r:02x}{g:02x}{b:02x}", "radius": 1})
    return hints


def bench_hints() -> None:
    rows = []
    for name in ("old_b.png", "old_c.png", "old_d.png"):
        truth = load(name)
        grey = to_uint8(gray(to_float(truth)))
        base = lab_error(rgb(grey), truth)
        for n in (50, 200):
            t0 = time.perf_counter()
            out = get_operation("colorize_hints").run(
                OpInputs(grey), {"hints": sampled_hints(truth, n)}, RunContext()
            )
            rows.append(
                [
                    name,
                    f"{truth.shape[1]}x{truth.shape[0]}",
                    n,
                    base,
                    lab_error(out.image, truth),
                    time.perf_counter() - t0,
                ]
            )
    table(
        "colorize_hints (Levin et al. 2004), solve_pixels=250000, point hints radius 1",
        ["image", "size", "hints", "grey ΔE*ab", "colourised ΔE*ab", "seconds"],
        rows,
    )


def fade(truth: np.ndarray) -> np.ndarray:
    lab = rgb_to_lab(to_float(truth))
    lab[..., 1:] *= 0.35
    lab[..., 2] += 12.0
    return to_uint8(lab_to_rgb(lab))


def bench_color_transfer() -> None:
    rows = []
    pairs = [("old_b.png", "old_c.png"), ("old_c.png", "old_d.png"), ("old_d.png", "old_c.png")]
    for name, other in pairs:
        truth = load(name)
        faded = fade(truth)
        for label, ref in ((other, load(other)), ("itself (upper bound)", truth)):
            out = get_operation("color_transfer").run(
                OpInputs(faded, {"reference": ref}), {"reference": 0}, RunContext()
            )
            rows.append([name, label, lab_error(faded, truth), lab_error(out.image, truth)])
    table(
        "color_transfer (Reinhard, Lab, keep_lightness) on faded copies (chroma x0.35, b* +12)",
        ["image", "reference", "faded ΔE*ab", "transferred ΔE*ab"],
        rows,
    )


def bench_sr() -> None:
    path = MODELS / "realesrgan-x4plus.fp16.safetensors"
    if not path.is_file():
        print("\n(sr skipped: Real-ESRGAN weights absent)")
        return
    info = inspect_weights(path)
    ref = ModelRef(
        "realesrgan-x4plus", path, info.sha256, info.architecture, info.purpose, info.scale
    )
    crops = [
        ("old_b.png", 300, 200),
        ("old_c.png", 350, 250),
        ("old_d.png", 300, 300),
        ("old_w_scratch_a.png", 180, 180),
    ]
    rows = []
    for name, y, x in crops:
        crop = load(name)[y : y + 256, x : x + 256]
        small = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
        lanczos = cv2.resize(small, (256, 256), interpolation=cv2.INTER_LANCZOS4)
        t0 = time.perf_counter()
        sr = (
            get_operation("sr")
            .run(OpInputs(small), {"model": ref.name}, RunContext(models={"model": ref}))
            .image
        )
        seconds = time.perf_counter() - t0
        g = lambda im: to_uint8(gray(to_float(im)))  # noqa: E731
        rows.append(
            [
                f"{name} [{x},{y} 256²]",
                peak_signal_noise_ratio(g(crop), g(lanczos)),
                structural_similarity(g(crop), g(lanczos)),
                peak_signal_noise_ratio(g(crop), g(sr)),
                structural_similarity(g(crop), g(sr)),
                seconds,
            ]
        )
    table(
        "x4 super-resolution after a x4 area downscale (64² → 256²), luma PSNR dB / SSIM",
        [
            "crop",
            "Lanczos PSNR",
            "Lanczos SSIM",
            "Real-ESRGAN PSNR",
            "Real-ESRGAN SSIM",
            "sr seconds",
        ],
        rows,
    )


def annotation_mask(shape: tuple[int, int], spec: dict, widen: int = 0) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for line in spec.values():
        pts = np.array(line["points"], np.int32)
        cv2.polylines(mask, [pts], False, 1, thickness=2 * (line["half_width"] + widen) + 1)
    return mask > 0


def centreline(shape: tuple[int, int], spec: dict) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for line in spec.values():
        cv2.polylines(mask, [np.array(line["points"], np.int32)], False, 1, thickness=1)
    return mask > 0


def bench_descratch() -> None:
    notes = json.loads(ANNOTATIONS.read_text())
    rows = []
    for name in ("old_w_scratch_a.png", "old_w_scratch_b.png"):
        scan = load(name)
        spec = notes[name]
        for sensitivity in (0.3, 0.5, 0.7):
            result = get_operation("descratch").run(
                OpInputs(scan), {"sensitivity": sensitivity}, RunContext()
            )
            mask = result.outputs["mask"] > 0
            # recall: annotated centreline pixels covered by the mask; precision: mask pixels
            # within 2 px of an annotated line (partial annotations: a lower bound).
            line = centreline(mask.shape, spec)
            recall = (mask & line).sum() / line.sum()
            near = annotation_mask(mask.shape, spec, widen=2)
            precision = (mask & near).sum() / max(mask.sum(), 1)
            rows.append([name, sensitivity, len(spec), recall, precision, mask.mean() * 100])
    table(
        "descratch mask vs hand-drawn annotations (polylines; partial, so precision is a lower bound)",
        [
            "image",
            "sensitivity",
            "annotated lines",
            "recall",
            "precision (lower bound)",
            "mask % of image",
        ],
        rows,
    )
    # Crease removal and eye sharpness on old_w_scratch_b (the figure the tests check).
    scan = load("old_w_scratch_b.png")
    crease = {"crease": notes["old_w_scratch_b.png"]["crease"]}
    band = annotation_mask(scan.shape[:2], crease)
    ring = annotation_mask(scan.shape[:2], crease, widen=5) & ~band
    result = get_operation("descratch").run(OpInputs(scan), {}, RunContext())
    l0, l1 = gray(to_float(scan)), gray(to_float(result.image))
    before = l0[band].mean() - l0[ring].mean()
    after = l1[band].mean() - l1[ring].mean()
    sharp = []
    for x, y in ((108, 102), (147, 101)):
        w0, w1 = l0[y - 5 : y + 6, x - 9 : x + 10], l1[y - 5 : y + 6, x - 9 : x + 10]
        sharp.append(cv2.Laplacian(w1, cv2.CV_32F).var() / cv2.Laplacian(w0, cv2.CV_32F).var())
    table(
        "descratch defaults on old_w_scratch_b.png: the forehead crease",
        [
            "crease excess brightness before",
            "after",
            "removed %",
            "left-eye sharpness ratio",
            "right-eye sharpness ratio",
        ],
        [
            [
                float(before),
                float(after),
                float(100 * (1 - after / before)),
                float(sharp[0]),
                float(sharp[1]),
            ]
        ],
    )


def bench_faces() -> None:
    detector = get_detector(MODELS / "mtcnn")
    rows = []
    for name in (
        "old_a.png",
        "old_b.png",
        "old_c.png",
        "old_d.png",
        "old_w_scratch_a.png",
        "old_w_scratch_b.png",
    ):
        faces = detector.detect(load(name))
        rows.append([name, len(faces), ", ".join(f"{f.score:.3f}" for f in faces)])
    table(
        "MTCNN on the corpus (thresholds 0.6/0.7/0.7, min face 20 px)",
        ["image", "faces", "scores"],
        rows,
    )
    from skimage import data

    lfw = data.lfw_subset()  # 200 25x25 grey crops: the first 100 are faces, the rest are not
    hits = []
    for crop in lfw:
        # The crops are tight on the face: pad with edge pixels and enlarge so MTCNN sees context.
        big = cv2.resize(
            np.pad(to_uint8(crop), 8, mode="edge"), (123, 123), interpolation=cv2.INTER_CUBIC
        )
        hits.append(len(detector.detect(np.dstack([big] * 3))) > 0)
    table(
        "MTCNN on scikit-image lfw_subset (25x25 crops padded 8 px, x3 cubic)",
        ["faces detected (of 100)", "non-faces with a detection (of 100)"],
        [[int(sum(hits[:100])), int(sum(hits[100:]))]],
    )


def main() -> None:
    torch.set_num_threads(2)
    print("# Restoration engine quality (bench/quality.py)")
    for step in (bench_hints, bench_color_transfer, bench_sr, bench_descratch, bench_faces):
        t0 = time.perf_counter()
        step()
        print(f"\n({step.__name__}: {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
