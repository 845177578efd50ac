"""Array conventions: validation, dtype conversion and colour-space helpers.

Operations work in float32 in [0, 1]; inputs may be uint8 or uint16 (16-bit scans keep their
precision until the final rounding), outputs are always uint8.
"""

from __future__ import annotations

import cv2
import numpy as np

from .types import BadInputError

MAX_PIXELS = 400_000_000  # a 20000x20000 scan; beyond that something is wrong with the decode


def check_image(image: np.ndarray, role: str = "image") -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise BadInputError(f"{role}: expected a numpy array, got {type(image).__name__}")
    if image.dtype not in (np.uint8, np.uint16):
        raise BadInputError(f"{role}: dtype must be uint8 or uint16, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise BadInputError(f"{role}: shape must be HxW or HxWx3, got {image.shape}")
    h, w = image.shape[:2]
    if h < 1 or w < 1 or h * w > MAX_PIXELS:
        raise BadInputError(f"{role}: size {w}x{h} is outside 1..{MAX_PIXELS} pixels")
    return image


def is_gray(image: np.ndarray) -> bool:
    return image.ndim == 2


def to_float(image: np.ndarray) -> np.ndarray:
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    return np.ascontiguousarray(image, dtype=np.float32) / np.float32(scale)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(image, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def as_uint8(image: np.ndarray) -> np.ndarray:
    """uint16 → uint8 with rounding; uint8 passes through unchanged."""
    if image.dtype == np.uint8:
        return image
    return to_uint8(to_float(image))


def rgb(image: np.ndarray) -> np.ndarray:
    """Float or uint image → three channels (grey is replicated)."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return image


def gray(image_f: np.ndarray) -> np.ndarray:
    """Float RGB → float luma (Rec. 601, as OpenCV and most scanners' grey modes use)."""
    if image_f.ndim == 2:
        return image_f
    return cv2.cvtColor(np.ascontiguousarray(image_f, dtype=np.float32), cv2.COLOR_RGB2GRAY)


def rgb_to_lab(image_f: np.ndarray) -> np.ndarray:
    """Float sRGB in [0,1] → CIE Lab (L in 0..100, a/b roughly -128..127), D65."""
    return cv2.cvtColor(np.ascontiguousarray(rgb(image_f), dtype=np.float32), cv2.COLOR_RGB2LAB)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    out = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(out, 0.0, 1.0)


def lab_error(a_rgb_u8: np.ndarray, b_rgb_u8: np.ndarray) -> float:
    """Mean CIE76 colour difference (ΔE*ab) between two uint8 RGB images of equal shape."""
    la = rgb_to_lab(to_float(a_rgb_u8))
    lb = rgb_to_lab(to_float(b_rgb_u8))
    return float(np.mean(np.linalg.norm(la - lb, axis=2)))


def parse_color(hex_color: str) -> tuple[float, float, float]:
    value = int(hex_color[1:], 16)
    return ((value >> 16) & 255) / 255.0, ((value >> 8) & 255) / 255.0, (value & 255) / 255.0


def box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (x0, y0, x1, y1) with each row of ``others``."""
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9))
