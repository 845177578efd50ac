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
from tests.engine.nets import save_random_weights

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
    folder = tmp_path_factory.mktemp("random-weights")
    built: dict[str, ModelRef] = {}

    def build(kind: str) -> ModelRef:
        if kind in built:
            return built[kind]
        if kind in ("codeformer", "ddcolor"):
            _needs_extra_arches()
        path = save_random_weights(kind, folder, seed=1234)
        built[kind] = model_ref(path, f"random-{kind}")
        return built[kind]

    return build
