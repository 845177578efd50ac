"""Face identity: is the face in a step's output still the person in its input?

A face is measured as a 128-D embedding from dlib's ResNet face-recognition model, aligned by
dlib's 5-point shape predictor (both released into the public domain by Davis King and shipped
in the ``face-recognition-models`` package; dlib itself comes from the ``dlib-bin`` wheel). The
68-point predictor in that package is never loaded: its training data (iBUG 300-W) forbids
commercial use. The boxes come from the archive's own detector (MediaPipe's face detectors, see
``animate.landmarks``), run over tiles so that small faces in group photographs are found too.

Distances are Euclidean between embeddings. dlib's own same-person threshold (LFW) is 0.6; a
restoration of one photograph is held to a tighter rule: see ``THRESHOLDS`` and
docs/identity.md for the measured figures behind them.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .imageutil import box_iou
from .types import UnavailableError

SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
METHOD = "dlib-resnet-v1+5pt"
# The version of the rule below; a record names it, so that a later change of thresholds never
# silently reinterprets an old verdict.
THRESHOLDS_VERSION = "t1"
SAME_BELOW = 0.40  # distance under which a restoration kept the person
DIFFERENT_FROM = 0.55  # distance from which the face is another person's
MIN_FACE_PX = 48  # a face box narrower than this is too small to measure
MIN_SHARPNESS = 2.0  # Laplacian std of the aligned 150 px chip below which the face is a blur
WORK_FACE_PX = 200  # faces are measured on a crop scaled so that the box is this wide
DETECT_MIN_SCORE = 0.6
EMBEDDING_DIM = 128


@dataclass(frozen=True)
class FaceMeasure:
    """One face: its box (x0, y0, x1, y1 in image pixels), the detector's score, the box's width
    in pixels, the aligned chip's sharpness and, where it could be measured, its embedding."""

    box: tuple[float, float, float, float]
    score: float
    size: float
    sharpness: float
    embedding: np.ndarray | None  # (128,) float32, None when unmeasured
    reason: str = ""  # why it is unmeasured

    def as_record(self) -> dict[str, Any]:
        return {
            "box": [round(v, 1) for v in self.box],
            "score": round(self.score, 4),
            "size": round(self.size, 1),
            "sharpness": round(self.sharpness, 2),
            "measured": self.embedding is not None,
            **({"reason": self.reason} if self.reason else {}),
        }


def thresholds() -> dict[str, Any]:
    return {
        "version": THRESHOLDS_VERSION,
        "same_below": SAME_BELOW,
        "different_from": DIFFERENT_FROM,
        "min_face_px": MIN_FACE_PX,
    }


def method_record() -> dict[str, Any]:
    """What a verdict relied on: the method, the model files' sha256 and the thresholds."""
    return {"method": METHOD, "models": model_hashes(), "thresholds": thresholds()}


# --- models ------------------------------------------------------------------------------------


def _models_dir() -> Path | None:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models"
        if (candidate / SHAPE_MODEL).is_file() and (candidate / DESCRIPTOR_MODEL).is_file():
            return candidate
    return None


def available() -> str | None:
    """None when identity can be measured here, else the reason."""
    if _models_dir() is None:
        return "face identity models not found: install the `face-recognition-models` package"
    if importlib.util.find_spec("dlib") is None:
        return "dlib is not installed (the `dlib-bin` wheel)"
    from .animate import landmarks

    return landmarks.available()


@cache
def model_hashes() -> dict[str, str]:
    import hashlib

    folder = _models_dir()
    if folder is None:
        return {}
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in (SHAPE_MODEL, DESCRIPTOR_MODEL)
    }


class _Dlib:
    def __init__(self, folder: Path) -> None:
        import dlib

        self.dlib = dlib
        self.shape = dlib.shape_predictor(str(folder / SHAPE_MODEL))
        self.descriptor = dlib.face_recognition_model_v1(str(folder / DESCRIPTOR_MODEL))
        # dlib's models are not documented as thread-safe; one caller at a time per process.
        self.lock = threading.Lock()


@cache
def _dlib_cached() -> _Dlib:
    folder = _models_dir()
    if folder is None:
        raise UnavailableError(available() or "face identity models not found")
    return _Dlib(folder)


# --- detection ---------------------------------------------------------------------------------


def _as_rgb8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(np.asarray(image, np.float64) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    elif image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image)


def _tiles(h: int, w: int, model_px: int = 192) -> list[tuple[int, int, int]]:
    """Square windows (x0, y0, side) that the detector looks through: the whole image, then
    windows of half and a quarter of its longer side, overlapping by half, while a window stays
    at least the detector's input size (smaller would only upsample)."""
    windows = [(0, 0, max(h, w))]
    side = max(h, w) // 2
    for _level in range(2):
        if side < model_px or side < 2 * MIN_FACE_PX:
            break
        step = side // 2
        for y0 in range(0, max(1, h - side + step), step):
            for x0 in range(0, max(1, w - side + step), step):
                windows.append((min(x0, max(0, w - side)), min(y0, max(0, h - side)), side))
        side //= 2
    return list(dict.fromkeys(windows))


def detect_faces(image: np.ndarray, max_faces: int = 64) -> list[tuple[np.ndarray, float]]:
    """Face boxes (x0, y0, x1, y1) with scores, largest first. Each window is shrunk with area
    averaging before the detector sees it (its own letterbox warp would alias a large scan)."""
    from .animate import landmarks

    detector = landmarks.get_detector()
    rgb = _as_rgb8(image)
    h, w = rgb.shape[:2]
    boxes: list[np.ndarray] = []
    scores: list[float] = []
    for x0, y0, side in _tiles(h, w):
        window = rgb[y0 : y0 + side, x0 : x0 + side]
        scale = min(1.0, 384.0 / max(window.shape[:2]))
        small = window
        if scale < 1.0:
            size = (max(1, round(window.shape[1] * scale)), max(1, round(window.shape[0] * scale)))
            small = cv2.resize(window, size, interpolation=cv2.INTER_AREA)
        for det in detector.detect(np.ascontiguousarray(small)):
            if det.score < DETECT_MIN_SCORE:
                continue
            box = np.asarray(det.box, np.float64) / scale + (x0, y0, x0, y0)
            boxes.append(np.clip(box, 0, (w, h, w, h)))
            scores.append(float(det.score))
    return _merge(boxes, scores)[:max_faces]


def _merge(boxes: list[np.ndarray], scores: list[float]) -> list[tuple[np.ndarray, float]]:
    """One box per face: overlapping finds from several windows keep the best-scored one."""
    if not boxes:
        return []
    stack = np.stack(boxes)
    order = np.argsort(-np.asarray(scores))
    kept: list[int] = []
    for i in order:
        if kept and (box_iou(stack[i], stack[kept]) > 0.3).any():
            continue
        kept.append(int(i))
    found = [(stack[i], scores[i]) for i in kept if stack[i][2] - stack[i][0] >= 4]
    found.sort(key=lambda f: -(f[0][2] - f[0][0]))
    return found


# --- measuring ---------------------------------------------------------------------------------


def measure_face(
    image: np.ndarray, box: Sequence[float] | np.ndarray, score: float = 1.0
) -> FaceMeasure:
    """The embedding of the face in ``box``, measured on a crop around it scaled so that the box
    is ``WORK_FACE_PX`` wide (a large face costs what a small one does)."""
    rgb = _as_rgb8(image)
    x0, y0, x1, y1 = (float(v) for v in box)
    width = x1 - x0
    record_box = (x0, y0, x1, y1)
    if width < MIN_FACE_PX:
        return FaceMeasure(
            record_box,
            score,
            width,
            0.0,
            None,
            f"too small to measure: {width:.0f} px wide, {MIN_FACE_PX} px needed",
        )
    margin = 0.6 * width
    h, w = rgb.shape[:2]
    cx0, cy0 = max(0, int(x0 - margin)), max(0, int(y0 - margin))
    cx1, cy1 = min(w, int(np.ceil(x1 + margin))), min(h, int(np.ceil(y1 + margin)))
    crop = rgb[cy0:cy1, cx0:cx1]
    scale = WORK_FACE_PX / width
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interp)
    crop = np.ascontiguousarray(crop)
    models = _dlib_cached()
    dlib = models.dlib
    rect = dlib.rectangle(
        int(round((x0 - cx0) * scale)),
        int(round((y0 - cy0) * scale)),
        int(round((x1 - cx0) * scale)),
        int(round((y1 - cy0) * scale)),
    )
    with models.lock:
        shape = models.shape(crop, rect)
        chip = np.asarray(dlib.get_face_chip(crop, shape, size=150, padding=0.25))
        sharpness = float(cv2.Laplacian(cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY), cv2.CV_64F).std())
        if sharpness < MIN_SHARPNESS:
            return FaceMeasure(
                record_box,
                score,
                width,
                sharpness,
                None,
                f"too blurred or damaged to measure (sharpness {sharpness:.1f}, "
                f"{MIN_SHARPNESS} needed)",
            )
        vector = np.asarray(models.descriptor.compute_face_descriptor(crop, shape, 0), np.float32)
    return FaceMeasure(record_box, score, width, sharpness, vector)


def measure_faces(image: np.ndarray, max_faces: int = 64) -> list[FaceMeasure]:
    """Every face found in ``image``, largest first, each measured or saying why not."""
    return [measure_face(image, box, score) for box, score in detect_faces(image, max_faces)]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


def verdict(value: float) -> str:
    if value < SAME_BELOW:
        return "same"
    if value < DIFFERENT_FROM:
        return "uncertain"
    return "different"


# --- a step's identity check -------------------------------------------------------------------


def _map_box(box: Sequence[float], transform: np.ndarray) -> np.ndarray:
    """The box of the input face where it lands in the output (its corners through the 2x3
    ``transform``, their bounding box)."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
    mapped = corners @ transform[:, :2].T + transform[:, 2]
    return np.concatenate([mapped.min(axis=0), mapped.max(axis=0)])


def scale_transform(before_shape: Sequence[int], after_shape: Sequence[int]) -> np.ndarray:
    """The default geometry of a step: the output is the input resized to the output's size."""
    sy = after_shape[0] / max(1, before_shape[0])
    sx = after_shape[1] / max(1, before_shape[1])
    return np.array([[sx, 0, 0], [0, sy, 0]], np.float64)


# Two different photographs of one person (other years, other light): dlib's own threshold.
ACROSS_PHOTOS_BELOW = 0.6


def _against_confirmed(
    embedding: np.ndarray | None, references: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """The output face against a figure's confirmed faces on other photographs: per figure
    the nearest distance and whether it is under ``ACROSS_PHOTOS_BELOW``."""
    if embedding is None or not references:
        return None
    by_figure: dict[int, list[tuple[int, float]]] = {}
    for ref in references:
        vector = np.frombuffer(ref["embedding"], np.float32)
        by_figure.setdefault(int(ref["figure"]), []).append(
            (int(ref["face"]), distance(embedding, vector))
        )
    figures = []
    for figure, rows in sorted(by_figure.items()):
        face, nearest = min(rows, key=lambda r: r[1])
        figures.append(
            {
                "figure": figure,
                "faces": len(rows),
                "nearest_face": face,
                "distance": round(nearest, 4),
                "matches": nearest < ACROSS_PHOTOS_BELOW,
            }
        )
    return {"below": ACROSS_PHOTOS_BELOW, "figures": figures}


def identity_check(
    before: np.ndarray,
    after: np.ndarray,
    *,
    transform: np.ndarray | None = None,
    before_faces: list[FaceMeasure] | None = None,
    references: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Per face of ``before``: where it is in ``after``, the embedding distance and a verdict.

    Faces are paired by geometry, never by likeness (pairing by likeness would let a pasted-in
    face pair with whichever face looks most like it): each input face's box is carried through
    ``transform`` (default: the resize between the two sizes; a crop or rotation passes its
    own) and paired with the output face that overlaps it most (IoU over 0.3). A face with no
    partner is ``unmeasured`` when its box left the output (cropped away) and ``uncertain`` when
    the output shows no face where it was.

    ``references`` (``{"face", "figure", "embedding"}``: faces a cataloguer confirmed as a
    figure, on other photographs) are compared with every paired output face as well
    (``confirmed``), so a restoration that drifts away from the person's other photographs
    says so even when it stays close to its own input.
    """
    if transform is None:
        transform = scale_transform(before.shape, after.shape)
    faces_in = before_faces if before_faces is not None else measure_faces(before)
    if not faces_in:
        return {**method_record(), "faces": []}
    faces_out = measure_faces(after)
    out_boxes = np.array([f.box for f in faces_out], np.float64).reshape(-1, 4)
    h, w = after.shape[:2]
    taken: set[int] = set()
    entries = []
    for face in faces_in:
        expected = _map_box(face.box, transform)
        entry: dict[str, Any] = {
            "box_in": [round(v, 1) for v in face.box],
            "box_out": None,
            "distance": None,
            "size_in": round(face.size, 1),
        }
        overlaps = box_iou(expected, out_boxes) if len(out_boxes) else np.zeros(0)
        for i in taken:
            overlaps[i] = 0.0
        best = int(np.argmax(overlaps)) if overlaps.size else -1
        if best < 0 or overlaps[best] <= 0.3:
            visible = _visible_fraction(expected, w, h)
            if visible < 0.5:
                entry.update(verdict="unmeasured", reason="the face is outside the output")
            else:
                entry.update(
                    verdict="uncertain",
                    reason="no face found in the output where the input showed one",
                )
            entries.append(entry)
            continue
        taken.add(best)
        partner = faces_out[best]
        entry["box_out"] = [round(v, 1) for v in partner.box]
        entry["size_out"] = round(partner.size, 1)
        if face.embedding is None or partner.embedding is None:
            reason = face.reason if face.embedding is None else f"output: {partner.reason}"
            entry.update(verdict="unmeasured", reason=reason)
        else:
            d = distance(face.embedding, partner.embedding)
            entry.update(distance=round(d, 4), verdict=verdict(d))
            confirmed = _against_confirmed(partner.embedding, references)
            if confirmed is not None:
                entry["confirmed"] = confirmed
        entries.append(entry)
    return {**method_record(), "faces": entries}


def _visible_fraction(box: np.ndarray, w: int, h: int) -> float:
    x0, y0, x1, y1 = box
    inside = max(0.0, min(x1, w) - max(x0, 0)) * max(0.0, min(y1, h) - max(y0, 0))
    return float(inside / max((x1 - x0) * (y1 - y0), 1e-9))


def frames_identity_check(
    still: np.ndarray, frames: Sequence[np.ndarray], indices: Sequence[int]
) -> dict[str, Any]:
    """A video step's identity: the input's faces against each sampled frame (``frames[k]`` is
    frame ``indices[k]``). Per face, the worst (largest) distance and its verdict, and every
    frame's distance."""
    faces_in = measure_faces(still)
    per_frame = [identity_check(still, frame, before_faces=faces_in)["faces"] for frame in frames]
    entries = []
    for n, face in enumerate(faces_in):
        rows = [checks[n] for checks in per_frame if n < len(checks)]
        measured = [r for r in rows if r["distance"] is not None]
        entry: dict[str, Any] = {
            "box_in": [round(v, 1) for v in face.box],
            "size_in": round(face.size, 1),
            "frames": [
                {"frame": int(i), "distance": r["distance"], "verdict": r["verdict"]}
                for i, r in zip(indices, rows, strict=False)
            ],
        }
        if measured:
            worst = max(measured, key=lambda r: r["distance"])
            entry.update(
                box_out=worst["box_out"], distance=worst["distance"], verdict=worst["verdict"]
            )
            if len(measured) < len(rows):
                entry["reason"] = f"measured on {len(measured)} of {len(rows)} sampled frames"
        else:
            first = rows[0] if rows else {"reason": "no frame sampled"}
            entry.update(
                box_out=None,
                distance=None,
                verdict="unmeasured" if face.embedding is None else "uncertain",
                reason=face.reason or first.get("reason", "not found in the sampled frames"),
            )
        entries.append(entry)
    return {**method_record(), "faces": entries}


def worst_verdict(identity: dict[str, Any] | None) -> str | None:
    """The step's overall verdict: the worst of its faces (None when it shows no face)."""
    faces = (identity or {}).get("faces") or []
    order = ["different", "uncertain", "same", "unmeasured"]
    present = {f.get("verdict") for f in faces}
    for v in order:
        if v in present:
            return v
    return None


# --- video steps -------------------------------------------------------------------------------


def sample_indices(count: int, samples: int) -> list[int]:
    """``samples`` frame numbers spread evenly over ``count`` frames, both ends included."""
    if count <= 0 or samples <= 0:
        return []
    if count <= samples:
        return list(range(count))
    return sorted({round(k * (count - 1) / (samples - 1)) for k in range(samples)})


def _frames_at(path: str, wanted: Sequence[int]) -> list[np.ndarray]:
    """The frames numbered ``wanted`` (ascending), read in one pass holding one frame."""
    from .video import read_frames

    targets = list(wanted)
    found: list[np.ndarray] = []
    if not targets:
        return found
    for number, frame in enumerate(read_frames(path, stop=targets[-1] + 1)):
        if number in targets:
            found.append(frame)
    return found


def animation_identity(
    still: np.ndarray, clip: str, frame_count: int, samples: int
) -> dict[str, Any]:
    """A synthetic clip made from a still: the still's faces against sampled frames."""
    indices = sample_indices(frame_count, samples)
    return frames_identity_check(still, _frames_at(clip, indices), indices)


def film_identity(
    before: str, after: str, in_count: int, out_count: int, samples: int
) -> dict[str, Any]:
    """A film step: sampled output frames against the input frames at the same point in time
    (same fraction of the film: retiming and interpolation change the frame numbers). One entry
    per face of each sampled input frame, naming both frames."""
    pairs = list(
        zip(sample_indices(in_count, samples), sample_indices(out_count, samples), strict=False)
    )
    frames_in = _frames_at(before, [a for a, _ in pairs])
    frames_out = _frames_at(after, [b for _, b in pairs])
    entries: list[dict[str, Any]] = []
    for (a, b), fin, fout in zip(pairs, frames_in, frames_out, strict=False):
        for face in identity_check(fin, fout)["faces"]:
            entries.append({"frame_in": a, "frame_out": b, **face})
    return {**method_record(), "faces": entries, "frames_sampled": len(pairs)}
