"""Face alignment to the FFHQ 512 template, model adapters, and feathered paste-back."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .mtcnn import Face

FACE_SIZE = 512
# Five-point FFHQ template at 512x512 (eyes, nose tip, mouth corners), as used by GFPGAN,
# CodeFormer and RestoreFormer through facexlib: their weights expect faces placed here.
FFHQ_TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.19360],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    np.float32,
)
# facexlib pads with this grey: what the face models saw around faces during training.
BORDER_GREY = (135 / 255.0, 133 / 255.0, 132 / 255.0)


def alignment_matrix(landmarks: np.ndarray) -> np.ndarray:
    """2x3 similarity transform (rotation, uniform scale, shift) from image to template."""
    matrix, _ = cv2.estimateAffinePartial2D(
        landmarks.astype(np.float32), FFHQ_TEMPLATE_512, method=cv2.LMEDS
    )
    if matrix is None:  # degenerate landmarks: fall back to least squares on all points
        matrix, _ = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), FFHQ_TEMPLATE_512)
    return np.asarray(matrix, np.float64)


def align_face(image_f: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
    """(512x512x3 float face crop, 2x3 matrix image→crop)."""
    matrix = alignment_matrix(face.landmarks)
    crop = cv2.warpAffine(
        image_f,
        matrix,
        (FACE_SIZE, FACE_SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=BORDER_GREY,
    )
    return crop, matrix


def paste_back(
    image_f: np.ndarray, restored: np.ndarray, matrix: np.ndarray
) -> tuple[np.ndarray, float]:
    """Blend a restored 512 crop back into the image (in place) with a feathered mask.

    The mask is the warped crop square, eroded and blurred in proportion to the face's size in
    the image, so the seam falls inside the crop where the model's output is reliable and the
    transition is wide enough to hide tone differences. Only the face's bounding region is
    warped and blended, so a large scan with many faces costs no full-size temporaries.
    Returns (image, mask area in pixels).
    """
    h, w = image_f.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [FACE_SIZE, 0], [0, FACE_SIZE], [FACE_SIZE, FACE_SIZE]], np.float64)
    mapped = corners @ inverse[:, :2].T + inverse[:, 2]
    x0, y0 = (max(0, int(np.floor(v)) - 2) for v in mapped.min(axis=0))
    x1 = min(w, int(np.ceil(mapped[:, 0].max())) + 2)
    y1 = min(h, int(np.ceil(mapped[:, 1].max())) + 2)
    if x1 <= x0 or y1 <= y0:
        return image_f, 0.0
    local = inverse.copy()
    local[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    back = cv2.warpAffine(
        restored, local, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    ones = np.ones((FACE_SIZE, FACE_SIZE), np.float32)
    mask = cv2.warpAffine(ones, local, size, flags=cv2.INTER_LINEAR)
    scale_to_image = float(np.sqrt(abs(np.linalg.det(inverse[:, :2]))))
    erode = max(1, int(round(2 * scale_to_image)))
    mask = cv2.erode(mask, np.ones((erode, erode), np.uint8))
    area = float(mask.sum())
    edge = max(1, int(np.sqrt(area)) // 20)
    mask = cv2.erode(mask, np.ones((edge, edge), np.uint8))
    blur = 2 * edge + 1
    mask = cv2.GaussianBlur(mask, (blur, blur), 0)[:, :, None]
    region = image_f[y0:y1, x0:x1]
    image_f[y0:y1, x0:x1] = region * (1.0 - mask) + back * mask
    return image_f, area


def restore_crop(descriptor: Any, crop: np.ndarray, fidelity: float | None) -> np.ndarray:
    """Run a face model on a 512x512 float RGB crop in [0, 1], return the same.

    GFPGAN and CodeFormer were trained on [-1, 1] inputs and spandrel's descriptors pass our
    [0, 1] tensor straight through, so we call the module ourselves with the original
    normalisation; RestoreFormer's spandrel call already normalises.
    """
    import torch

    device = next(descriptor.model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).unsqueeze(0).to(device)
    arch = str(descriptor.architecture.id)
    with torch.inference_mode():
        if arch == "GFPGAN":
            y = descriptor.model(x * 2.0 - 1.0, return_rgb=False)[0]
            y = (y + 1.0) / 2.0
        elif arch == "CodeFormer":
            weight = 0.5 if fidelity is None else fidelity
            y = descriptor.model(x * 2.0 - 1.0, weight=weight)[0]
            y = (y + 1.0) / 2.0
        else:
            y = descriptor(x)
    y = y.clamp(0.0, 1.0)
    if y.shape[-1] != FACE_SIZE or y.shape[-2] != FACE_SIZE:
        y = torch.nn.functional.interpolate(y, size=(FACE_SIZE, FACE_SIZE), mode="bicubic").clamp(
            0, 1
        )
    return np.ascontiguousarray(y[0].permute(1, 2, 0).float().cpu().numpy())
