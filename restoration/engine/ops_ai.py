"""AI operations: networks loaded with spandrel from registered weights (ModelRef)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .imageutil import gray, is_gray, lab_to_rgb, rgb, rgb_to_lab, to_float, to_uint8
from .models import load_model
from .mtcnn import MTCNN_FILES, get_detector
from .operation import Applied, Operation
from .params import ParamSpec
from .tiling import auto_tile_size, plan_tiles, run_tiled
from .types import (
    Availability,
    EngineEnv,
    ModelRef,
    OpInputs,
    ParamError,
    RunContext,
    UnavailableError,
)

TILE_SNAP = 128
DEFAULT_MTCNN_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "mtcnn"


def _model_available(env: EngineEnv, purpose: str, what: str) -> Availability:
    if any(m.purpose == purpose for m in env.models):
        return Availability(True)
    return Availability(
        False,
        f"no registered {what} weights (purpose '{purpose}'): put a weights file in MODELS_DIR "
        "and run `python manage.py models scan`",
    )


def _resolve(ctx: RunContext, purpose: str) -> ModelRef:
    ref = ctx.model("model")
    if ref.purpose != purpose:
        raise ParamError(
            "model",
            f"{ref.name!r} is a {ref.architecture} model for '{ref.purpose}', this needs '{purpose}'",
        )
    return ref


def _to_tensor(image_f: np.ndarray, device: str) -> Any:
    import torch

    chw = image_f.transpose(2, 0, 1) if image_f.ndim == 3 else image_f[None]
    return torch.from_numpy(np.ascontiguousarray(chw)).unsqueeze(0).to(device)


def _from_tensor(tensor: Any) -> np.ndarray:
    return np.ascontiguousarray(tensor[0].permute(1, 2, 0).float().cpu().numpy())


def choose_tile(descriptor: Any, ctx: RunContext, requested: int) -> int | None:
    """Tile side for this run, or None to run whole. Auto sizes are snapped down to multiples of
    128 so small changes in free memory do not change the tiling (and hence the output bytes);
    the tile used is recorded, so a run can be replayed exactly with `tile` set."""
    tiling = str(getattr(descriptor.tiling, "name", descriptor.tiling)).upper()
    if tiling == "INTERNAL":
        return None
    if requested:
        return requested
    if ctx.tile_size:
        return ctx.tile_size
    side = auto_tile_size(ctx.device, int(descriptor.scale))
    return max(TILE_SNAP, side - side % TILE_SNAP)


def model_forward(descriptor: Any, device: str) -> Any:
    def forward(tile: np.ndarray) -> np.ndarray:
        return _from_tensor(descriptor(_to_tensor(tile, device)))

    return forward


class SuperResolution(Operation):
    name = "sr"
    version = "1.0"
    kind = "ai"
    description = "AI super-resolution with any architecture spandrel detects (ESRGAN, SwinIR, HAT, ...), tiled."
    # Weights, activations of one tile and float32 accumulation of the output: estimated, not
    # measured here (no GPU, user-supplied architectures); generous on purpose.
    bytes_per_pixel = 32.0
    fixed_bytes = 2 * 2**30
    params = (
        ParamSpec(
            "model", "model", required=True, description="registered model name or id (purpose sr)"
        ),
        ParamSpec(
            "tile",
            "int",
            default=0,
            minimum=0,
            maximum=4096,
            description="tile side in input pixels; 0 = chosen from free memory",
        ),
    )

    def availability(self, env: EngineEnv) -> Availability:
        return _model_available(env, "sr", "super-resolution")

    def output_shape(
        self, shape: tuple[int, ...], params: Mapping[str, Any], models: Mapping[str, ModelRef]
    ) -> tuple[int, ...]:
        model = models.get("model")
        scale = model.scale if model is not None else 4  # the common case, until resolved
        return (shape[0] * scale, shape[1] * scale, 3)

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        ref = _resolve(ctx, "sr")
        t0 = time.perf_counter()
        descriptor = load_model(ref, ctx.device)
        load_s = time.perf_counter() - t0
        was_gray = is_gray(inputs.image)
        want_gray = descriptor.input_channels == 1
        forward = model_forward(descriptor, ctx.device)

        def tile_forward(tile_pixels: np.ndarray) -> np.ndarray:
            # Converted per tile: a float32 copy of a whole 16-MP scan alone would be 200 MB.
            f = to_float(tile_pixels)
            return forward(gray(rgb(f))[:, :, None] if want_gray else rgb(f))

        h, w = inputs.image.shape[:2]
        tile = choose_tile(descriptor, ctx, params["tile"]) or max(h, w)
        plan = plan_tiles(h, w, tile)
        t1 = time.perf_counter()
        out = run_tiled(
            inputs.image,
            tile_forward,
            scale=int(descriptor.scale),
            out_channels=int(descriptor.output_channels),
            tile=tile,
            ctx=ctx,
            progress_span=(0.0, 0.99),
        )
        infer_s = time.perf_counter() - t1
        if out.shape[2] == 1:
            out = out[:, :, 0]
        elif was_gray:
            out = to_uint8(gray(to_float(out)))
        facts = {
            "scale": int(descriptor.scale),
            "tile": tile,
            "tile_shape": [plan.th, plan.tw],
            "tiles": plan.count,
            "overlap": plan.overlap,
        }
        return Applied(out, facts=facts, timings={"load_s": load_s, "inference_s": infer_s})


class FaceRestore(Operation):
    name = "face_restore"
    version = "1.0"
    kind = "ai"
    description = (
        "Detect faces and 5 landmarks (MTCNN), align each to the FFHQ 512 template, restore it "
        "with a face model (GFPGAN, CodeFormer, RestoreFormer) and paste it back with a feathered mask."
    )
    # Weights, activations of one tile and float32 accumulation of the output: estimated, not
    # measured here (no GPU, user-supplied architectures); generous on purpose.
    bytes_per_pixel = 32.0
    fixed_bytes = 2 * 2**30
    params = (
        ParamSpec(
            "model",
            "model",
            required=True,
            description="registered model name or id (purpose face_restore)",
        ),
        ParamSpec(
            "fidelity",
            "float",
            minimum=0.0,
            maximum=1.0,
            description="CodeFormer only: 0 = strongest restoration, 1 = closest to the input",
        ),
        ParamSpec(
            "min_face",
            "int",
            default=20,
            minimum=12,
            maximum=4096,
            description="smallest face side to detect, in pixels",
        ),
        ParamSpec("max_faces", "int", default=16, minimum=1, maximum=256),
        ParamSpec(
            "min_score",
            "float",
            default=0.9,
            minimum=0.5,
            maximum=1.0,
            description="lowest detector confidence restored: a false face would be painted over",
        ),
        ParamSpec(
            "strength",
            "float",
            default=1.0,
            minimum=0.0,
            maximum=1.0,
            description="blend of the restored face over the original inside the mask",
        ),
    )

    def availability(self, env: EngineEnv) -> Availability:
        found = _model_available(env, "face_restore", "face restoration")
        if not found.ok:
            return found
        if _mtcnn_dir(env.mtcnn_dir) is None:
            return Availability(
                False, "MTCNN detector weights (pnet.pt, rnet.pt, onet.pt) not found"
            )
        return Availability(True)

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        from .face import align_face, paste_back, restore_crop

        ref = _resolve(ctx, "face_restore")
        fidelity = params.get("fidelity")
        if fidelity is not None and ref.architecture != "CodeFormer":
            raise ParamError(
                "fidelity", f"model {ref.name!r} ({ref.architecture}) has no fidelity control"
            )
        mtcnn_dir = _mtcnn_dir(ctx.mtcnn_dir)
        if mtcnn_dir is None:
            raise UnavailableError("MTCNN detector weights (pnet.pt, rnet.pt, onet.pt) not found")
        t0 = time.perf_counter()
        descriptor = load_model(ref, ctx.device)
        detector = get_detector(mtcnn_dir, ctx.device)
        load_s = time.perf_counter() - t0
        was_gray = is_gray(inputs.image)
        image_f = rgb(to_float(inputs.image))
        t1 = time.perf_counter()
        found = detector.detect(to_uint8(image_f), min_face=params["min_face"])
        faces = [f for f in found if f.score >= params["min_score"]][: params["max_faces"]]
        detect_s = time.perf_counter() - t1
        ctx.report(0.1)
        out = image_f.copy()
        records = []
        for i, face in enumerate(faces):
            ctx.check_cancel()
            crop, matrix = align_face(image_f, face)
            restored = restore_crop(descriptor, crop, fidelity)
            restored = crop + params["strength"] * (restored - crop)
            out, area = paste_back(out, restored, matrix)
            records.append(
                {
                    "box": [round(v, 1) for v in face.box],
                    "score": round(face.score, 4),
                    "landmarks": np.round(face.landmarks, 1).tolist(),
                    "mask_area": int(area),
                }
            )
            ctx.report(0.1 + 0.9 * (i + 1) / len(faces))
        result = to_uint8(gray(out) if was_gray else out)
        facts = {"faces": len(faces), "detections": records, "fidelity_used": fidelity is not None}
        return Applied(result, facts=facts, timings={"load_s": load_s, "detect_s": detect_s})


def _mtcnn_dir(given: Path | None) -> Path | None:
    for candidate in (given, DEFAULT_MTCNN_DIR):
        if candidate is not None and all((Path(candidate) / f).is_file() for f in MTCNN_FILES):
            return Path(candidate)
    return None


class Colorize(Operation):
    name = "colorize"
    version = "1.0"
    kind = "ai"
    description = (
        "AI colourisation (DDColor-style models). Only the model's a*/b* chroma is used: "
        "lightness is the input's own, so tones and detail are never altered."
    )
    # Weights, activations of one tile and float32 accumulation of the output: estimated, not
    # measured here (no GPU, user-supplied architectures); generous on purpose.
    bytes_per_pixel = 32.0
    fixed_bytes = 2 * 2**30
    params = (
        ParamSpec(
            "model",
            "model",
            required=True,
            description="registered model name or id (purpose colorize)",
        ),
        ParamSpec(
            "saturation",
            "float",
            default=1.0,
            minimum=0.0,
            maximum=2.0,
            description="scale of the predicted chroma",
        ),
    )

    def availability(self, env: EngineEnv) -> Availability:
        return _model_available(env, "colorize", "colourisation")

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        ref = _resolve(ctx, "colorize")
        t0 = time.perf_counter()
        descriptor = load_model(ref, ctx.device)
        load_s = time.perf_counter() - t0
        image_f = to_float(inputs.image)
        lightness = rgb_to_lab(rgb(image_f))[:, :, 0]
        grey = gray(rgb(image_f))
        ctx.check_cancel()
        t1 = time.perf_counter()
        predicted = _from_tensor(descriptor(_to_tensor(grey, ctx.device)))
        infer_s = time.perf_counter() - t1
        ab = rgb_to_lab(predicted)[:, :, 1:] * params["saturation"]
        out = to_uint8(lab_to_rgb(np.dstack([lightness, ab])))
        facts = {"mean_chroma": round(float(np.hypot(ab[..., 0], ab[..., 1]).mean()), 3)}
        return Applied(out, facts=facts, timings={"load_s": load_s, "inference_s": infer_s})
