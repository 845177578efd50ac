"""The identity check on real portraits (engine only, no database): a restoration keeps the
person, a pasted-in face is another person, faces too small say so, crops and rotations pair
faces by geometry."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from restoration.engine import identity
from restoration.engine.ops_classical import Crop, Rotate

pytestmark = pytest.mark.skipif(identity.available() is not None, reason=str(identity.available()))

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def load(name: str) -> np.ndarray:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return np.asarray(Image.open(path).convert("RGB"))


def paste_face(target: np.ndarray, donor: np.ndarray) -> np.ndarray:
    """A manual 'retouch' that swaps in another person's face (the kind of edit to catch)."""
    box = [int(v) for v in identity.detect_faces(target)[0][0]]
    dbox = [int(v) for v in identity.detect_faces(donor)[0][0]]
    out = target.copy()
    x0, y0, x1, y1 = box
    face = donor[dbox[1] : dbox[3], dbox[0] : dbox[2]]
    out[y0:y1, x0:x1] = cv2.resize(face, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return out


@pytest.mark.parametrize("name", ["old_a.png", "old_w_scratch_a.png", "old_w_scratch_b.png"])
def test_honest_restorations_keep_the_same_person(name: str) -> None:
    image = load(name)
    denoised = cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(image), None, 7, 7, 7, 21)
    upscaled = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_LANCZOS4)
    grey = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    for after in (denoised, upscaled, grey):
        faces = identity.identity_check(image, after)["faces"]
        assert faces and faces[0]["verdict"] == "same", faces


def test_a_pasted_in_face_is_another_person() -> None:
    image, donor = load("old_a.png"), load("old_w_scratch_a.png")
    faces = identity.identity_check(image, paste_face(image, donor))["faces"]
    assert faces[0]["verdict"] == "different", faces
    assert faces[0]["distance"] >= identity.DIFFERENT_FROM


def test_a_crop_pairs_the_face_by_where_it_went_and_a_crop_without_it_says_so() -> None:
    image = load("old_a.png")
    rect = {"x": 40, "y": 100, "width": 220, "height": 220}
    cropped = np.ascontiguousarray(image[100:320, 40:260])
    check = identity.identity_check(
        image, cropped, transform=Crop().geometry(image.shape, {"rect": rect})
    )
    assert check["faces"][0]["verdict"] == "same", check
    away = np.ascontiguousarray(image[330:450, 0:120])
    gone = identity.identity_check(
        image,
        away,
        transform=Crop().geometry(image.shape, {"rect": {"x": 0, "y": 330, "width": 120}}),
    )
    assert gone["faces"][0]["verdict"] == "unmeasured"
    assert "outside" in gone["faces"][0]["reason"]


def test_a_quarter_turn_pairs_the_face() -> None:
    image = load("old_w_scratch_a.png")
    params = {"angle": 90.0, "expand": True, "fill": "white"}
    turned = np.ascontiguousarray(np.rot90(image))
    check = identity.identity_check(image, turned, transform=Rotate().geometry(image.shape, params))
    face = check["faces"][0]
    # the mapped box lands on the face the detector finds in the turned image
    assert face["box_out"] is not None, check


def test_a_face_too_small_is_unmeasured_with_the_reason() -> None:
    image = load("old_a.png")
    small = cv2.resize(image, None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)
    faces = identity.measure_faces(small)
    assert faces, "the detector still finds the small face"
    assert faces[0].embedding is None and "too small" in faces[0].reason


def test_the_record_names_the_method_models_and_thresholds() -> None:
    check = identity.identity_check(load("old_w_scratch_b.png"), load("old_w_scratch_b.png"))
    assert check["method"] == identity.METHOD
    assert set(check["models"]) == {identity.SHAPE_MODEL, identity.DESCRIPTOR_MODEL}
    assert "68" not in " ".join(check["models"])  # never the non-commercial 68-point model
    assert check["thresholds"]["version"] == identity.THRESHOLDS_VERSION
    assert check["faces"][0]["distance"] == pytest.approx(0.0, abs=1e-6)


def test_small_faces_in_a_large_group_scan_are_found() -> None:
    """Tiles: a 12 MP canvas with two portraits of 300-450 px is not letterboxed to 128 px."""
    import skimage.data

    canvas = np.full((3000, 4000, 3), 128, np.uint8)
    canvas[100:612, 100:612] = skimage.data.astronaut()
    canvas[2000:2450, 3000:3298] = load("old_a.png")
    found = identity.measure_faces(canvas)
    assert len([f for f in found if f.embedding is not None]) >= 2


def test_no_face_no_entries() -> None:
    flat = np.full((200, 300, 3), 90, np.uint8)
    assert identity.identity_check(flat, flat)["faces"] == []
