"""`animate` (issue 12), measured as the issue's "How we will know" asks.

Every measurement runs the landmark model again on frames read back from the archival copy
(FFV1 in Matroska, lossless) written with the burnt-in label off. Clips are short and small
(the machine has 2 shared cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from restoration.engine import OpInputs, ParamError, RunContext, get_operation
from restoration.engine.animate import landmarks as lm
from restoration.engine.animate.op import Animate
from restoration.engine.types import BadInputError
from restoration.engine.video import read_frames
from tests.engine.conftest import CORPUS, load_rgb

pytestmark = pytest.mark.skipif(lm.available() is not None, reason=str(lm.available()))

EYES = json.loads((Path(__file__).resolve().parents[1] / "data" / "eye_centres.json").read_text())
FILM = CORPUS / "film" / "abomb.mp4"


def first_film_frame() -> np.ndarray:
    if not FILM.is_file():
        pytest.skip(f"{FILM} is absent")
    return next(iter(read_frames(FILM)))


def picture(name: str) -> np.ndarray:
    return first_film_frame() if name.startswith("film/") else load_rgb(name)


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def archival(image: np.ndarray, params: dict, tmp_path: Path) -> tuple[list[np.ndarray], object]:
    """Render with the label off into FFV1/Matroska and read every frame back."""
    path = tmp_path / "clip.mkv"
    animation, md5s = Animate().write(
        OpInputs(image), {"label": False, **params}, RunContext(), str(path)
    )
    frames = list(read_frames(path))
    assert len(frames) == animation.frame_count == len(md5s)
    return frames, animation


def the_face(frame: np.ndarray, near: lm.FaceLandmarks) -> lm.FaceLandmarks:
    found = lm.detect_landmarks(frame)
    assert found, "no face found again in an output frame"
    centre = np.array(near.box[:2]) + np.array(near.box[2:])
    return min(
        found, key=lambda f: float(np.hypot(*(np.array(f.box[:2]) + np.array(f.box[2:]) - centre)))
    )


def ear(face: lm.FaceLandmarks) -> float:
    return (
        lm.eye_aspect_ratio(face.points, "right") + lm.eye_aspect_ratio(face.points, "left")
    ) / 2


# --- landmarks ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EYES["images"]))
def test_iris_centres_fall_within_3px_of_hand_marked_eye_centres(name: str) -> None:
    image = picture(name)
    faces = lm.detect_landmarks(image)
    assert faces, f"{name}: no face found"
    face = faces[0]
    assert face.mesh.shape == (468, 3)
    marks = EYES["images"][name]
    checked = 0
    for side, iris in (("right", face.iris_right), ("left", face.iris_left)):
        if marks[side] is None:
            continue
        error = float(np.hypot(*(iris[0] - np.array(marks[side]))))
        assert error <= 3.0, (
            f"{name} {side} eye: iris centre {iris[0].round(1)} is {error:.1f} px from the mark"
        )
        checked += 1
    assert checked >= 1


def test_landmarks_find_nothing_in_a_picture_without_a_face() -> None:
    flat = np.full((200, 300, 3), 128, np.uint8)
    assert lm.detect_landmarks(flat) == []
    with pytest.raises(BadInputError, match="no face"):
        Animate().render(OpInputs(flat), {}, RunContext())


# --- the operation's contract ----------------------------------------------------------------


def test_operation_is_registered_synthetic_and_validates() -> None:
    op = get_operation("animate")
    assert op.kind == "synthetic"
    clean = op.validate({"smile": 0.5, "fps": "30000/1001", "face": "0", "blink_times": [2, 0.5]})
    assert (
        clean["fps"] == "30000/1001" and clean["face"] == 0 and clean["blink_times"] == [0.5, 2.0]
    )
    assert op.validate(clean) == clean
    assert clean["label"] is True and clean["gaze"] == "viewer" and clean["loop"] is True
    schema = op.json_schema()
    assert schema["properties"]["smile"]["maximum"] == 1.0
    for bad, field in (
        ({"smile": 2}, "smile"),
        ({"fps": 120}, "fps"),
        ({"duration": 20, "fps": 60}, "duration"),
        ({"face": "left one"}, "face"),
        ({"blink_times": [1, "x"]}, "blink_times[1]"),
        ({"gaze": "sideways"}, "gaze"),
        ({"blink_eyes": "one"}, "blink_eyes"),
        ({"face": [10, 10, 5, 50]}, "face"),
        ({"face": [1, 2, 3]}, "face"),
        ({"face": "1, 2, x, 4"}, "face"),
        ({"label_text": "  "}, "label_text"),
    ):
        with pytest.raises(ParamError) as caught:
            op.validate(bad)
        assert caught.value.field == field


def test_run_returns_the_poster_and_a_record_with_the_landmarks_used() -> None:
    image = load_rgb("old_w_scratch_b.png")
    result = get_operation("animate").run(OpInputs(image), {"duration": 1, "fps": 8}, RunContext())
    record = result.record
    assert record["kind"] == "synthetic"
    facts = record["facts"]
    assert facts["synthetic"] is True and facts["output"]["frame_count"] == 8
    assert len(facts["landmarks"]) == 1 and len(facts["landmarks"][0]["mesh"]) == 468
    assert facts["label"]["text"].startswith("Animated from a still photograph")
    assert result.image.shape == image.shape
    json.dumps(record)  # JSON-safe


# --- "How we will know" ------------------------------------------------------------------------


def test_first_frame_is_the_still_and_outside_the_face_hull_nothing_changes(tmp_path: Path) -> None:
    image = load_rgb("old_a.png")
    frames, animation = archival(
        image, {"duration": 1.2, "fps": 10, "smile": 1.0, "blinks": 1}, tmp_path
    )
    assert np.abs(frames[0].astype(int) - image).max() <= 1
    import cv2

    hull = animation.faces[0].hull()
    inside = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(hull * 16).astype(np.int32)], 1, shift=4)
    inside = cv2.dilate(inside, np.ones((3, 3), np.uint8))  # the hull's own edge pixels
    outside = inside == 0
    changed_somewhere = False
    for frame in frames:
        diff = np.abs(frame.astype(int) - image).max(axis=2)
        assert diff[outside].max() <= 1
        changed_somewhere |= bool(diff[~outside].max() > 8)
    assert changed_somewhere  # the face did move


def test_head_motion_is_allowed_to_move_pixels_outside_the_hull(tmp_path: Path) -> None:
    image = load_rgb("old_w_scratch_b.png")
    frames, animation = archival(
        image, {"duration": 1, "fps": 6, "nod": 4, "tilt": 4, "smile": 0}, tmp_path
    )
    import cv2

    inside = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(animation.faces[0].hull()).astype(np.int32)], 1)
    diff = np.abs(frames[2].astype(int) - image).max(axis=2)
    assert diff[inside == 0].max() > 8
    assert np.abs(frames[0].astype(int) - image).max() <= 1


@pytest.mark.parametrize("name", ["old_a.png", "old_w_scratch_b.png"])
def test_full_smile_lifts_the_mouth_corners_by_the_requested_fraction(
    name: str, tmp_path: Path
) -> None:
    from restoration.engine.animate.driver import SMILE_RISE

    image = load_rgb(name)
    frames, animation = archival(
        image, {"duration": 1.2, "fps": 10, "smile": 1.0, "blinks": 0, "gaze": "keep"}, tmp_path
    )
    smiles = [p.smile for p in animation.timeline.poses]
    peak = int(np.argmax(smiles))
    assert smiles[peak] == pytest.approx(1.0)
    still = lm.detect_landmarks(frames[0])[0]
    moved = the_face(frames[peak], still)
    across = still.iris_left[0] - still.iris_right[0]
    across /= np.hypot(*across)
    up = -np.array([-across[1], across[0]])
    rise = (moved.points[list(lm.MOUTH_CORNERS)] - still.points[list(lm.MOUTH_CORNERS)]) @ up
    fraction = float(rise.mean()) / still.interocular
    assert fraction == pytest.approx(SMILE_RISE, rel=0.2), f"corners rose {fraction:.4f} IOD"
    # half a smile lifts them less
    half = the_face(frames[int(np.argmin(np.abs(np.array(smiles[:peak]) - 0.5)))], still)
    half_rise = float(
        ((half.points[list(lm.MOUTH_CORNERS)] - still.points[list(lm.MOUTH_CORNERS)]) @ up).mean()
    )
    assert 0 < half_rise / still.interocular < fraction


@pytest.mark.parametrize("name", ["old_a.png", "old_w_scratch_b.png"])
def test_full_smile_holds_its_calibration_with_gaze_and_a_blink(name: str, tmp_path: Path) -> None:
    """Every motion on: the eyes turn with the smile and a blink runs into the full smile.

    Measured in two parts, because the landmark model couples the eyes to the mouth: with no
    smile at all, a blink alone moves the model's mouth corners by up to 0.010 IOD on old_a
    (0.004 on old_w_scratch_b) while not one mouth pixel changes, so the model run on a
    blinking frame measures the eyes as much as the mouth (old_a, frame 18, blink 0.17:
    0.0746 IOD, with the mouth bit-identical to the open-eyed full smile's 0.0602). So: on
    every frame at full smile, nothing outside the eyes' boxes differs from the open-eyed
    full smile (the blink does not move the mouth), and on that open-eyed frame the model
    sees the corners rise by the requested fraction of the IOD within 20 %."""
    from restoration.engine.animate.driver import SMILE_RISE

    frames, animation = archival(
        load_rgb(name),
        {"duration": 1.6, "fps": 25, "smile": 1.0, "blinks": 1, "blink_times": [0.45]},
        tmp_path,
    )
    poses = animation.timeline.poses
    full = [k for k, p in enumerate(poses) if p.smile > 0.999]
    assert full and any(poses[k].blink_left > 0.5 for k in full) and poses[full[0]].gaze > 0.999
    open_eyed = [k for k in full if poses[k].blink_left == 0 and poses[k].blink_right == 0]
    assert open_eyed
    reference = frames[open_eyed[0]]
    still = lm.detect_landmarks(frames[0])[0]
    eyes = np.zeros(reference.shape[:2], bool)
    for contour in (lm.RIGHT_EYE_CONTOUR, lm.LEFT_EYE_CONTOUR):
        eye = still.points[list(contour)]
        width = float(np.ptp(eye[:, 0]))
        x0, y0 = (eye.min(axis=0) - 0.6 * width).astype(int)
        x1, y1 = (eye.max(axis=0) + 0.6 * width).astype(int)
        eyes[max(0, y0) : y1, max(0, x0) : x1] = True
    for k in full:
        diff = np.abs(frames[k].astype(int) - reference).max(axis=2)
        assert diff[~eyes].max() == 0, f"frame {k}: the blink changed pixels outside the eyes"
    across = still.iris_left[0] - still.iris_right[0]
    across /= np.hypot(*across)
    up = -np.array([-across[1], across[0]])
    moved = the_face(reference, still)
    rise = (moved.points[list(lm.MOUTH_CORNERS)] - still.points[list(lm.MOUTH_CORNERS)]) @ up
    fraction = float(rise.mean()) / still.interocular
    assert fraction == pytest.approx(SMILE_RISE, rel=0.2), f"corners rose {fraction:.4f} IOD"


@pytest.mark.parametrize("name", [*sorted(EYES["images"]), "astronaut"])
def test_a_covered_mouth_is_found_and_only_there(name: str) -> None:
    """old_w_scratch_a holds a cigarette with her fingers over her mouth; no other corpus face
    has anything over its mouth."""
    from restoration.engine.animate.driver import smile_refusal

    image = astronaut() if name == "astronaut" else picture(name)
    reason = smile_refusal(image, lm.detect_landmarks(image)[0])
    if name == "old_w_scratch_a.png":
        assert reason is not None and reason.startswith("mouth occluded")
    else:
        assert reason is None, reason


def test_a_face_whose_mouth_is_covered_does_not_smile_and_the_step_says_why(
    tmp_path: Path,
) -> None:
    image = load_rgb("old_w_scratch_a.png")
    frames, animation = archival(
        image, {"duration": 1.2, "fps": 10, "smile": 1.0, "blinks": 0, "gaze": "keep"}, tmp_path
    )
    faces = animation.record["facts"]["driver"]["faces"]
    assert faces[0]["smile_refused"].startswith("mouth occluded")
    peak = int(np.argmax([p.smile for p in animation.timeline.poses]))
    assert animation.timeline.poses[peak].smile == pytest.approx(1.0)
    # the hand and the mouth are where they were: nothing on the face moved
    assert np.abs(frames[peak].astype(int) - image).max() <= 1


# Blink measured on every corpus face whose eyes the landmark model can resolve. old_b is left
# out: its face is 40 px wide and its eyes 4 and 8 px (the iris model sees a blur of pixels).
# The film's soldier (eyes 11 and 14 px, a blurred frame, the face half turned) is rendered
# closed but the model still reports 0.66 of the open ratio: a measured failure of the
# criterion, kept as a strict xfail so that a fix shows up.
BLINK_FACES = [
    pytest.param("astronaut", id="astronaut"),
    pytest.param(
        "old_a.png",
        id="old_a",
        # The lid without its drawn lash line (issue 22) reads as 0.55 of open behind the
        # glasses (0.47 with the old pen line): a measured shortfall, kept strict.
        marks=pytest.mark.xfail(strict=True, reason="measured 0.55 of open (glasses, 25-28 px)"),
    ),
    pytest.param("old_w_scratch_a.png", id="old_w_scratch_a"),
    pytest.param("old_w_scratch_b.png", id="old_w_scratch_b"),
    pytest.param(
        "film/abomb.mp4",
        id="film_soldier",
        marks=pytest.mark.xfail(strict=True, reason="measured 0.66 of open (11-14 px eyes)"),
    ),
]


@pytest.mark.parametrize("name", BLINK_FACES)
def test_mid_blink_halves_the_eye_aspect_ratio(name: str, tmp_path: Path) -> None:
    image = astronaut() if name == "astronaut" else picture(name)
    frames, animation = archival(
        image, {"duration": 1.0, "fps": 25, "smile": 0, "blinks": 1, "gaze": "keep"}, tmp_path
    )
    closure = [p.blink_left for p in animation.timeline.poses]
    mid = int(np.argmax(closure))
    assert closure[mid] > 0.95
    still = lm.detect_landmarks(frames[0])[0]
    closed = the_face(frames[mid], still)
    assert ear(closed) < 0.5 * ear(still), f"EAR {ear(closed):.3f} vs open {ear(still):.3f}"
    assert ear(the_face(frames[-1], still)) > 0.8 * ear(still)  # open again


def test_gaze_viewer_brings_the_iris_to_the_centre_of_the_eye_opening(tmp_path: Path) -> None:
    image = load_rgb("old_w_scratch_b.png")
    frames, animation = archival(
        image, {"duration": 1.2, "fps": 10, "smile": 0, "blinks": 0, "gaze": "viewer"}, tmp_path
    )
    peak = int(np.argmax([p.gaze for p in animation.timeline.poses]))
    still = lm.detect_landmarks(frames[0])[0]
    after = the_face(frames[peak], still)
    for side, iris_before, iris_after in (
        ("right", still.iris_right, after.iris_right),
        ("left", still.iris_left, after.iris_left),
    ):
        corners = lm.RIGHT_EYE_CORNERS if side == "right" else lm.LEFT_EYE_CORNERS
        width = float(np.hypot(*(still.points[corners[0]] - still.points[corners[1]])))
        centre = lm.eye_opening_centre(after.points, side)
        before = float(np.hypot(*(iris_before[0] - lm.eye_opening_centre(still.points, side))))
        now = float(np.hypot(*(iris_after[0] - centre)))
        assert now <= 0.1 * width, (
            f"{side}: iris {now:.2f} px from the opening's centre (eye {width:.1f} px)"
        )
        assert now <= before + 0.5


def test_no_landmark_jumps_more_than_2_percent_of_the_face_width(tmp_path: Path) -> None:
    image = load_rgb("old_w_scratch_b.png")
    frames, animation = archival(
        image,
        {
            "duration": 1.2,
            "fps": 25,
            "smile": 0.6,
            "blinks": 1,
            "gaze": "viewer",
            "nod": 2,
            "tilt": 2,
        },
        tmp_path,
    )
    still = lm.detect_landmarks(frames[0])[0]
    width = still.face_width
    previous = still.points
    worst = 0.0
    for frame in [*frames[1:], frames[0]]:  # and the loop back to the start
        now = the_face(frame, still).points
        worst = max(worst, float(np.hypot(*(now - previous).T).max()))
        previous = now
    assert worst <= 0.02 * width, (
        f"a landmark jumped {worst:.2f} px ({100 * worst / width:.2f} % of the face)"
    )


def model_noise_floor(still: np.ndarray, face: lm.FaceLandmarks) -> float:
    """The landmark model's own jitter, in pixels: the largest landmark movement it reports
    between the still and the still moved by a quarter pixel (up, down, left, right), the
    shift taken out: frames that differ by far less than any of ours."""
    h, w = still.shape[:2]
    worst = 0.0
    for dx, dy in ((0.25, 0), (-0.25, 0), (0, 0.25), (0, -0.25)):
        moved = cv2.warpAffine(
            still,
            np.float32([[1, 0, dx], [0, 1, dy]]),
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        again = the_face(moved, face).points - (dx, dy)
        worst = max(worst, float(np.hypot(*(again - face.points).T).max()))
    return worst


# The same measurement on every corpus face (no head motion: smile, blink, gaze). Where the
# model's own jitter between nearly identical frames already exceeds 2 % of the face (old_b:
# a 40 px face; old_w_scratch_a; the film frame), a jump is judged against 1.5 x that floor.
JUMP_FACES = sorted(EYES["images"])


@pytest.mark.parametrize("name", JUMP_FACES)
def test_landmark_jumps_stay_under_2_percent_or_the_models_own_noise(
    name: str, tmp_path: Path
) -> None:
    image = picture(name)
    frames, animation = archival(
        image,
        {"duration": 1.2, "fps": 25, "smile": 0.6, "blinks": 1, "gaze": "viewer"},
        tmp_path,
    )
    assert animation.timeline.blink_times  # the blink fits in the clip
    still = lm.detect_landmarks(frames[0])[0]
    width = still.face_width
    floor = model_noise_floor(frames[0], still)
    previous = still.points
    worst = 0.0
    for frame in [*frames[1:], frames[0]]:
        now = the_face(frame, still).points
        worst = max(worst, float(np.hypot(*(now - previous).T).max()))
        previous = now
    limit = max(0.02 * width, 1.5 * floor)
    assert worst <= limit, (
        f"{name}: a landmark jumped {100 * worst / width:.2f} % of the face; the model's "
        f"noise floor is {100 * floor / width:.2f} %"
    )


def test_a_blink_changes_only_the_eyes_and_the_lid_moves_smoothly(tmp_path: Path) -> None:
    """What is ours in old_w_scratch_a's mid-blink jump: only pixels around the eyes change (so
    landmark 454, on the face's outline, moves by the model's doing), and they change
    gradually: no frame differs from its neighbour by more than the one before it does near
    the middle of the blink (sin^2 easing, no step)."""
    image = load_rgb("old_w_scratch_a.png")
    frames, animation = archival(
        image, {"duration": 1.2, "fps": 25, "smile": 0, "blinks": 1, "gaze": "keep"}, tmp_path
    )
    face = lm.detect_landmarks(image)[0]
    keep = np.ones(image.shape[:2], bool)
    for contour in (lm.RIGHT_EYE_CONTOUR, lm.LEFT_EYE_CONTOUR):
        eye = face.points[list(contour)]
        width = float(np.ptp(eye[:, 0]))
        x0, y0 = (eye.min(axis=0) - 0.6 * width).astype(int)
        x1, y1 = (eye.max(axis=0) + 0.6 * width).astype(int)
        keep[max(0, y0) : y1, max(0, x0) : x1] = False
    diffs = []
    for before, after in zip(frames, frames[1:], strict=False):
        assert np.abs(after.astype(int) - image)[keep].max() <= 1
        diffs.append(float(np.abs(after.astype(int) - before).sum()))
    closure = [p.blink_left for p in animation.timeline.poses]
    assert max(closure) > 0.95
    # the change per frame rises and falls with the lid's speed: no single frame carries it
    assert max(diffs) < 0.35 * sum(diffs)


def test_loop_is_a_ping_pong_and_the_last_frame_leads_back_to_the_first(tmp_path: Path) -> None:
    image = load_rgb("old_w_scratch_b.png")
    frames, animation = archival(
        image, {"duration": 1, "fps": 10, "smile": 0.8, "blinks": 0}, tmp_path
    )
    poses = animation.timeline.poses
    assert poses[0].at_rest
    smiles = [p.smile for p in poses]
    assert smiles[1:] == pytest.approx(smiles[1:][::-1])  # symmetric: out and back
    assert (
        np.abs(frames[-1].astype(int) - frames[0]).max()
        < np.abs(frames[len(frames) // 2].astype(int) - frames[0]).max()
    )
    _, held = archival(
        image, {"duration": 1, "fps": 10, "smile": 0.8, "blinks": 0, "loop": False}, tmp_path
    )
    assert held.timeline.poses[-1].smile == pytest.approx(0.8)


def test_all_faces_or_one_by_index(tmp_path: Path) -> None:
    # two faces side by side: the still and a smaller copy
    import cv2

    still = load_rgb("old_w_scratch_b.png")
    small = cv2.resize(still, (192, 192), interpolation=cv2.INTER_AREA)
    canvas = np.full((256, 464, 3), 200, np.uint8)
    canvas[:, :256] = still
    canvas[32:224, 264:456] = small
    op = Animate()
    both = op.render(OpInputs(canvas), {"face": "all", "duration": 1, "fps": 4}, RunContext())
    assert both.record["facts"]["faces_animated"] == 2
    second = op.render(OpInputs(canvas), {"face": 1, "duration": 1, "fps": 4}, RunContext())
    assert second.faces[0].face_width < both.faces[0].face_width
    with pytest.raises(BadInputError, match="face 5"):
        op.render(OpInputs(canvas), {"face": 5}, RunContext())


def test_burnt_in_label_in_the_interface_language() -> None:
    image = load_rgb("old_w_scratch_b.png")
    text = "由静态照片生成的动画：此人并未如此动过"
    animation = Animate().render(
        OpInputs(image), {"label_text": text, "duration": 1, "fps": 4}, RunContext()
    )
    label = animation.record["facts"]["label"]
    assert label["text"] == text
    frames = list(animation.frames)
    top, bottom = label["band_rows"]
    assert bottom == image.shape[0] and top < bottom
    # the band darkens the bottom rows and carries bright text in every frame, the first included
    for frame in frames:
        band = frame[top:bottom].astype(int)
        assert band.mean() < image[top:bottom].mean()
        assert (band.max(axis=2) > 200).sum() > 20
    if label["font"] == "PIL default bitmap font" or label["missing_glyphs"]:
        pytest.skip(f"no CJK font here ({label}): the label's glyphs are boxes")


def test_grey_and_16_bit_stills_animate_to_rgb_frames() -> None:
    grey = load_rgb("old_w_scratch_b.png").mean(axis=2).astype(np.uint16) * 257
    animation = Animate().render(
        OpInputs(grey), {"duration": 0.5, "fps": 4, "label": False}, RunContext()
    )
    frames = list(animation.frames)
    assert frames[0].shape == (256, 256, 3) and frames[0].dtype == np.uint8
    assert np.abs(frames[0][:, :, 0].astype(int) - (grey // 257)).max() <= 1


# --- the blink's acceptance criteria (issue: "blinks look drawn") -----------------------------
# At closure 1 on the eyes the landmark model can measure (at least 12 px from corner to
# corner; no corpus eye is 12 px high), the eye aspect ratio re-measured by the model is under
# 0.3 of the open one. Rendered with the driver directly (the archival copy is lossless, so
# the frame is the same). Measured per eye (right, left) at closure 1 with this driver (lower
# lid carried up from 0.3 openings under its edge, tone fading in with the column's travel):
# astronaut 0.27 / 0.296, old_a 0.55 / 0.55 (glasses), old_w_scratch_a 0.21 / 0.47,
# old_w_scratch_b 0.55 / 0.29, film soldier 0.69 / 0.99: the criterion is met on both of the
# astronaut's eyes (the left one's xfail was removed when it began to pass), old_w_scratch_a's
# right and old_w_scratch_b's left; the others are strict xfails, so that a fix shows up.
MEASURED_OPEN = {
    ("old_a.png", "right"): "0.55 of open (behind glasses)",
    ("old_a.png", "left"): "0.55 of open (behind glasses)",
    ("old_w_scratch_a.png", "left"): "0.47 of open (a narrowed eye, 4 px opening)",
    ("old_w_scratch_b.png", "right"): "0.55 of open",
    ("film/abomb.mp4", "right"): "0.69 of open (blurred frame, 15 px eye)",
    ("film/abomb.mp4", "left"): "0.99 of open (eye in deep shadow, 12 px)",
}
ACCEPT_FACES = [
    "astronaut",
    "old_a.png",
    "old_w_scratch_a.png",
    "old_w_scratch_b.png",
    "film/abomb.mp4",
]


def closed_frame(image: np.ndarray, closure: float = 1.0, **pose: float) -> tuple:
    from restoration.engine.animate.driver import LandmarkDriver
    from restoration.engine.animate.timeline import FramePose

    face = lm.detect_landmarks(image)[0]
    driver = LandmarkDriver()
    driver.prepare(image, [face], {"gaze": "viewer", "smile": 0})
    frame = driver.render(FramePose(blink_right=closure, blink_left=closure, **pose))
    return face, frame


def eye_box(face: lm.FaceLandmarks, side: str) -> tuple[int, int, int, int]:
    ring = lm.eye_ring(face.points, side)
    x0, y0 = np.floor(ring.min(axis=0)).astype(int)
    x1, y1 = np.ceil(ring.max(axis=0)).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


@pytest.mark.parametrize(
    ("name", "side"),
    [
        pytest.param(
            n, s, id=f"{n}-{s}",
            marks=[pytest.mark.xfail(strict=True, reason=MEASURED_OPEN[(n, s)])]
            if (n, s) in MEASURED_OPEN else [],
        )
        for n in ACCEPT_FACES
        for s in ("right", "left")
    ],
)  # fmt: skip
def test_full_closure_brings_the_eye_aspect_ratio_under_0_3_of_open(name: str, side: str) -> None:
    image = astronaut() if name == "astronaut" else picture(name)
    face, frame = closed_frame(image)
    x0, _, x1, _ = eye_box(face, side)
    if x1 - x0 < 12:
        pytest.skip(f"{side} eye {x1 - x0} px wide: too small to measure")
    again = the_face(frame, face)
    ratio = lm.eye_aspect_ratio(again.points, side) / lm.eye_aspect_ratio(face.points, side)
    assert ratio < 0.3, f"{side} eye: {ratio:.2f} of open"


@pytest.mark.parametrize("name", [*ACCEPT_FACES, "old_b.png"])
def test_no_pixel_of_a_closed_eye_is_darker_than_the_faces_darkest_percent(name: str) -> None:
    """The pen line is gone: at closure 1 nothing in either eye's box (the still's contour,
    rounded outwards) is darker than the still's darkest 1 % of the face (grey, in its hull)."""
    image = astronaut() if name == "astronaut" else picture(name)
    face, frame = closed_frame(image)
    grey_still = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    hull = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(hull, [np.round(face.hull()).astype(np.int32)], 1)
    floor = float(np.percentile(grey_still[hull > 0], 1))
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    for side in ("right", "left"):
        x0, y0, x1, y1 = eye_box(face, side)
        darkest = float(grey[y0 : y1 + 1, x0 : x1 + 1].min())
        assert darkest >= floor, f"{side} eye: {darkest} < the face's 1 % ({floor})"


def test_a_wink_closes_one_eye_and_a_box_picks_the_face(tmp_path: Path) -> None:
    still = load_rgb("old_w_scratch_b.png")
    small = cv2.resize(still, (192, 192), interpolation=cv2.INTER_AREA)
    canvas = np.full((256, 464, 3), 200, np.uint8)
    canvas[:, :256] = still
    canvas[32:224, 264:456] = small
    op = Animate()
    picked = op.render(
        OpInputs(canvas), {"face": [264, 32, 456, 224], "duration": 1, "fps": 4}, RunContext()
    )
    assert picked.faces[0].box[0] > 256
    with pytest.raises(BadInputError, match="no face in the box"):
        op.render(OpInputs(canvas), {"face": [0, 0, 10, 10]}, RunContext())
    frames, animation = archival(
        still, {"duration": 1.0, "fps": 25, "smile": 0, "gaze": "keep", "blink_eyes": "left"},
        tmp_path,
    )  # fmt: skip
    poses = animation.timeline.poses
    assert max(p.blink_right for p in poses) == 0 and max(p.blink_left for p in poses) > 0.95
    mid = int(np.argmax([p.blink_left for p in poses]))
    face = lm.detect_landmarks(still)[0]
    changed = np.abs(frames[mid].astype(int) - still).max(axis=2) > 1
    for side, moves in (("right", False), ("left", True)):
        x0, y0, x1, y1 = eye_box(face, side)
        assert bool(changed[y0 : y1 + 1, x0 : x1 + 1].any()) is moves, side


# The acceptance check on eyes at least 12 px high (lid to lid at the iris, from the mesh): no
# corpus eye is, so each face is upscaled (Lanczos) by the first of UPSCALES that makes both
# open eyes that high (old_w_scratch_a's right eye is narrowed: 12.5 px only at 5x). Measured
# per eye (right, left) at closure 1, as a fraction of the open ratio, with this driver:
# astronaut x2 0.27 / 0.29, old_a x1.5 0.53 / 0.59 (behind glasses), old_w_scratch_a x5
# 0.28 / 0.53, old_w_scratch_b x2.5 0.57 / 0.24 (before the lower lid was carried up from under
# its white rows and the tone faded in with the lid's travel: 0.26 / 0.33, 0.48 / 0.48,
# 0.25 / 0.48, 0.60 / 0.29). The eyes still over 0.3 are strict xfails, so that a fix shows up.
UPSCALES = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0)
MIN_EYE_HEIGHT = 12.0
LID_PAIRS = {"right": (159, 145), "left": (386, 374)}  # upper, lower lid over the iris
MEASURED_LARGE = {
    ("old_a.png", "right"): "0.53 of open (behind glasses)",
    ("old_a.png", "left"): "0.59 of open (behind glasses)",
    ("old_w_scratch_a.png", "left"): "0.53 of open (a narrowed eye in shadow)",
    ("old_w_scratch_b.png", "right"): "0.57 of open",
}


def eye_height(face: lm.FaceLandmarks, side: str) -> float:
    upper, lower = LID_PAIRS[side]
    return float(np.hypot(*(face.points[upper] - face.points[lower])))


def upscaled(name: str) -> tuple[np.ndarray, lm.FaceLandmarks]:
    """The portrait enlarged (Lanczos) by the first of UPSCALES with both open eyes at least
    MIN_EYE_HEIGHT px high (or by the largest), and its face."""
    image = astronaut() if name == "astronaut" else picture(name)
    for scale in UPSCALES:
        big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LANCZOS4)
        face = lm.detect_landmarks(big)[0]
        if min(eye_height(face, s) for s in ("right", "left")) >= MIN_EYE_HEIGHT:
            break
    return big, face


@pytest.mark.parametrize(
    ("name", "side"),
    [
        pytest.param(
            n, s, id=f"{n}-{s}",
            marks=[pytest.mark.xfail(strict=True, reason=MEASURED_LARGE[(n, s)])]
            if (n, s) in MEASURED_LARGE else [],
        )
        for n in ACCEPT_FACES[:4]
        for s in ("right", "left")
    ],
)  # fmt: skip
def test_full_closure_reads_closed_on_eyes_at_least_12_px_high(name: str, side: str) -> None:
    """The reviewers' check on eyes large enough: at closure 1 the model's eye aspect ratio is
    under 0.3 of the open one, and nothing in the eye's box is darker than the still's darkest
    1 % of the face. Eyes under MIN_EYE_HEIGHT even upscaled are not measured."""
    big, face = upscaled(name)
    height = eye_height(face, side)
    if height < MIN_EYE_HEIGHT:
        pytest.skip(f"{side} eye {height:.1f} px high: too small to measure")
    _, frame = closed_frame(big)
    grey_still = cv2.cvtColor(big, cv2.COLOR_RGB2GRAY)
    hull = np.zeros(big.shape[:2], np.uint8)
    cv2.fillPoly(hull, [np.round(face.hull()).astype(np.int32)], 1)
    floor = float(np.percentile(grey_still[hull > 0], 1))
    x0, y0, x1, y1 = eye_box(face, side)
    darkest = float(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[y0 : y1 + 1, x0 : x1 + 1].min())
    assert darkest >= floor, f"{side} eye: {darkest} < the face's 1 % ({floor})"
    again = the_face(frame, face)
    ratio = lm.eye_aspect_ratio(again.points, side) / lm.eye_aspect_ratio(face.points, side)
    assert ratio < 0.3, f"{side} eye ({height:.1f} px high): {ratio:.2f} of open"
