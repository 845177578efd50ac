"""Weight-free operations: they work on a fresh install with no registered models."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from .imageutil import (
    MAX_PIXELS,
    as_uint8,
    gray,
    is_gray,
    lab_to_rgb,
    rgb_to_lab,
    to_float,
    to_uint8,
)
from .operation import Applied, Operation
from .params import ParamSpec
from .types import BadInputError, ModelRef, OpInputs, RunContext


def _keep_mode(result_f: np.ndarray, was_gray: bool) -> np.ndarray:
    """Grey in → grey out: a monochrome scan must not silently gain three channels."""
    if was_gray and result_f.ndim == 3:
        result_f = gray(result_f)
    return to_uint8(result_f)


def _apply_on_lightness(image: np.ndarray, fn: Any) -> np.ndarray:
    """Run `fn` on CIE L (float 0..1) and keep a/b: local-contrast and sharpening filters
    applied per RGB channel shift hues at edges, on lightness they do not."""
    f = to_float(image)
    if is_gray(image):
        return to_uint8(fn(f))
    lab = rgb_to_lab(f)
    lab[:, :, 0] = np.clip(fn(lab[:, :, 0] / 100.0), 0.0, 1.0) * 100.0
    return to_uint8(lab_to_rgb(lab))


class Denoise(Operation):
    name = "denoise"
    version = "1.0"
    description = (
        "Non-local means denoising (Buades et al. 2005). Colour images are denoised in CIE Lab "
        "with a separate chroma strength, so film grain is removed without smearing colour edges."
    )
    bytes_per_pixel = 20.0  # bench/memory.py, 4 MP RGB: 14 B/px
    params = (
        ParamSpec(
            "strength",
            "float",
            default=8.0,
            minimum=0.0,
            maximum=50.0,
            description="filter strength h on the 0..255 scale; 0 returns the input",
        ),
        ParamSpec(
            "color_strength",
            "float",
            minimum=0.0,
            maximum=50.0,
            description="chroma strength; defaults to `strength`",
        ),
        ParamSpec("patch_size", "int", default=7, choices=(3, 5, 7, 9, 11)),
        ParamSpec("search_size", "int", default=21, choices=(11, 15, 21, 27, 35)),
    )

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        image = as_uint8(inputs.image)
        h = params["strength"]
        h_color = params.get("color_strength", h)
        if h == 0 and h_color == 0:
            return Applied(image.copy())
        patch, search = params["patch_size"], params["search_size"]
        if is_gray(image):
            out = cv2.fastNlMeansDenoising(image, None, h, patch, search)
        else:
            out = cv2.fastNlMeansDenoisingColored(image, None, h, h_color, patch, search)
        return Applied(out)


class Clahe(Operation):
    name = "clahe"
    version = "1.0"
    description = "Contrast-limited adaptive histogram equalisation on lightness (a/b kept)."
    bytes_per_pixel = 90.0  # bench/memory.py, 4 MP RGB: 72 B/px
    params = (
        ParamSpec("clip_limit", "float", default=2.0, minimum=0.1, maximum=40.0),
        ParamSpec(
            "grid",
            "int",
            default=8,
            minimum=1,
            maximum=64,
            description="number of tiles along each axis",
        ),
    )

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        clahe = cv2.createCLAHE(clipLimit=params["clip_limit"], tileGridSize=(params["grid"],) * 2)

        def equalise(lightness: np.ndarray) -> np.ndarray:
            # 16-bit CLAHE keeps the precision of 16-bit scans through the histogram step.
            as16 = np.clip(np.rint(lightness * 65535.0), 0, 65535).astype(np.uint16)
            return clahe.apply(as16).astype(np.float32) / 65535.0

        return Applied(_apply_on_lightness(inputs.image, equalise))


class Sharpen(Operation):
    name = "sharpen"
    version = "1.0"
    description = "Unsharp mask on lightness: out = L + amount * (L - gaussian(L, radius))."
    bytes_per_pixel = 75.0  # bench/memory.py, 4 MP RGB: 60 B/px
    params = (
        ParamSpec("amount", "float", default=0.8, minimum=0.0, maximum=5.0),
        ParamSpec(
            "radius",
            "float",
            default=1.5,
            minimum=0.3,
            maximum=20.0,
            description="gaussian sigma in pixels",
        ),
        ParamSpec(
            "threshold",
            "float",
            default=0.0,
            minimum=0.0,
            maximum=0.5,
            description="ignore differences below this (0..1 scale): keeps grain flat",
        ),
    )

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        amount, sigma, threshold = params["amount"], params["radius"], params["threshold"]

        def unsharp(lightness: np.ndarray) -> np.ndarray:
            blurred = cv2.GaussianBlur(lightness, (0, 0), sigma)
            detail = lightness - blurred
            if threshold > 0:
                detail = np.where(np.abs(detail) >= threshold, detail, 0.0)
            return np.clip(lightness + amount * detail, 0.0, 1.0)

        return Applied(_apply_on_lightness(inputs.image, unsharp))


class Upscale(Operation):
    name = "upscale"
    version = "1.0"
    description = "Lanczos (8x8 kernel) resampling by a scale factor; no detail is invented."
    bytes_per_pixel = 44.0  # bench/memory.py, 4 MP RGB: 36 B per output pixel at x2
    params = (ParamSpec("scale", "float", default=2.0, minimum=1.0, maximum=8.0),)

    def output_shape(
        self, shape: tuple[int, ...], params: Mapping[str, Any], models: Mapping[str, ModelRef]
    ) -> tuple[int, ...]:
        h, w = shape[:2]
        return (round(h * params["scale"]), round(w * params["scale"]), *shape[2:])

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        image = inputs.image
        h, w = image.shape[:2]
        out_w, out_h = round(w * params["scale"]), round(h * params["scale"])
        if out_w * out_h > MAX_PIXELS:
            raise BadInputError(f"upscale: output {out_w}x{out_h} exceeds {MAX_PIXELS} pixels")
        out = cv2.resize(to_float(image), (out_w, out_h), interpolation=cv2.INTER_LANCZOS4)
        return Applied(to_uint8(out))


class Grayscale(Operation):
    name = "grayscale"
    version = "1.0"
    description = "Convert to one-channel grey."
    bytes_per_pixel = 32.0  # bench/memory.py, 4 MP RGB: 24 B/px
    params = (
        ParamSpec(
            "method",
            "str",
            default="rec601",
            choices=("rec601", "rec709", "lightness"),
            description="luma weights, or CIE L* rescaled to 0..255",
        ),
    )

    def output_shape(
        self, shape: tuple[int, ...], params: Mapping[str, Any], models: Mapping[str, ModelRef]
    ) -> tuple[int, ...]:
        return shape[:2]

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        f = to_float(inputs.image)
        if f.ndim == 2:
            return Applied(to_uint8(f))
        method = params["method"]
        if method == "rec601":
            out = gray(f)
        elif method == "rec709":
            out = f @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
        else:
            out = rgb_to_lab(f)[:, :, 0] / 100.0
        return Applied(to_uint8(out))


class Crop(Operation):
    name = "crop"
    version = "1.0"
    description = "Cut out a rectangle given in input pixel coordinates."
    params = (ParamSpec("rect", "rect", required=True, description="{x, y, width, height}"),)

    def output_shape(
        self, shape: tuple[int, ...], params: Mapping[str, Any], models: Mapping[str, ModelRef]
    ) -> tuple[int, ...]:
        rect = params["rect"]
        return (int(rect["height"]), int(rect["width"]), *shape[2:])

    def geometry(self, shape: tuple[int, ...], params: Mapping[str, Any]) -> np.ndarray | None:
        rect = params["rect"]
        return np.array([[1.0, 0.0, -rect["x"]], [0.0, 1.0, -rect["y"]]])

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        r = params["rect"]
        h, w = inputs.image.shape[:2]
        if r["x"] + r["width"] > w or r["y"] + r["height"] > h:
            raise BadInputError(
                f"crop: rect {r['x']},{r['y']} {r['width']}x{r['height']} leaves the {w}x{h} image"
            )
        out = inputs.image[r["y"] : r["y"] + r["height"], r["x"] : r["x"] + r["width"]]
        return Applied(np.ascontiguousarray(as_uint8(out)))


class Rotate(Operation):
    name = "rotate"
    version = "1.0"
    description = (
        "Rotate counter-clockwise by `angle` degrees. Multiples of 90 are exact (no resampling); "
        "other angles use Lanczos and, with `expand`, enlarge the canvas to keep every pixel."
    )
    bytes_per_pixel = 16.0  # bench/memory.py, 4 MP RGB: 4 B/px (uint8 warp)
    params = (
        ParamSpec("angle", "float", required=True, minimum=-360.0, maximum=360.0),
        ParamSpec("expand", "bool", default=True),
        ParamSpec("fill", "str", default="white", choices=("white", "black", "edge")),
    )

    def output_shape(
        self, shape: tuple[int, ...], params: Mapping[str, Any], models: Mapping[str, ModelRef]
    ) -> tuple[int, ...]:
        h, w = shape[:2]
        angle = params["angle"] % 360.0
        if angle % 180.0 == 90.0:
            return (w, h, *shape[2:])
        if angle % 90.0 == 0.0 or not params["expand"]:
            return shape
        cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
        return (math.ceil(w * sin + h * cos), math.ceil(w * cos + h * sin), *shape[2:])

    def geometry(self, shape: tuple[int, ...], params: Mapping[str, Any]) -> np.ndarray | None:
        h, w = shape[:2]
        angle = params["angle"] % 360.0
        if angle % 90.0 == 0.0:  # np.rot90 turns counter-clockwise about the corner
            turns = int(angle // 90) % 4
            return [
                np.array([[1.0, 0, 0], [0, 1.0, 0]]),
                np.array([[0, 1.0, 0], [-1.0, 0, w - 1.0]]),
                np.array([[-1.0, 0, w - 1.0], [0, -1.0, h - 1.0]]),
                np.array([[0, -1.0, h - 1.0], [1.0, 0, 0]]),
            ][turns]
        return self._matrix(h, w, params)[0]

    def _matrix(self, h: int, w: int, params: Mapping[str, Any]) -> tuple[np.ndarray, int, int]:
        """The warp of a rotation that is not a multiple of 90 degrees, and the output size."""
        angle = params["angle"] % 360.0
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
        out_w, out_h = w, h
        if params["expand"]:
            cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
            out_w, out_h = math.ceil(w * cos + h * sin), math.ceil(w * sin + h * cos)
            matrix[0, 2] += (out_w - w) / 2.0
            matrix[1, 2] += (out_h - h) / 2.0
        return matrix, out_w, out_h

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        image = as_uint8(inputs.image)
        angle = params["angle"] % 360.0
        if angle % 90.0 == 0.0:
            return Applied(np.ascontiguousarray(np.rot90(image, k=int(angle // 90))))
        h, w = image.shape[:2]
        matrix, out_w, out_h = self._matrix(h, w, params)
        fill = params["fill"]
        border = cv2.BORDER_REPLICATE if fill == "edge" else cv2.BORDER_CONSTANT
        value = 255 if fill == "white" else 0
        out = cv2.warpAffine(
            image,
            matrix,
            (out_w, out_h),
            flags=cv2.INTER_LANCZOS4,
            borderMode=border,
            borderValue=(value, value, value),
        )
        return Applied(out)


class ColorTransfer(Operation):
    name = "color_transfer"
    version = "1.0"
    description = (
        "Match the mean and spread of CIE Lab channels to a reference image (Reinhard et al. "
        "2001). With `keep_lightness` only a/b are transferred, so tones of the scan are kept."
    )
    params = (
        ParamSpec(
            "reference",
            "artifact",
            required=True,
            description="artifact id of the reference image (input role `reference`)",
        ),
        ParamSpec("strength", "float", default=1.0, minimum=0.0, maximum=1.0),
        ParamSpec("keep_lightness", "bool", default=True),
    )
    input_roles = {"reference": True}

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        src = rgb_to_lab(to_float(inputs.image))
        ref = rgb_to_lab(to_float(inputs.extra["reference"]))
        channels = (1, 2) if params["keep_lightness"] else (0, 1, 2)
        out = src.copy()
        facts: dict[str, Any] = {"reference_stats": {}}
        for c in channels:
            s_mean, s_std = float(src[..., c].mean()), float(src[..., c].std())
            r_mean, r_std = float(ref[..., c].mean()), float(ref[..., c].std())
            # A grey source has no spread in a/b: then only the mean (the cast) moves.
            gain = r_std / s_std if s_std > 1e-3 else 0.0
            out[..., c] = (src[..., c] - s_mean) * gain + r_mean
            facts["reference_stats"]["Lab"[c]] = {"mean": round(r_mean, 3), "std": round(r_std, 3)}
        out = src + params["strength"] * (out - src)
        return Applied(to_uint8(lab_to_rgb(out)), facts=facts)
