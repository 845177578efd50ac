"""Weights: detection with spandrel, the torchvision shim, the per-process cache, real Real-ESRGAN."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from restoration.engine import EngineError, OpInputs, RunContext, get_operation, inspect_weights
from restoration.engine.models import cached_model_count, load_model
from restoration.engine.tvshim import normalize, rotate

from .conftest import load_rgb


def test_torchvision_shim_is_installed_and_behaves() -> None:
    from restoration.engine.models import spandrel_module

    spandrel_module()
    tv = sys.modules["torchvision"]
    assert "shim" in tv.__version__ or hasattr(tv, "ops")  # a real torchvision also passes
    x = torch.rand(1, 3, 8, 8)
    assert torch.allclose(normalize(x, [0.5] * 3, [0.5] * 3), x * 2 - 1)
    square = torch.zeros(1, 1, 9, 9)
    square[..., 4, 6] = 1.0  # right of centre
    turned = rotate(square, 90.0)  # counter-clockwise: ends above centre
    assert turned[0, 0].argmax().item() == 2 * 9 + 4


def test_inspect_weights_real_esrgan(realesrgan) -> None:
    info = inspect_weights(realesrgan.path)
    assert (info.architecture, info.purpose, info.scale, info.license) == (
        "ESRGAN",
        "sr",
        4,
        "permissive",
    )
    assert info.sha256 == "d2fb588529ccabe540d912541579a9110f3dcc8b77bf4121305a36d523bfdd28"
    assert info.input_channels == 3 and info.tiling == "supported"


def test_inspect_weights_rejects_unknown_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pth"
    torch.save({"foo.weight": torch.zeros(3)}, junk)
    with pytest.raises(EngineError, match="does not recognise"):
        inspect_weights(junk)
    with pytest.raises(EngineError, match="no such file"):
        inspect_weights(tmp_path / "missing.pth")


@pytest.mark.parametrize(
    "content",
    [b"junk, not a pickle \x80\x04 at all", bytes(range(256)) * 3, b"", b"\x80\x02}q\x00(X"],
    ids=["text", "bytes", "empty", "truncated-pickle"],
)
def test_inspect_weights_refuses_junk_pth_with_an_engine_error(tmp_path: Path, content) -> None:
    junk = tmp_path / "junk.pth"
    junk.write_bytes(content)
    with pytest.raises(EngineError, match="junk.pth"):
        inspect_weights(junk)


def test_real_esrgan_on_a_small_corpus_crop(realesrgan) -> None:
    crop = load_rgb("old_w_scratch_b.png")[70:118, 96:160]  # 64x48: the eyes
    result = get_operation("sr").run(
        OpInputs(crop), {"model": "realesrgan-x4plus"}, RunContext(models={"model": realesrgan})
    )
    assert result.image.shape == (192, 256, 3)
    assert result.record["model"]["sha256"] == realesrgan.sha256
    # A real SR network: it must agree with the input at low frequencies...
    down = cv2.resize(result.image, (64, 48), interpolation=cv2.INTER_AREA).astype(np.float32)
    assert np.abs(down - crop.astype(np.float32)).mean() < 8
    # ...and be sharper than Lanczos at high ones.
    lanczos = cv2.resize(crop, (256, 192), interpolation=cv2.INTER_LANCZOS4)
    lap = lambda im: cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var()  # noqa: E731
    assert lap(result.image) > 1.5 * lap(lanczos)
    again = get_operation("sr").run(
        OpInputs(crop), {"model": "realesrgan-x4plus"}, RunContext(models={"model": realesrgan})
    )
    assert again.image.tobytes() == result.image.tobytes()


def test_weights_load_once_and_hash_is_checked(realesrgan) -> None:
    first = load_model(realesrgan)
    count = cached_model_count()
    assert load_model(realesrgan) is first and cached_model_count() == count
    assert next(first.model.parameters()).dtype == torch.float32  # fp16 file, float32 on CPU
    forged = replace(realesrgan, sha256="0" * 64)
    with pytest.raises(EngineError, match="differs from registered"):
        load_model(forged)


def test_model_of_the_wrong_purpose_is_refused(realesrgan) -> None:
    from restoration.engine import ParamError

    with pytest.raises(ParamError, match="needs 'colorize'"):
        get_operation("colorize").run(
            OpInputs(np.zeros((8, 8), np.uint8)),
            {"model": "x"},
            RunContext(models={"model": realesrgan}),
        )
