"""MTCNN on real portraits; face_restore and colorize plumbing with random-weight networks.

The random networks (GFPGAN, CodeFormer, DDColor architectures with random weights) produce
noise: these tests check loading, alignment, paste-back and luminance handling, never quality.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from restoration.engine import OpInputs, ParamError, RunContext, get_operation
from restoration.engine.face import FFHQ_TEMPLATE_512, alignment_matrix
from restoration.engine.imageutil import rgb, rgb_to_lab, to_float
from restoration.engine.mtcnn import get_detector

from .conftest import load_rgb

PORTRAITS = ["old_a.png", "old_b.png", "old_w_scratch_a.png", "old_w_scratch_b.png"]


@pytest.mark.parametrize("name", PORTRAITS)
def test_mtcnn_finds_the_face_in_corpus_portraits(name: str, mtcnn_dir) -> None:
    image = load_rgb(name)
    faces = get_detector(mtcnn_dir).detect(image)
    assert len(faces) == 1, [f.box for f in faces]
    face = faces[0]
    x1, y1, x2, y2 = face.box
    assert face.score > 0.95
    left_eye, right_eye, nose, mouth_l, mouth_r = face.landmarks
    for x, y in face.landmarks:
        assert x1 <= x <= x2 and y1 <= y <= y2
    # anatomy, not just boxes: eyes above the nose, nose above the mouth, left eye on the left
    assert left_eye[0] < right_eye[0] and max(left_eye[1], right_eye[1]) < nose[1] < min(
        mouth_l[1], mouth_r[1]
    )


def test_mtcnn_on_scikit_image_faces(mtcnn_dir) -> None:
    faces = get_detector(mtcnn_dir).detect(data.astronaut())
    assert len(faces) == 1 and 150 < faces[0].box[0] < 220
    assert get_detector(mtcnn_dir).detect(np.full((200, 200, 3), 128, np.uint8)) == []


def test_alignment_places_landmarks_on_the_ffhq_template(mtcnn_dir) -> None:
    face = get_detector(mtcnn_dir).detect(load_rgb("old_w_scratch_b.png"))[0]
    matrix = alignment_matrix(face.landmarks)
    mapped = cv2.transform(face.landmarks[None].astype(np.float32), matrix)[0]
    assert np.abs(mapped - FFHQ_TEMPLATE_512).max() < 25  # a similarity fit on a real face


@pytest.mark.parametrize(("kind", "params"), [("gfpgan", {}), ("codeformer", {"fidelity": 0.7})])
def test_face_restore_pastes_back_inside_the_face_only(
    kind: str, params: dict, random_weights, mtcnn_dir
) -> None:
    ref = random_weights(kind)
    scan = load_rgb("old_w_scratch_b.png")
    ctx = RunContext(models={"model": ref}, mtcnn_dir=mtcnn_dir)
    result = get_operation("face_restore").run(OpInputs(scan), {"model": ref.name, **params}, ctx)
    facts = result.record["facts"]
    assert facts["faces"] == 1 and facts["fidelity_used"] == ("fidelity" in params)
    assert result.record["model"]["architecture"] == (
        "GFPGAN" if kind == "gfpgan" else "CodeFormer"
    )
    changed = np.abs(result.image.astype(int) - scan.astype(int)).max(axis=2) > 0
    x1, y1, x2, y2 = (int(v) for v in facts["detections"][0]["box"])
    cy, cx = (y1 + y2) // 2, (x1 + x2) // 2
    assert changed[cy - 10 : cy + 10, cx - 10 : cx + 10].mean() > 0.9  # the face was replaced
    assert not changed[:20].any() and not changed[-20:].any()  # far from the face: untouched
    # the seam is feathered: the change fades out rather than stopping at a hard edge
    ys, xs = np.nonzero(changed)
    diff = np.abs(result.image.astype(int) - scan.astype(int)).sum(axis=2)
    assert diff[ys.min() + 1, cx] < diff[cy, cx] or diff[cy, cx] == 0


def test_fidelity_is_refused_for_models_without_it(random_weights, mtcnn_dir) -> None:
    ref = random_weights("gfpgan")
    ctx = RunContext(models={"model": ref}, mtcnn_dir=mtcnn_dir)
    with pytest.raises(ParamError, match="has no fidelity control"):
        get_operation("face_restore").run(
            OpInputs(np.zeros((64, 64, 3), np.uint8)), {"model": "m", "fidelity": 0.5}, ctx
        )


def test_face_restore_without_faces_returns_the_input(random_weights, mtcnn_dir) -> None:
    ref = random_weights("gfpgan")
    flat = np.full((96, 96), 120, np.uint8)
    ctx = RunContext(models={"model": ref}, mtcnn_dir=mtcnn_dir)
    result = get_operation("face_restore").run(OpInputs(flat), {"model": ref.name}, ctx)
    assert result.record["facts"]["faces"] == 0 and np.array_equal(result.image, flat)


def test_colorize_keeps_the_input_lightness(random_weights) -> None:
    ref = random_weights("ddcolor")
    grey = data.camera()[::4, ::4]  # 128x128
    ctx = RunContext(models={"model": ref})
    result = get_operation("colorize").run(
        OpInputs(grey), {"model": ref.name, "saturation": 0.3}, ctx
    )
    assert result.image.shape == (128, 128, 3)
    l_in = rgb_to_lab(to_float(rgb(grey)))[..., 0]
    l_out = rgb_to_lab(to_float(result.image))[..., 0]
    assert np.median(np.abs(l_out - l_in)) < 1.0  # only out-of-gamut pixels may move
    assert result.record["model"]["architecture"] == "DDColor"


def test_alignment_and_paste_back_are_inverse(random_weights, mtcnn_dir, monkeypatch) -> None:
    """With an identity 'restorer' the pasted-back face must reproduce the scan: this checks
    the geometry (warp, inverse warp, mask) independently of any network."""
    from restoration.engine import face as face_module

    monkeypatch.setattr(face_module, "restore_crop", lambda descriptor, crop, fidelity: crop)
    ref = random_weights("gfpgan")
    scan = load_rgb("old_a.png")
    ctx = RunContext(models={"model": ref}, mtcnn_dir=mtcnn_dir)
    result = get_operation("face_restore").run(OpInputs(scan), {"model": ref.name}, ctx)
    assert result.record["facts"]["faces"] == 1
    diff = np.abs(result.image.astype(float) - scan.astype(float))
    assert diff.mean() < 1.0 and np.percentile(diff, 99) < 12
