"""`descratch`: find scratches, creases, cracks and dust on scans, then inpaint them.

Detection works on lightness. Damage on a print is thin and has a strong polarity (emulsion
lost shows the white paper; a scratched negative prints black), so a morphological top-hat with
a structuring element a little wider than the damage isolates it from the picture. Picture
detail is also thin, though (hair, eyelashes, the white of an eye); what tells a crease apart is
that it is *long and straight at small scale*. So the top-hat is averaged along short line
segments in 12 directions: a crease keeps its full response along its own direction, texture
and small features do not. Seeds are pixels with a strong oriented response; they grow by
hysteresis into the connected top-hat response to get the full width of the damage. Isolated
compact specks with a very strong response are dust.

Thresholds are set relative to a robust noise estimate of the top-hat image (median absolute
deviation), so the same `sensitivity` means the same thing on a clean and a grainy scan.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
from skimage.filters import apply_hysteresis_threshold
from skimage.morphology import skeletonize

from .imageutil import as_uint8, gray, to_float, to_uint8
from .operation import Applied, Operation
from .params import ParamSpec
from .types import BadInputError, OpInputs, RunContext

REFERENCE_SIDE = 512  # sizes below are in pixels of a 512-pixel-wide scan and scale with it
ANGLES = 12


def _odd(n: float, short_side: int | None = None) -> int:
    """An odd kernel size of at least 3 and, with ``short_side``, at most the image's short
    side (rounded to odd): the sizes scale with the long side, and a 200000x1 scan would
    otherwise ask OpenCV for a 3500-pixel structuring element, which crashes it (SIGSEGV)."""
    k = max(3, int(round(n)))
    if short_side is not None:
        k = min(k, max(3, short_side))
    return k if k % 2 else k + 1


def line_kernels(length: int, angles: int = ANGLES) -> list[np.ndarray]:
    """Normalised 1-pixel-wide line segments through the centre in `angles` directions."""
    kernels = []
    c = length // 2
    for i in range(angles):
        theta = math.pi * i / angles
        k = np.zeros((length, length), np.float32)
        dx, dy = math.cos(theta), math.sin(theta)
        x0, y0 = round(c - dx * c), round(c - dy * c)
        x1, y1 = round(c + dx * c), round(c + dy * c)
        cv2.line(k, (x0, y0), (x1, y1), 1.0, thickness=1)
        kernels.append(k / k.sum())
    return kernels


def _tophat(lum: np.ndarray, width: int, polarity: str) -> np.ndarray:
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    responses = []
    if polarity in ("bright", "both"):
        responses.append(cv2.morphologyEx(lum, cv2.MORPH_TOPHAT, se))
    if polarity in ("dark", "both"):
        responses.append(cv2.morphologyEx(lum, cv2.MORPH_BLACKHAT, se))
    return np.maximum.reduce(responses) if len(responses) > 1 else responses[0]


def _robust_sigma(x: np.ndarray) -> float:
    med = float(np.median(x))
    return max(1.4826 * float(np.median(np.abs(x - med))), 1e-3)


def detect_damage(lum: np.ndarray, params: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """Boolean damage mask for float lightness in [0, 1], plus facts about the detection."""
    h, w = lum.shape
    s = max(h, w) / REFERENCE_SIDE
    width = _odd(params["max_width"] * s, min(h, w))
    length = _odd(params["min_length"] * s, min(h, w))
    top = _tophat(lum, width, params["polarity"])
    sigma = _robust_sigma(top)
    base = float(np.median(top))
    # sensitivity 0..1 maps to a seed threshold of 14..4 noise sigmas.
    k_high = 14.0 - 10.0 * params["sensitivity"]
    oriented = np.maximum.reduce(
        [cv2.filter2D(top, -1, k, borderType=cv2.BORDER_REFLECT) for k in line_kernels(length)]
    )
    oriented_sigma = _robust_sigma(oriented)
    seeds = oriented > float(np.median(oriented)) + k_high * oriented_sigma
    grow_low = base + 0.5 * k_high * sigma
    # Seeds are marked above any real top-hat value (<= 1) so hysteresis grows from them only.
    grown = apply_hysteresis_threshold(np.where(seeds, 2.0, top), grow_low, 1.5)
    grown &= top > grow_low
    mask = _keep_line_like(
        grown, max(3, int(round(params["min_length"] * s * 0.5))), max(3.0, 0.4 * width)
    )
    dust_count = 0
    if params["dust"]:
        dust, dust_count = _dust(
            top, base + 2.0 * k_high * sigma, int(round(params["dust_max_area"] * s * s))
        )
        mask |= dust
    if params["dilate"]:
        d = 2 * params["dilate"] + 1
        mask = (
            cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d)))
            > 0
        )
    facts = {
        "structure_width_px": width,
        "segment_length_px": length,
        "noise_sigma": round(sigma, 5),
        "dust_specks": dust_count,
    }
    return mask, facts


def _keep_line_like(mask: np.ndarray, min_extent: int, max_mean_width: float) -> np.ndarray:
    """Keep components that are long (bounding box >= `min_extent`) and thin (area divided by
    skeleton length <= `max_mean_width`). A cigarette, a ribbon or a collar is bright and
    elongated too, but it is a bar of even, larger width; cracks and creases are hairlines."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    skeleton_len = np.bincount(labels[skeletonize(mask)], minlength=n)
    mean_width = stats[:, cv2.CC_STAT_AREA] / np.maximum(skeleton_len, 1)
    keep = (extent >= min_extent) & (mean_width <= max_mean_width)
    keep[0] = False
    return keep[labels]


def _dust(top: np.ndarray, threshold: float, max_area: int) -> tuple[np.ndarray, int]:
    strong = (top > threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(strong, connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    keep = (area >= 1) & (area <= max(1, max_area))
    keep[0] = False
    return keep[labels], int(keep.sum())


def inpaint(image_u8: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """Telea fast marching: fills thin regions from their borders, keeps everything else."""
    return cv2.inpaint(image_u8, mask.astype(np.uint8) * 255, radius, cv2.INPAINT_TELEA)


class Descratch(Operation):
    name = "descratch"
    version = "1.0"
    description = (
        "Detect scratches, creases, cracks and dust automatically (or take a given mask, input "
        "role `mask`), output the mask (role `mask`) and inpaint the damaged pixels only."
    )
    bytes_per_pixel = 130.0  # bench/memory.py, 4 MP RGB: 109 B/px
    params = (
        ParamSpec(
            "sensitivity",
            "float",
            default=0.5,
            minimum=0.0,
            maximum=1.0,
            description="higher finds fainter damage (and risks more false alarms)",
        ),
        ParamSpec(
            "polarity",
            "str",
            default="bright",
            choices=("bright", "dark", "both"),
            description="bright: lost emulsion on prints; dark: scratched negatives",
        ),
        ParamSpec(
            "max_width",
            "float",
            default=9.0,
            minimum=2.0,
            maximum=64.0,
            description="widest damage to detect, in pixels per 512 px of image side",
        ),
        ParamSpec(
            "min_length",
            "float",
            default=17.0,
            minimum=5.0,
            maximum=200.0,
            description="shortest straight stretch that counts as a scratch (per 512 px)",
        ),
        ParamSpec("dust", "bool", default=True, description="also remove small isolated specks"),
        ParamSpec(
            "dust_max_area",
            "float",
            default=6.0,
            minimum=1.0,
            maximum=400.0,
            description="largest speck area in pixels (per 512x512)",
        ),
        ParamSpec(
            "dilate",
            "int",
            default=1,
            minimum=0,
            maximum=10,
            description="grow the mask by this many pixels to cover halos",
        ),
        ParamSpec("inpaint_radius", "int", default=3, minimum=1, maximum=25),
        ParamSpec(
            "mask",
            "artifact",
            description="artifact id of a damage mask (input role `mask`; non-zero = damaged)",
        ),
        ParamSpec(
            "detect",
            "bool",
            default=True,
            description="detect damage; with a given mask, detection is added to it only if true",
        ),
    )
    input_roles = {"mask": False}
    output_roles = ("mask",)

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        image = as_uint8(inputs.image)
        lum = gray(to_float(image))
        mask = np.zeros(lum.shape, bool)
        facts: dict[str, Any] = {"mask_given": "mask" in inputs.extra}
        if "mask" in inputs.extra:
            given = inputs.extra["mask"]
            if given.shape[:2] != lum.shape:
                raise BadInputError(
                    f"descratch: mask is {given.shape[1]}x{given.shape[0]}, image is {lum.shape[1]}x{lum.shape[0]}"
                )
            mask |= (given if given.ndim == 2 else given.max(axis=2)) > 0
        if params["detect"] or "mask" not in inputs.extra:
            found, detect_facts = detect_damage(lum, params)
            mask |= found
            facts.update(detect_facts)
        ctx.report(0.5)
        ctx.check_cancel()
        out = inpaint(image, mask, params["inpaint_radius"]) if mask.any() else image.copy()
        facts["mask_coverage"] = round(float(mask.mean()), 6)
        return Applied(out, outputs={"mask": to_uint8(mask.astype(np.float32))}, facts=facts)
