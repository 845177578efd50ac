"""Drivers render a pose of the timeline into a frame.

`Driver` is the seam for other renderers: a learned, LivePortrait-style driver (appearance
features + implicit keypoints + warping and generator networks, on user-supplied weights) would
implement the same two methods, `prepare` once per still and `render` once per pose, and be
chosen by the `driver` parameter of `animate`; the timeline, the label, the record and the
storage stay the same.

`LandmarkDriver` is the weight-free default: the 468-point mesh and the irises of each face
drive the deformation. Each expression is a displacement of some landmarks, everything else
stays fixed:

- smile: the mouth corners move up by `SMILE_RISE` x the inter-ocular distance (IOD) at smile 1
  and outwards by 40 % of that; the lips follow with a weight growing with the distance from the
  mouth's centre (the middle of the lips stays), the skin around the corners and the cheeks'
  apex follow with a Gaussian fall-off;
- blink: a lid model of its own, in the eye's frame (across and down the face): in every
  column of the eye the upper lid unfolds: its skin, from a fixed line above the eye down to
  its edge (lashes included), is stretched until the edge reaches the lower lid (`LID_MEET`),
  which rises `LOWER_RISE` of the way to meet it; the part of the lid now over the opening is
  toned to the skin around the eye (the skin above an open eye is often in shadow and would
  read as a dark, open eye; the tone fades in with the lid's travel, `TONE_FADE`), the lash
  line where the lids meet takes the lashes' colour, the skin under the meeting line is carried
  up from under the lower lid's white (`LOWER_SKIP`), and the opening is squeezed into the thin
  line left between the lids. Columns are interpolated
  from the lid landmarks (refined by the iris model), so the motion vanishes at the eye
  corners. (A spline through the lid points blends the two lids wherever they come close and
  the eye never looks closed: a lid is an edge.)
- smile calibration: the landmark model under-reports a local change of the mouth, and not
  proportionally, so each face's smile is scaled until the model, run on probe frames at smile
  1 (with the gaze the clip will have), sees the corners rise by `SMILE_RISE` IODs: a
  proportional first guess, then secant steps (`_calibrate_smile`; gain and probes recorded);
- gaze: the iris (centre and horizontal rim points) moves towards the centre of the eye opening
  (`viewer`) or towards one side of it, at most a quarter of the eye's width;
- head motion: nod and tilt move every mesh point as a rigid rotation of the head (the nod uses
  the mesh's depth), fading to zero on a ring around the face.

The face (smile, head motion) is warped with moving least squares (affine, Schaefer et al.
2006), fitted backwards (from the displaced points to the still's), evaluated on a coarse grid
over the face and interpolated bilinearly; the gaze is a thin-plate spline inside each eye
opening. The stages compose in the order gaze, blink, face. Without head motion, the
displacement is multiplied by a mask that is zero outside the face's convex hull,
so those pixels are copied, not resampled: they stay bit-identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from .landmarks import (
    FACE_OVAL,
    LEFT_EYE_CONTOUR,
    LEFT_EYE_CORNERS,
    LEFT_EYE_LOWER,
    LEFT_EYE_UPPER,
    MOUTH_CORNERS,
    RIGHT_EYE_CONTOUR,
    RIGHT_EYE_CORNERS,
    RIGHT_EYE_LOWER,
    RIGHT_EYE_UPPER,
    FaceLandmarks,
    eye_opening_centre,
    eye_ring,
)
from .timeline import BLINK_CLOSURE, FramePose
from .tps import ThinPlateSpline, mls_affine

SMILE_RISE = 0.06  # mouth-corner rise at smile 1, in inter-ocular distances (as measured)
MAX_SMILE_GAIN = 2.5  # bounds of the smile's calibration against the landmark model
MIN_SMILE_GAIN = 0.5
SMILE_REFINE = 2  # probes after the first (secant steps: the model's response is not linear)
SMILE_OUT = 0.4  # outward movement of the corners, relative to the rise
CHEEK_LIFT = 0.35  # rise of the cheeks' apex relative to the corners'
GAZE_MAX = 0.25  # largest iris shift, in eye widths
GAZE_SIDE = 0.2  # how far off centre a directed gaze looks, in eye widths
LID_MEET = -0.15  # where the lids meet, from the lower lid up (fraction of the opening): a little
# under the model's lower lid, which sits above the last row of white on many eyes
LID_MARGIN = 0.3  # the upper lid's edge band (lashes) that slides down, in openings
LOWER_RISE = 0.6  # how far the lower lid goes towards that line
LOWER_SKIP = 0.3  # the skin carried up under the meeting line starts this far under the lower
# lid (in openings): the model's lower lid sits above the last rows of white on many eyes, and
# those rows carried up read as an opening under the lash line
TONE_FADE = 0.8  # the tone fades in with the column's travel, full at this many openings: a tone
# at full strength up to the corners drew the lid as a patch with square ends
LASH_BAND = 0.45  # the lashes above the upper lid's edge, in openings
LASH_BELOW = 0.15  # the lash line's part under the upper lid's edge, carried with it, in openings
LASH_THIN = 0.7  # how much thinner the lash band gets at full closure
LASH_SPAN = 5  # columns (of 64) per lash colour sample
LASH_LINE = 1.0  # how far the line where the lids meet takes the lashes' own colour
LASH_WIDTH = 0.2  # that line's half-width (Gaussian sigma), in openings
LID_TONE = 1.0  # how far the lid over the opening is toned to the skin around the eye
TONE_RAMP = 0.3  # the tone's soft edges, in openings
SKIN_ABOVE = 0.5  # the skin above the lid that sets the tone, in openings above its fixed line
GRAIN_SIGMA = 1.0  # px: below this scale a stretched lid takes the lid skin's own grain
GRAIN_SHIFT = 0.37  # each mirrored tile of that grain shifts along the eye by this (of its width)
GRAIN_CLIP = 3.0  # grain beyond this many robust standard deviations is structure: clipped
SUPERSAMPLE_PX = 24.0  # samples per pixel per axis: this over the opening (px), in [2, 4]
SUPERSAMPLE_MAX = 4
MOTION_SNAP = 0.5  # px: pixels moving less than this blend towards their own value
FLOOR_PERCENTILE = 1.0  # nothing in a closing eye's box is darker than this percentile of the face
FLOOR_MARGIN = 1.0  # grey levels above it (rounding)
FLOOR_FEATHER = 0.3  # the lift fades out this far outside the eye box, in openings
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # BT.601, as cv2 makes grey
MLS_ALPHA = 1.0  # weight fall-off of the moving-least-squares warp (1: Schaefer et al.'s choice)
FIELD_CACHE = 48  # face maps kept (a 3 s clip at 25 fps rises in ~20 distinct smiles)
FIELD_CACHE_BYTES = 96 * 2**20  # ... within this much memory (a 2048 px portrait: ~10)
RING_SCALE = 1.7  # head motion fades to zero on the face hull scaled by this
GAZE_DIRECTIONS = {
    "viewer": (0.0, 0.0),
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
}

LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409)  # fmt: skip
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415)  # fmt: skip
CHEEK_APEX = (205, 425)  # subject's right, left
# rows of skin above each eye, aligned with the seven upper-lid points (MediaPipe's iris graph)
RIGHT_ABOVE = ((247, 30, 29, 27, 28, 56, 190), (113, 225, 224, 223, 222, 221, 189))
LEFT_ABOVE = ((467, 260, 259, 257, 258, 286, 414), (342, 445, 444, 443, 442, 441, 413))
ABOVE_FOLLOW = (0.45, 0.15)
IRIS_USED = (0, 1, 3)  # centre and the horizontal rim points (top/bottom hide under the lids)


class Driver(Protocol):
    """Renders poses of one still. `prepare` may be slow (landmarks, networks); `render` is
    called once per frame, in order, and must return the still itself for a pose at rest."""

    name: str

    def prepare(
        self, image: np.ndarray, faces: Sequence[FaceLandmarks], options: dict[str, Any]
    ) -> None: ...

    def render(self, pose: FramePose) -> np.ndarray: ...

    def facts(self) -> dict[str, Any]: ...


@dataclass
class _Lids:
    """One eye in its own frame: u across the face, v down it, from `origin`."""

    origin: np.ndarray
    across: np.ndarray
    down: np.ndarray
    u: np.ndarray  # sample columns, outer to inner corner (increasing)
    top: np.ndarray  # v of the fixed line above the lid (skin stretches below it)
    upper: np.ndarray  # v of the upper lid
    lower: np.ndarray  # v of the lower lid
    bottom: np.ndarray  # v of the fixed line below the lower lid
    opening: float  # the largest lid gap, px
    box: tuple[float, float, float, float]  # the eye contour's bounding box (x0, y0, x1, y1)
    floor: float | None = None  # grey level nothing in the closing eye's box goes below


@dataclass
class _Eye:
    ring: np.ndarray  # the opening's polygon (16 points)
    anchors: np.ndarray  # fixed points of the gaze warp: the ring and the skin above
    iris: np.ndarray  # (3, 2) centre and horizontal rim points
    shift: np.ndarray  # iris displacement at gaze 1
    lid: _Lids


@dataclass
class _Rig:
    """One face's control points and its displacement per unit of each expression."""

    controls: np.ndarray  # (n, 2) still's positions
    smile: np.ndarray  # (n, 2) displacement at smile 1
    eyes: list[_Eye]
    depth: np.ndarray  # (n,) z of the control points
    ring: np.ndarray  # (m, 2) outer anchors (fixed)
    hull: np.ndarray  # (k, 2)
    pivot: np.ndarray  # tilt centre (below the chin)
    head_centre: np.ndarray  # (y, z) of the nod axis
    face_width: float
    facts: dict[str, Any]


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.hypot(*v))
    return v / n if n > 1e-9 else np.array([1.0, 0.0])


def build_rig(face: FaceLandmarks, gaze: str, image: np.ndarray | None = None) -> _Rig:
    pts = face.points.astype(np.float64)
    iris_r, iris_l = face.iris_right, face.iris_left
    across = _unit(iris_l[0] - iris_r[0])  # image-right for a frontal face
    down = np.array([-across[1], across[0]])
    iod = max(face.interocular, 1e-3)
    fw = max(face.face_width, 1e-3)

    # control points: a subset of the mesh (every point that moves, the oval, and an even
    # sprinkling of the rest), then the outer ring
    chosen = _control_indices(pts, fw)
    controls = pts[chosen]
    n = len(controls)
    pos = {int(i): k for k, i in enumerate(chosen)}
    fixed = {pos[i] for i in FACE_OVAL}

    # smile
    smile = np.zeros((n, 2))
    c_r, c_l = pts[MOUTH_CORNERS[0]], pts[MOUTH_CORNERS[1]]
    rise = SMILE_RISE * iod
    corner_disp = {
        0: -down * rise - across * SMILE_OUT * rise,  # image-left corner moves left and up
        1: -down * rise + across * SMILE_OUT * rise,
    }
    centre = (c_r + c_l) / 2
    half_w = max(float(np.hypot(*(c_l - c_r))) / 2, 1e-3)
    lips = {pos[i] for i in (*LIPS_OUTER, *LIPS_INNER)}
    for k in lips:
        s = float((controls[k] - centre) @ across) / half_w
        w = min(1.0, abs(s)) ** 1.5
        smile[k] = w * corner_disp[1 if s > 0 else 0]
    sigma = 0.4 * iod
    sigma_cheek = 0.35 * iod
    for k in range(n):
        if k in lips or k in fixed:
            continue
        side = 1 if float((controls[k] - centre) @ across) > 0 else 0
        corner = c_l if side else c_r
        d2 = float(((controls[k] - corner) ** 2).sum())
        disp = corner_disp[side] * 0.8 * np.exp(-d2 / sigma**2)
        apex = pts[CHEEK_APEX[side]]
        d2c = float(((controls[k] - apex) ** 2).sum())
        disp = disp - down * CHEEK_LIFT * rise * np.exp(-d2c / sigma_cheek**2)
        smile[k] = disp
    for i in (*RIGHT_EYE_CONTOUR, *LEFT_EYE_CONTOUR):  # the eyes do not move with the mouth
        smile[pos[i]] = 0.0

    # gaze: a separate warp inside each eye opening (the lids stay where they are)
    direction = np.array(GAZE_DIRECTIONS[gaze])
    floor = None if image is None else dark_floor(image, face)
    gaze_facts = {}
    eyes = []
    for eye_side, iris, corners, above in (
        ("right", iris_r, RIGHT_EYE_CORNERS, RIGHT_ABOVE),
        ("left", iris_l, LEFT_EYE_CORNERS, LEFT_ABOVE),
    ):
        eye_w = float(np.hypot(*(pts[corners[0]] - pts[corners[1]])))
        target = eye_opening_centre(pts, eye_side) + direction * GAZE_SIDE * eye_w
        shift = target - iris[0]
        limit = GAZE_MAX * eye_w
        length = float(np.hypot(*shift))
        if length > limit:
            shift = shift * (limit / length)
        ring = eye_ring(pts, eye_side)
        anchors = np.vstack([ring, pts[list(above[0])]])
        upper, lower = (
            (RIGHT_EYE_UPPER, RIGHT_EYE_LOWER)
            if eye_side == "right"
            else (LEFT_EYE_UPPER, LEFT_EYE_LOWER)
        )
        lid = _lid_model(pts, corners, upper, lower, above[1], across, down)
        lid.floor = floor
        eyes.append(
            _Eye(ring=ring, anchors=anchors, iris=iris[list(IRIS_USED)], shift=shift, lid=lid)
        )
        gaze_facts[eye_side] = {
            "target": np.round(target, 2).tolist(),
            "shift": np.round(shift, 2).tolist(),
            "capped": length > limit,
        }

    hull = face.hull()
    hc = hull.mean(axis=0)
    ring = hc + RING_SCALE * (hull - hc)
    chin = pts[152]
    pivot = chin + 0.25 * fw * down
    head_centre = np.array([float(pts[:, 1].mean()), float(face.mesh[:, 2].mean()) + 0.6 * fw])
    facts = {
        "interocular_px": round(iod, 2),
        "face_width_px": round(fw, 2),
        "smile_rise_px_at_1": round(rise, 2),
        "gaze": gaze_facts,
        "controls": int(n),
        "control_indices": [int(i) for i in chosen],
    }
    return _Rig(
        controls=controls,
        smile=smile,
        eyes=eyes,
        depth=face.mesh[chosen, 2].astype(np.float64),
        ring=ring,
        hull=hull,
        pivot=pivot,
        head_centre=head_centre,
        face_width=fw,
        facts=facts,
    )


def _control_indices(pts: np.ndarray, face_width: float) -> np.ndarray:
    """Mesh points used as spline controls: every point an expression moves or pins, plus a
    farthest-point sprinkling of the others no closer than 6 % of the face width, so the
    spline is pinned everywhere on the face at a fraction of the cost of all 468 points."""
    must = [*FACE_OVAL, *LIPS_OUTER, *LIPS_INNER, *RIGHT_EYE_CONTOUR, *LEFT_EYE_CONTOUR]
    must += [*CHEEK_APEX, *MOUTH_CORNERS, 152]
    for rows in (RIGHT_ABOVE, LEFT_ABOVE):
        for row in rows:
            must += row
    chosen = list(dict.fromkeys(must))
    spacing2 = (0.06 * face_width) ** 2
    rest = [i for i in range(len(pts)) if i not in set(chosen)]
    nearest = ((pts[rest][:, None, :] - pts[chosen][None, :, :]) ** 2).sum(-1).min(axis=1)
    while rest:
        k = int(np.argmax(nearest))
        if nearest[k] < spacing2:
            break
        i = rest.pop(k)
        chosen.append(i)
        nearest = np.delete(nearest, k)
        if rest:
            nearest = np.minimum(nearest, ((pts[rest] - pts[i]) ** 2).sum(-1))
    return np.array(chosen, np.int64)


def _lid_model(
    pts: np.ndarray,
    corners: tuple[int, int],
    upper: Sequence[int],
    lower: Sequence[int],
    above: Sequence[int],
    across: np.ndarray,
    down: np.ndarray,
) -> _Lids:
    origin = pts[corners[0]].copy()

    def uv(idx: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        rel = pts[list(idx)] - origin
        return rel @ across, rel @ down

    ends_u, ends_v = uv(corners)
    u_up, v_up = uv(upper)
    u_lo, v_lo = uv(lower)
    u_ab, v_ab = uv(above)
    lo_u, hi_u = float(ends_u.min()), float(ends_u.max())
    cols = np.linspace(lo_u, hi_u, 64)

    def line(us: np.ndarray, vs: np.ndarray, with_corners: bool) -> np.ndarray:
        if with_corners:
            us = np.concatenate([ends_u, us])
            vs = np.concatenate([ends_v, vs])
        order = np.argsort(us)
        return np.interp(cols, us[order], vs[order])

    up = line(u_up, v_up, True)
    lo = line(u_lo, v_lo, True)
    lo = np.maximum(lo, up)  # a crossed contour (a squint misread) counts as closed
    opening = float(max((lo - up).max(), 1e-3))
    top = np.minimum(line(u_ab, v_ab, False), up - LID_MARGIN * opening)
    bottom = lo + 0.6 * opening
    ring = pts[[*corners, *upper, *lower]]
    lo_xy, hi_xy = ring.min(axis=0), ring.max(axis=0)
    box = (float(lo_xy[0]), float(lo_xy[1]), float(hi_xy[0]), float(hi_xy[1]))
    return _Lids(origin, across, down, cols, top, up, lo, bottom, opening, box)


def _tri(x: np.ndarray, period: np.ndarray | float) -> np.ndarray:
    """A triangle wave: x on [0, period], mirrored back and forth beyond it (mirror tiling)."""
    p = np.maximum(period, 1e-6)
    return p - np.abs(np.mod(x, 2 * p) - p)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _supersampling(opening: float) -> int:
    """Samples per pixel along each axis: the lid squeezes the lashes and the opening into a
    few pixels, and point samples of a squeezed picture alias (stair steps along the lash
    line on small faces); a box of s x s samples per pixel anti-aliases it."""
    return int(min(SUPERSAMPLE_MAX, max(2, np.ceil(SUPERSAMPLE_PX / max(opening, 1e-3)))))


def _blink_region(lids: _Lids, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the pixels a blink may change: the lid model's band, the skin just
    above it (the tone's reference) and the eye box with the dark floor's feather."""
    h, w = shape[:2]
    op = lids.opening
    top_v = float(lids.top.min()) - SKIN_ABOVE * op - 1.0
    bottom_v = float(lids.bottom.max()) + 1.0
    uv = [(lids.u[0], top_v), (lids.u[-1], top_v), (lids.u[0], bottom_v), (lids.u[-1], bottom_v)]
    xy = np.array([lids.origin + a * lids.across + b * lids.down for a, b in uv])
    feather = _floor_feather(lids) + 1.0
    bx0, by0, bx1, by1 = lids.box
    x0 = max(0, int(np.floor(min(xy[:, 0].min(), bx0 - feather))) - 1)
    y0 = max(0, int(np.floor(min(xy[:, 1].min(), by0 - feather))) - 1)
    x1 = min(w, int(np.ceil(max(xy[:, 0].max(), bx1 + feather))) + 2)
    y1 = min(h, int(np.ceil(max(xy[:, 1].max(), by1 + feather))) + 2)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def _floor_feather(lids: _Lids) -> float:
    return max(1.0, FLOOR_FEATHER * lids.opening)


@dataclass
class _LidMap:
    """Where each sample of the blinking eye comes from (in the eye's frame) and how."""

    src_v: np.ndarray  # the sample's source row (same column u)
    grain_u: np.ndarray  # where its grain comes from, on the lid skin (native scale)
    grain_v: np.ndarray
    skin: np.ndarray  # bool: stretched lid skin (low frequencies stretched, grain native)
    moved: np.ndarray  # bool: inside the lid model and moving
    tone: np.ndarray  # weight of the tone towards the skin around the eye
    around: np.ndarray  # bool: skin around the eye (the tone's reference)
    lash_line: np.ndarray  # weight of the lash line where the lids meet


def _lid_map(u: np.ndarray, v: np.ndarray, lids: _Lids, closure: float) -> _LidMap:
    """The lid model at closure `closure` for samples at (u, v) of the eye's frame.

    Per column: the upper lid's skin from the fixed line `top` down to the lashes stretches so
    the lid's edge, lashes included, travels to the meeting line (the lashes thinning by
    `LASH_THIN`); the opening is squeezed between the lid's edge and the lower lid (which rises
    `LOWER_RISE` of the way), the skin under the lower lid stretches back to `bottom`. A
    stretched skin loses its grain (a 3x stretch smooths grain to a third), so the stretched
    lid keeps only its low frequencies from the stretch and takes its grain at the native
    scale from the lid's own skin band, mirror-tiled down the column (each tile shifted along
    the eye, so that no row repeats)."""
    up = np.interp(u, lids.u, lids.upper)
    lo = np.interp(u, lids.u, lids.lower)
    bottom = np.interp(u, lids.u, lids.bottom)
    op = lids.opening
    top = np.minimum(np.interp(u, lids.u, lids.top), up - LID_MARGIN * op)
    c = BLINK_CLOSURE * closure
    meet = lo - LID_MEET * (lo - up)
    up_t = up + c * (meet - up)
    lo_t = lo + LOWER_RISE * c * (meet - lo)
    eps = 1e-6
    band = np.minimum(LASH_BAND * op, 0.5 * (up - top))  # the lashes, above the lid's edge
    band_t = band * (1.0 - LASH_THIN * c)
    # the lashes' roots lie at and just under the lid's edge as the model places it: carried
    # with the lashes, not squeezed away with the opening
    below = c * np.minimum(LASH_BELOW * op, 0.5 * (lo - up))
    lo_src = lo + c * np.minimum(LOWER_SKIP * op, 0.5 * (bottom - lo))
    skin_h = up - band - top  # the lid skin's native height (>= half of up - top)
    skin_end = up_t - band_t
    skin = (v >= top) & (v < skin_end)
    lash = (v >= skin_end) & (v < up_t)
    sq = (v >= up_t) & (v < lo_t)
    low = (v >= lo_t) & (v < bottom)
    src = np.select(
        [skin, lash, sq, low],
        [
            top + (v - top) * skin_h / np.maximum(skin_end - top, eps),
            up - band + (v - skin_end) * (band + below) / np.maximum(band_t, eps),
            up + below + (v - up_t) * (lo - up - below) / np.maximum(lo_t - up_t, eps),
            lo_src + (v - lo_t) * (bottom - lo_src) / np.maximum(bottom - lo_t, eps),
        ],
        v,
    )
    u0, u1 = float(lids.u[0]), float(lids.u[-1])
    moved = (u > u0) & (u < u1) & (v >= top) & (v < bottom) & (up_t - up > 1e-3)
    src = np.where(moved, src, v)
    tile = np.floor((v - top) / np.maximum(skin_h, eps))
    grain_v = top + _tri(v - top, skin_h)
    grain_u = u0 + _tri(u - u0 + tile * GRAIN_SHIFT * (u1 - u0), u1 - u0)
    # the part of the lid now over the opening takes the tone of the skin around the eye (an
    # open eye's upper skin is often in shadow: stretched as it is, it reads as a dark eye);
    # a smooth ramp, not a mask, so that its edge does not alias
    ramp = max(TONE_RAMP * op, 0.5)
    # from nothing at the fixed line to full over the opening: a tone that began at the open
    # lid's edge drew that edge again (an almond the landmark model reads as an open eye)
    start = _smoothstep((v - top) / np.maximum(up - top, eps))
    tone = c * start * _smoothstep((skin_end - v) / ramp)
    if TONE_FADE > 0:
        tone = tone * _smoothstep((up_t - up) / (TONE_FADE * op))
    tone = np.where(moved, LID_TONE * tone, 0.0)
    around = (u > u0) & (u < u1)
    around &= ((v >= lo + 0.3 * op) & (v < bottom)) | (
        (v >= top - SKIN_ABOVE * op) & (v < up - LID_MARGIN * op)
    )
    sigma = np.maximum(LASH_WIDTH * op, 0.5)
    lash_line = np.where(moved, c * np.exp(-0.5 * ((v - up_t) / sigma) ** 2), 0.0)
    return _LidMap(src, grain_u, grain_v, skin & moved, moved, tone, around, lash_line)


def _smooth_lash(colour: np.ndarray) -> np.ndarray:
    """Along the eye, the darkest of each few columns (a lash is thinner than a column's
    spacing on a large eye), then a box blur so that the line's colour varies smoothly."""
    if len(colour) < LASH_SPAN:
        return colour
    grey = colour.mean(axis=1)
    idx = np.arange(len(colour))
    windows = np.clip(
        idx[:, None] + np.arange(-(LASH_SPAN // 2), LASH_SPAN // 2 + 1), 0, len(idx) - 1
    )
    darkest = windows[idx, np.argmin(grey[windows], axis=1)]
    picked = colour[darkest]
    return np.asarray(cv2.blur(picked[:, None, :], (1, LASH_SPAN)))[:, 0, :]


def _lash_colour(crop: np.ndarray, offset: tuple[int, int], lids: _Lids) -> np.ndarray:
    """The eye's own lash colour per column of the lid model, (len(u), channels): the darkest
    sample (by grey) of the band from `LASH_BAND` openings above the upper lid's edge to
    `LASH_BELOW` under it, smoothed along the eye, and never darker than the face's floor. A
    closed eye's lash line takes this colour: the lashes' own, not a drawn black."""
    op = lids.opening
    steps = np.linspace(-LASH_BAND, LASH_BELOW, 12) * op
    vs = lids.upper[:, None] + steps[None, :]
    us = np.broadcast_to(lids.u[:, None], vs.shape)
    px = lids.origin[0] + us * lids.across[0] + vs * lids.down[0] - offset[0]
    py = lids.origin[1] + us * lids.across[1] + vs * lids.down[1] - offset[1]
    got = np.asarray(
        cv2.remap(crop, px.astype(np.float32), py.astype(np.float32), cv2.INTER_LINEAR,
                  borderMode=cv2.BORDER_REFLECT_101),
        dtype=np.float32,
    )  # fmt: skip
    if got.ndim == 2:
        got = got[..., None]
    grey = got @ LUMA if got.shape[2] == 3 else got[..., 0]
    pick = np.argmin(grey, axis=1)
    colour = got[np.arange(len(pick)), pick]  # (n, channels)
    colour = _smooth_lash(colour)
    if colour.ndim == 1:
        colour = colour[:, None]
    if lids.floor is not None:
        luma = colour @ LUMA if colour.shape[1] == 3 else colour[:, 0]
        colour = colour + np.maximum(lids.floor + FLOOR_MARGIN - luma, 0.0)[:, None]
    return colour


def _blink_warp(still: np.ndarray, out: np.ndarray, lids: _Lids, closure: float) -> None:
    """Close the lids by `closure` (0 open, 1 closed): `_lid_map`'s model, rendered with
    s x s samples per pixel (`_supersampling`), then no pixel of the eye box darker than the
    face's darkest percentile (`_lift_dark`). Every column is the identity at the corners
    (no opening), outside the band and at closure 0; pixels that do not move are copied."""
    h, w = still.shape[:2]
    region = _blink_region(lids, still.shape)
    if region is None:
        return
    x0, y0, x1, y1 = region
    s = _supersampling(lids.opening)
    # sources lie inside the region; the margin feeds the grain's filter
    pad = int(np.ceil(3 * GRAIN_SIGMA)) + 2
    cx0, cy0, cx1, cy1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    crop = still[cy0:cy1, cx0:cx1].astype(np.float32)
    low = cv2.GaussianBlur(crop, (0, 0), GRAIN_SIGMA)
    grain = crop - low
    offsets = (np.arange(s) + 0.5) / s - 0.5
    xs = (np.arange(x0, x1)[:, None] + offsets[None, :]).ravel()
    ys = (np.arange(y0, y1)[:, None] + offsets[None, :]).ravel()
    gx, gy = np.meshgrid(xs, ys)
    rx, ry = gx - lids.origin[0], gy - lids.origin[1]
    u = rx * lids.across[0] + ry * lids.across[1]
    v = rx * lids.down[0] + ry * lids.down[1]
    lm_ = _lid_map(u, v, lids, closure)
    if not lm_.moved.any():
        return
    dv = lm_.src_v - v

    def sample(img: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return np.asarray(
            cv2.remap(
                img, (px - cx0).astype(np.float32), (py - cy0).astype(np.float32),
                cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101,
            ),
            dtype=np.float32,
        )  # fmt: skip

    def channels(a: np.ndarray) -> np.ndarray:
        return a[..., None] if crop.ndim == 3 else a

    mx, my = gx + dv * lids.down[0], gy + dv * lids.down[1]
    warped = sample(crop, mx, my)
    gu, gv = lm_.grain_u - u, lm_.grain_v - v
    # grain beyond a few of its standard deviations is structure (a crease, a lash): not tiled
    limit = GRAIN_CLIP * 1.4826 * float(np.median(np.abs(grain))) + 1e-3
    native = sample(
        grain,
        gx + gu * lids.across[0] + gv * lids.down[0],
        gy + gu * lids.across[1] + gv * lids.down[1],
    )
    carried = sample(low, mx, my) + np.clip(native, -limit, limit)
    res = np.where(channels(lm_.skin), carried, warped)
    if lm_.around.any() and lm_.tone.max() > 0:
        here = sample(crop, gx, gy)
        target = here[lm_.around].mean(axis=0)
        k = max(3, int(round(lids.opening * s)) | 1)
        local = cv2.blur(res, (k, k))
        res = res + channels(lm_.tone.astype(np.float32)) * (target - local)
    if LASH_LINE > 0:
        colour = _lash_colour(crop, (cx0, cy0), lids)
        line = np.stack([np.interp(u, lids.u, colour[:, i]) for i in range(colour.shape[1])], -1)
        if crop.ndim == 2:
            line = line[..., 0]
        weight = channels((LASH_LINE * lm_.lash_line).astype(np.float32))
        res = res + weight * np.minimum(line - res, 0.0)  # never lighter: only towards it
    hh, ww = y1 - y0, x1 - x0
    shape = (hh, s, ww, s, *res.shape[2:])
    pixels = res.reshape(shape).mean(axis=(1, 3))
    motion = np.abs(dv).reshape(hh, s, ww, s).mean(axis=(1, 3))
    moved = lm_.moved.reshape(hh, s, ww, s).any(axis=(1, 3))
    here_px = still[y0:y1, x0:x1].astype(np.float32)
    # pixels that barely move keep their own value (a box of samples would blur them)
    m = np.where(moved, np.clip(motion / MOTION_SNAP, 0.0, 1.0), 0.0)
    pixels = here_px + channels(m.astype(np.float32)) * (pixels - here_px)
    pixels, lifted = _lift_dark(pixels, lids, closure, x0, y0)
    write = moved | lifted
    block = out[y0:y1, x0:x1]
    done = np.clip(np.rint(pixels), 0, np.iinfo(still.dtype).max).astype(still.dtype)
    block[write] = done[write]


def _lift_dark(
    pixels: np.ndarray, lids: _Lids, closure: float, x0: int, y0: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lift whatever in the eye box is darker than the face's darkest percentile (`floor`) to
    it, in proportion to the closure, feathered outside the box: a closed eye shows lid and
    lashes, and a lash seen from the front through closed lids is no darker than the darkest
    of the face (a pupil left by a misplaced lid would be). Grey levels (BT.601 luma); the
    same amount is added to every channel, so the hue is kept. Returns the pixels and where
    they changed."""
    hh, ww = pixels.shape[:2]
    none = np.zeros((hh, ww), bool)
    if lids.floor is None or closure <= 0:
        return pixels, none
    bx0, by0, bx1, by1 = lids.box
    xs = np.arange(x0, x0 + ww, dtype=np.float32)
    ys = np.arange(y0, y0 + hh, dtype=np.float32)
    dx = np.maximum(np.maximum(bx0 - xs, xs - bx1), 0.0)[None, :]
    dy = np.maximum(np.maximum(by0 - ys, ys - by1), 0.0)[:, None]
    # full strength on the box's pixels and the next one out (a box rounded outwards)
    weight = closure * np.clip(1.0 - (np.hypot(dx, dy) - 1.0) / _floor_feather(lids), 0.0, 1.0)
    luma = pixels @ LUMA if pixels.ndim == 3 else pixels
    lift = weight * np.maximum(lids.floor + FLOOR_MARGIN - luma, 0.0)
    lifted = lift > 0
    if not lifted.any():
        return pixels, none
    return pixels + (lift[..., None] if pixels.ndim == 3 else lift), lifted


def dark_floor(image: np.ndarray, face: FaceLandmarks) -> float:
    """The face's darkest percentile of grey (BT.601 luma) inside its hull: a closing lid shows
    nothing darker."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    mask = np.zeros(grey.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(face.hull() * 16).astype(np.int32)], 1, shift=4)
    values = grey[mask > 0]
    if values.size == 0:
        return 0.0
    return float(np.percentile(values, FLOOR_PERCENTILE))


def _gaze_warp(still: np.ndarray, out: np.ndarray, eye: _Eye, amount: float) -> None:
    """Slide the iris inside the eye opening: pixels outside the opening are not touched."""
    h, w = still.shape[:2]
    x0 = max(0, int(np.floor(eye.ring[:, 0].min())) - 1)
    y0 = max(0, int(np.floor(eye.ring[:, 1].min())) - 1)
    x1 = min(w, int(np.ceil(eye.ring[:, 0].max())) + 2)
    y1 = min(h, int(np.ceil(eye.ring[:, 1].max())) + 2)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    src = np.vstack([eye.anchors, eye.iris])
    dst = src.copy()
    dst[len(eye.anchors) :] += amount * eye.shift
    scale = float(max(x1 - x0, 1))
    spline = ThinPlateSpline(dst, src, scale=scale)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
    mapped = spline(grid).astype(np.float32)
    map_x = mapped[:, 0].reshape(xs.shape)
    map_y = mapped[:, 1].reshape(xs.shape)
    warped = cv2.remap(still, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    mask = np.zeros(xs.shape, np.uint8)
    cv2.fillPoly(mask, [np.round((eye.ring - (x0, y0)) * 16).astype(np.int32)], 255, shift=4)
    inside = mask > 0
    out[y0:y1, x0:x1][inside] = warped[inside]


def _match(face: FaceLandmarks, found: Sequence[FaceLandmarks]) -> FaceLandmarks | None:
    """The detection in `found` whose box centre is nearest to `face`'s (within half a face)."""
    if not found:
        return None
    centre = np.array([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2])
    best = min(
        found,
        key=lambda f: float(
            np.hypot(*(np.array([(f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2]) - centre))
        ),
    )
    gap = float(
        np.hypot(
            *(np.array([(best.box[0] + best.box[2]) / 2, (best.box[1] + best.box[3]) / 2]) - centre)
        )
    )
    return best if gap < 0.5 * face.face_width else None


def _corner_rise(still: FaceLandmarks, moved: FaceLandmarks | None) -> float | None:
    """Mean rise of the two mouth corners (along the face's up direction), in IODs."""
    if moved is None:
        return None
    across = _unit(still.iris_left[0] - still.iris_right[0])
    up = -np.array([-across[1], across[0]])
    delta = moved.points[list(MOUTH_CORNERS)] - still.points[list(MOUTH_CORNERS)]
    return float((delta @ up).mean()) / max(still.interocular, 1e-6)


def _next_gain(probes: Sequence[tuple[float, float]], current: float) -> float:
    """The smile gain to probe next: the rise the model sees is not proportional to the gain
    (it under-reports small changes and catches up on large ones), so after the first probe
    (a proportional guess) the gain follows the secant through the last two probes. Bounded
    to [MIN_SMILE_GAIN, MAX_SMILE_GAIN]; kept when the model saw nothing."""
    useful = [(g, m) for g, m in probes if m > 1e-3]
    if not useful:
        return current
    (g1, m1) = useful[-1]
    guess = g1 * SMILE_RISE / m1
    if len(useful) >= 2:
        g0, m0 = useful[-2]
        if abs(m1 - m0) > 1e-4 and abs(g1 - g0) > 1e-3 and (m1 - m0) / (g1 - g0) > 0:
            guess = g1 + (SMILE_RISE - m1) * (g1 - g0) / (m1 - m0)
    return float(min(MAX_SMILE_GAIN, max(MIN_SMILE_GAIN, guess)))


INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
SLIT_SAMPLES = 21  # along the line between the lips, corner to corner
SLIT_END = 5  # samples at each end that must show the line
SLIT_MIN_DEPTH = 0.2  # its least mean depth there, in standard deviations of the face


def mouth_slit_depth(image: np.ndarray, face: FaceLandmarks) -> tuple[float, float]:
    """How clearly the line between the lips shows near each mouth corner (image-left, right).

    A smile moves the corners; when something covers a corner (a hand, a cigarette, a scratch
    the restorer left) the mesh model still places the corner, on the occluder, and the warp
    would bend the hand. Where the lips are visible, the line between them is a dark valley all
    the way to the corners. Along the middle of the inner lip contour (SLIT_SAMPLES points),
    the valley's depth is the mean grey of the skin 0.12 IOD above and below minus the darkest
    grey within 0.04 IOD of the line, in standard deviations of the face's grey; returned is
    its mean over the SLIT_END samples at each end. On the corpus: 0.06 and 0.06 for
    old_w_scratch_a (fingers over the mouth), at least 0.34 for every other face.
    """
    pts = face.points.astype(np.float64)
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    iod = max(face.interocular, 1e-3)
    grey = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), max(0.5, 0.01 * iod))
    mid = (pts[list(INNER_UPPER)] + pts[list(INNER_LOWER)]) / 2
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(mid, axis=0).T))])
    t = np.linspace(0.0, float(arc[-1]), SLIT_SAMPLES)
    line = np.stack([np.interp(t, arc, mid[:, 0]), np.interp(t, arc, mid[:, 1])], axis=1)
    across = _unit(pts[MOUTH_CORNERS[1]] - pts[MOUTH_CORNERS[0]])
    down = np.array([-across[1], across[0]])

    def sample(q: np.ndarray) -> np.ndarray:
        xy = q.astype(np.float32)
        return cv2.remap(
            grey, xy[:, :1], xy[:, 1:], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )[:, 0]

    darkest = np.min([sample(line + down * d * iod) for d in np.linspace(-0.04, 0.04, 5)], axis=0)
    sides = (sample(line - down * 0.12 * iod) + sample(line + down * 0.12 * iod)) / 2
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    spread = float(grey[max(0, y0) : max(y0 + 1, y1), max(0, x0) : max(x0 + 1, x1)].std())
    depth = (sides - darkest) / max(spread, 1e-3)
    return float(depth[:SLIT_END].mean()), float(depth[-SLIT_END:].mean())


def smile_refusal(image: np.ndarray, face: FaceLandmarks) -> str | None:
    """Why this face must not smile (its mouth is covered), or None."""
    depths = mouth_slit_depth(image, face)
    hidden = [
        side
        for side, d in zip(("image-left", "image-right"), depths, strict=True)
        if d < SLIT_MIN_DEPTH
    ]
    if not hidden:
        return None
    return (
        f"mouth occluded: the line between the lips is not visible at the {' and '.join(hidden)}"
        f" corner (depth {', '.join(f'{d:.2f}' for d in depths)} < {SLIT_MIN_DEPTH}); the smile "
        "would move whatever covers it, so this face does not smile"
    )


def _head_motion(rig: _Rig, points: np.ndarray, pose: FramePose) -> np.ndarray:
    """Displacement of the mesh points for the pose's nod and tilt."""
    disp = np.zeros_like(points)
    if pose.pitch:
        theta = np.radians(pose.pitch)
        yc, zc = rig.head_centre
        y = points[:, 1]
        z = rig.depth
        disp[:, 1] += (y - yc) * (np.cos(theta) - 1.0) + (zc - z) * np.sin(theta)
    if pose.roll:
        phi = np.radians(-pose.roll)  # positive roll: counter-clockwise as seen on screen
        c, s = np.cos(phi), np.sin(phi)
        rel = points + disp - rig.pivot
        rotated = rel @ np.array([[c, s], [-s, c]])
        disp += rotated - rel
    return disp


class LandmarkDriver:
    """The weight-free driver: thin-plate-spline deformation driven by the landmark mesh."""

    name = "landmarks"

    def __init__(self) -> None:
        self._image: np.ndarray | None = None
        self._rigs: list[_Rig] = []
        self._masks: list[tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]] = []
        self._head = False
        self._field_cache: dict[tuple[int, float, float, float], tuple[np.ndarray, np.ndarray]] = {}

    def prepare(
        self, image: np.ndarray, faces: Sequence[FaceLandmarks], options: dict[str, Any]
    ) -> None:
        self._image = image
        self._head = bool(options.get("nod") or options.get("tilt"))
        gaze = str(options.get("gaze", "viewer"))
        direction = gaze if gaze in GAZE_DIRECTIONS else "viewer"
        self._rigs = [build_rig(f, direction, image) for f in faces]
        if options.get("smile", 0) > 0:
            for rig, face in zip(self._rigs, faces, strict=True):
                reason = smile_refusal(image, face)
                rig.facts["smile_refused"] = reason
                if reason is not None:
                    rig.smile = np.zeros_like(rig.smile)
        self._masks = [self._region(rig) for rig in self._rigs]
        if options.get("calibrate_smile", True) and options.get("smile", 0) > 0:
            # the full smile is rendered with the eyes turned (gaze rises with the smile):
            # the probe is that frame, so the gain absorbs what the gaze does to the model
            self._calibrate_smile(faces, gaze=1.0 if options.get("gaze_moves") else 0.0)

    def _calibrate_smile(self, faces: Sequence[FaceLandmarks], gaze: float = 0.0) -> None:
        """Scale each face's smile so that the landmark model, run on the full smile, sees the
        mouth corners rise by SMILE_RISE inter-ocular distances.

        The mesh model under-reports a local change of the mouth's shape (on the corpus it
        reported 40-60 % of the corners' displacement in pixels, which optical flow confirms):
        `smile` is defined by what a face-landmark model sees, not by the pixels moved. The
        gain is measured with one probe frame per face, bounded to [1, MAX_SMILE_GAIN], and
        recorded with the measured rise before and after.
        """
        from .landmarks import detect_landmarks

        base = [rig.smile.copy() for rig in self._rigs]
        # per face: the (gain, measured rise) pairs probed so far
        probes: list[list[tuple[float, float]]] = [[] for _ in self._rigs]
        gains = [1.0] * len(self._rigs)
        for _ in range(1 + SMILE_REFINE):
            for rig, b, g in zip(self._rigs, base, gains, strict=True):
                rig.smile = b * g
            self._field_cache.clear()
            found = detect_landmarks(self.render(FramePose(smile=1.0, gaze=gaze)))
            for k, face in enumerate(faces):
                measured = _corner_rise(face, _match(face, found))
                if measured is not None:
                    probes[k].append((gains[k], measured))
                gains[k] = _next_gain(probes[k], gains[k])
        for rig, b, g, seen in zip(self._rigs, base, gains, probes, strict=True):
            rig.smile = b * g
            first = seen[0][1] if seen else None
            rig.facts["smile_probe_rise_iod"] = None if first is None else round(first, 4)
            rig.facts["smile_probes"] = [[round(x, 3), round(y, 4)] for x, y in seen]
            rig.facts["smile_gain"] = round(g, 3)
            rig.facts["smile_rise_px_at_1"] = round(rig.facts["smile_rise_px_at_1"] * g, 2)
        self._field_cache.clear()  # the probe's maps were made with the uncalibrated smile

    def facts(self) -> dict[str, Any]:
        return {"driver": self.name, "faces": [rig.facts for rig in self._rigs]}

    def _region(self, rig: _Rig) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]:
        """(x0, y0, x1, y1) of the pixels that may change, the mask over it (float32 0..1) and
        the coarse grid step."""
        assert self._image is not None
        h, w = self._image.shape[:2]
        poly = rig.ring if self._head else rig.hull
        x0 = max(0, int(np.floor(poly[:, 0].min())) - 1)
        y0 = max(0, int(np.floor(poly[:, 1].min())) - 1)
        x1 = min(w, int(np.ceil(poly[:, 0].max())) + 2)
        y1 = min(h, int(np.ceil(poly[:, 1].max())) + 2)
        mask = np.zeros((max(1, y1 - y0), max(1, x1 - x0)), np.uint8)
        local = np.round((poly - (x0, y0)) * 16).astype(np.int32)
        cv2.fillPoly(mask, [local], 255, lineType=cv2.LINE_8, shift=4)
        # feather inwards so the displacement reaches zero at the polygon's edge
        feather = max(1.0, 0.04 * rig.face_width)
        dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
        soft = np.clip(dist / feather, 0.0, 1.0).astype(np.float32)
        step = np.array([max(2, round(rig.face_width / 40))], np.int32)
        return (x0, y0, x1, y1), soft, step

    def render(self, pose: FramePose) -> np.ndarray:
        assert self._image is not None
        if pose.at_rest or not self._rigs:
            return self._image.copy()
        out = self._image.copy()
        for rig, (box, mask, step) in zip(self._rigs, self._masks, strict=True):
            source = self._image
            if pose.gaze or pose.blink_right or pose.blink_left:
                source = source.copy()
                for eye, closure in zip(rig.eyes, (pose.blink_right, pose.blink_left), strict=True):
                    if pose.gaze:
                        _gaze_warp(self._image, source, eye, pose.gaze)
                    if closure:
                        _blink_warp(source, source, eye.lid, closure)  # reads finish before writes
            if pose.smile or pose.pitch or pose.roll:
                self._warp_face(source, out, rig, box, mask, int(step[0]), pose)
            else:
                x0, y0, x1, y1 = box
                out[y0:y1, x0:x1] = source[y0:y1, x0:x1]
        return out

    def _warp_face(
        self,
        source: np.ndarray,
        out: np.ndarray,
        rig: _Rig,
        box: tuple[int, int, int, int],
        mask: np.ndarray,
        step: int,
        pose: FramePose,
    ) -> None:
        assert self._image is not None
        x0, y0, x1, y1 = box
        # The face's field depends on smile, nod and tilt only, and a ping-pong clip repeats
        # their values (the hold, and each frame of the way back): keep the last few maps.
        key = (id(rig), round(pose.smile, 5), round(pose.pitch, 5), round(pose.roll, 5))
        maps = self._field_cache.get(key)
        if maps is None:
            disp = pose.smile * rig.smile
            if pose.pitch or pose.roll:
                disp += _head_motion(rig, rig.controls + disp, pose)
            src = np.vstack([rig.controls, rig.ring])
            dst = src + np.vstack([disp, np.zeros_like(rig.ring)])
            # backward map: from where a pixel ends up to where it comes from
            gx = np.arange(x0, x1 + step, step, dtype=np.float64)
            gy = np.arange(y0, y1 + step, step, dtype=np.float64)
            grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
            mapped = mls_affine(dst, src, grid, scale=rig.face_width, alpha=MLS_ALPHA)
            coarse = (mapped - grid).reshape(len(gy), len(gx), 2).astype(np.float32)
            # bilinear interpolation of the coarse field at every pixel of the region (the
            # field is sampled at x = x0 + i * step, so pixel x sits at (x - x0) / step)
            h, w = y1 - y0, x1 - x0
            cx = np.broadcast_to(np.arange(w, dtype=np.float32) / step, (h, w))
            cy = np.broadcast_to((np.arange(h, dtype=np.float32) / step)[:, None], (h, w))
            field = np.asarray(
                cv2.remap(
                    coarse, np.ascontiguousarray(cx), np.ascontiguousarray(cy), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE,
                ),
                dtype=np.float32,
            )  # fmt: skip
            field *= mask[:, :, None]
            field[:, :, 0] += np.arange(x0, x1, dtype=np.float32)[None, :]
            field[:, :, 1] += np.arange(y0, y1, dtype=np.float32)[:, None]
            maps = (field[:, :, 0], field[:, :, 1])
            self._field_cache[key] = maps
            keep = max(2, min(FIELD_CACHE, FIELD_CACHE_BYTES // max(1, 2 * maps[0].nbytes)))
            while len(self._field_cache) > keep:
                self._field_cache.pop(next(iter(self._field_cache)))
        map_x, map_y = maps
        warped = cv2.remap(
            source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        region = out[y0:y1, x0:x1]
        inside = mask > 0
        # copyto with a mask: several times faster than boolean indexing on large regions
        np.copyto(region, warped, where=inside[:, :, None] if warped.ndim == 3 else inside)
