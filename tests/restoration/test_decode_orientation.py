"""Issue 16: the EXIF orientation is applied on decode only when it asks for a change."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from restoration import imagefile


def _png_bytes(orientation: int | None) -> tuple[bytes, np.ndarray]:
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white: any rotation or flip is visible
    img = Image.fromarray(arr)
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, format="PNG", exif=exif.tobytes())
    return buf.getvalue(), arr


@pytest.mark.parametrize("orientation", [None, 1, 9])
def test_no_transpose_when_the_orientation_is_upright_or_unknown(orientation, monkeypatch):
    data, arr = _png_bytes(orientation)

    def refuse(*args, **kwargs):
        raise AssertionError("exif_transpose called for an upright image")

    monkeypatch.setattr(ImageOps, "exif_transpose", refuse)
    out = imagefile.decode_rgb_or_grey(data, max_pixels=10**6)
    assert np.array_equal(out, arr)


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_every_other_orientation_is_applied(orientation):
    data, arr = _png_bytes(orientation)
    out = imagefile.decode_rgb_or_grey(data, max_pixels=10**6)
    with Image.open(io.BytesIO(data)) as img:
        expected = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    assert np.array_equal(out, expected)
    assert out.shape[:2] == (arr.shape[:2] if orientation <= 4 else arr.shape[1::-1])
