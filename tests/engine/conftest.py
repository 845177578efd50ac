"""Engine tests: plain pytest, no database, no Django. Small crops keep the suite fast on 2 cores."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restoration.engine import ModelRef, inspect_weights

SHARED = Path(__file__).resolve().parents[3] / "shared"
CORPUS = SHARED / "corpus"
MODELS = SHARED / "models"
MTCNN_DIR = MODELS / "mtcnn"
REALESRGAN = MODELS / "realesrgan-x4plus.fp16.safetensors"
DATA = Path(__file__).resolve().parent / "data"

# The machine has 2 cores shared with others; more threads only add contention.
torch.set_num_threads(2)


def load_rgb(name: str) -> np.ndarray:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus image {path} is absent")
    return np.asarray(Image.open(path).convert("RGB"))


def annotations() -> dict:
    return json.loads((DATA / "scratch_annotations.json").read_text())


def model_ref(path: Path, name: str | None = None) -> ModelRef:
    info = inspect_weights(path)
    return ModelRef(
        name=name or path.stem,
        path=path,
        sha256=info.sha256,
        architecture=info.architecture,
        purpose=info.purpose,
        scale=info.scale,
    )


@pytest.fixture(scope="session")
def mtcnn_dir() -> Path:
    if not all((MTCNN_DIR / f).is_file() for f in ("pnet.pt", "rnet.pt", "onet.pt")):
        pytest.skip(f"MTCNN weights are absent from {MTCNN_DIR}")
    return MTCNN_DIR


@pytest.fixture(scope="session")
def realesrgan() -> ModelRef:
    if not REALESRGAN.is_file():
        pytest.skip(f"Real-ESRGAN weights are absent from {REALESRGAN}")
    return model_ref(REALESRGAN, "realesrgan-x4plus")


def _needs_extra_arches() -> None:
    pytest.importorskip(
        "spandrel_extra_arches",
        reason="spandrel-extra-arches (CodeFormer, DDColor) is not installed",
    )


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ModelRef]:
    """Build a randomly initialised network of a real architecture, save its state dict and
    register it through inspect_weights, so detection and key layout are exercised honestly.
    Outputs of these networks are noise: tests check plumbing, never quality."""
    from restoration.engine.models import spandrel_module

    spandrel_module()
    folder = tmp_path_factory.mktemp("random-weights")
    built: dict[str, ModelRef] = {}

    def build(kind: str) -> ModelRef:
        if kind in built:
            return built[kind]
        torch.manual_seed(1234)
        if kind == "gfpgan":
            from spandrel.architectures.GFPGAN import GFPGAN

            net = GFPGAN(
                out_size=512,
                num_style_feat=512,
                channel_multiplier=2,
                decoder_load_path=None,
                fix_decoder=False,
                num_mlp=8,
                input_is_latent=True,
                different_w=True,
                narrow=1,
                sft_half=True,
            )
        elif kind == "codeformer":
            _needs_extra_arches()
            from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

            net = CodeFormer()
        elif kind == "ddcolor":
            _needs_extra_arches()
            from spandrel_extra_arches.architectures.DDColor import DDColor

            net = DDColor(
                encoder_name="convnext-t",
                decoder_name="MultiScaleColorDecoder",
                num_input_channels=3,
                input_size=(256, 256),
                nf=512,
                num_output_channels=2,
                last_norm="Spectral",
                do_normalize=False,
                num_queries=100,
                num_scales=3,
                dec_layers=9,
            )
        elif kind == "compact":
            from spandrel.architectures.Compact import Compact

            net = Compact(num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=4, upscale=2)
        else:
            raise ValueError(kind)
        path = folder / f"random-{kind}.pth"
        torch.save({k: v.contiguous() for k, v in net.state_dict().items()}, path)
        built[kind] = model_ref(path, f"random-{kind}")
        return built[kind]

    return build
