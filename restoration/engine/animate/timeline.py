"""When things happen: the per-frame pose (smile, blinks, gaze, head motion) of an animation.

The timeline is independent of how a pose is rendered (see `driver.py`), so a learned driver
renders the same schedule. Every envelope is zero at t = 0, so the first frame is the still
itself; with `loop` the clip is a ping-pong: every envelope is symmetric about the middle of the
clip and returns to rest, so the last frame leads back to the first without a jump.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

# Largest movement of any landmark between two consecutive frames, as a fraction of the face
# width: blinks are lengthened (never shortened) to stay below it, so that the motion reads as
# motion and not as a cut. The landmark model amplifies a closing lid (it snaps from open to
# closed): at 1.8 % its landmarks jumped up to 2.5 % on the corpus; 1.1 % keeps them under 2 %.
MAX_STEP_OF_FACE = 0.011
BLINK_CLOSURE = 1.0  # how far the upper lid travels to the meeting line at the middle of a blink


@dataclass(frozen=True)
class FramePose:
    """What one frame asks of the face: amounts in [0, 1], angles in degrees."""

    smile: float = 0.0
    blink_right: float = 0.0  # subject's right eye (image left); 1 = lids closed
    blink_left: float = 0.0
    gaze: float = 0.0  # 0 = the still's gaze, 1 = the requested one
    pitch: float = 0.0  # nod, degrees, positive = chin down
    roll: float = 0.0  # tilt, degrees, positive = counter-clockwise on screen

    @property
    def at_rest(self) -> bool:
        return not any(
            (self.smile, self.blink_right, self.blink_left, self.gaze, self.pitch, self.roll)
        )

    def as_record(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True)
class Timeline:
    poses: tuple[FramePose, ...]
    fps: Fraction
    blink_times: tuple[float, ...]  # centres, seconds
    blink_length: float  # seconds, after the smoothness bound
    facts: dict[str, Any]

    def __len__(self) -> int:
        return len(self.poses)


def blink_length_for(
    requested: float, fps: Fraction, eye_opening_of_face: float, max_step: float = MAX_STEP_OF_FACE
) -> float:
    """The shortest blink whose lid travel per frame stays under `max_step` face widths.

    A blink closes and opens with c(u) = sin^2(pi u), u in [0, 1] over the blink, whose slope
    peaks at pi; the upper lid travels BLINK_CLOSURE x the eye opening, so the largest step per
    frame is BLINK_CLOSURE * opening * pi / (length * fps).
    """
    needed = BLINK_CLOSURE * eye_opening_of_face * math.pi / (max_step * float(fps))
    return max(requested, needed)


def build_timeline(
    *,
    duration: float,
    fps: Fraction,
    smile: float,
    blinks: int,
    blink_times: list[float] | None,
    blink_duration: float,
    gaze: bool,
    nod: float,
    tilt: float,
    loop: bool,
    eye_opening_of_face: float,
    eyes: tuple[str, ...] = ("right", "left"),
) -> Timeline:
    """Poses for round(duration x fps) frames.

    Smile and gaze rise with a smoothstep over a third of the clip (at most 1.2 s) and, with
    `loop`, fall back symmetrically; the nod is sin^2 (down and back), the tilt a full sine
    (one side, the other, back), both periodic over the clip. Blinks close and open `eyes`
    (the subject's)
    with sin^2 and are placed evenly (or at `blink_times`), never touching the first frame.
    """
    count = max(2, round(duration * float(fps)))
    period = count / float(fps)  # the loop's period: frame `count` would be frame 0 again
    rise = min(period / 3.0, 1.2)
    length = blink_length_for(blink_duration, fps, eye_opening_of_face)
    if blink_times:
        centres = sorted(float(t) for t in blink_times)
    else:
        centres = [period * (i + 0.5) / blinks for i in range(blinks)] if blinks else []
    # keep every blink whole inside the clip, clear of the first frame (which stays at rest)
    # and of the last (which leads back to the first); a blink that cannot fit is dropped
    half = length / 2
    frame = 1 / float(fps)
    lo, hi = half + frame, period - half - frame
    dropped = len(centres) if hi < lo else 0
    centres = [] if hi < lo else [min(max(c, lo), hi) for c in centres]
    poses = []
    for k in range(count):
        t = k / float(fps)
        if loop:
            envelope = _smoothstep(t / rise) * _smoothstep((period - t) / rise)
        else:
            envelope = _smoothstep(t / rise)
        closure = 0.0
        for c in centres:
            u = (t - (c - half)) / length
            if 0.0 < u < 1.0:
                closure = max(closure, math.sin(math.pi * u) ** 2)
        phase = t / period
        poses.append(
            FramePose(
                smile=smile * envelope,
                blink_right=closure if "right" in eyes else 0.0,
                blink_left=closure if "left" in eyes else 0.0,
                gaze=envelope if gaze else 0.0,
                pitch=nod * math.sin(math.pi * phase) ** 2,
                roll=tilt * math.sin(2 * math.pi * phase),
            )
        )
    facts = {
        "frames": count,
        "period_s": round(period, 4),
        "rise_s": round(rise, 4),
        "blink_times_s": [round(c, 3) for c in centres],
        "blink_length_s": round(length, 3),
        "blink_length_requested_s": round(blink_duration, 3),
        "blinks_dropped": dropped,
        "blink_eyes": list(eyes),
        "loop": "ping-pong" if loop else "none",
    }
    return Timeline(tuple(poses), fps, tuple(centres), length, facts)
