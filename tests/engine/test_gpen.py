"""GPEN-BFR (issue 12): the published key layout, detection by `models scan`, use by face_restore.

Networks here are randomly initialised with the real layout: their output is noise and is never
judged as a restoration. The expected layout below is written out from the published
`face_model/gpen_model.py` (`FullGenerator`) independently of restoration/engine/gpen.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from restoration.engine import EngineError, OpInputs, RunContext, get_operation, inspect_weights
from restoration.engine.gpen import GPEN, gpen_config, gpen_from_state_dict, load_gpen
from restoration.engine.models import clear_model_cache, load_model
from tests.engine.conftest import MTCNN_DIR, load_rgb, model_ref


def published_layout(size: int, multiplier: int, narrow: float) -> dict[str, tuple[int, ...]]:
    """Every key of the published FullGenerator's state dict, with its shape."""
    ch = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * multiplier, 128: 128 * multiplier}
    ch |= {256: 64 * multiplier, 512: 32 * multiplier, 1024: 16 * multiplier}
    ch = {r: int(c * narrow) for r, c in ch.items()}
    keys: dict[str, tuple[int, ...]] = {}

    def modconv(prefix: str, cin: int, cout: int, k: int, up: bool) -> None:
        keys[f"{prefix}.weight"] = (1, cout, cin, k, k)
        keys[f"{prefix}.modulation.weight"] = (cin, 512)
        keys[f"{prefix}.modulation.bias"] = (cin,)
        if up:
            keys[f"{prefix}.blur.kernel"] = (4, 4)

    def styled(prefix: str, cin: int, cout: int, up: bool) -> None:
        modconv(f"{prefix}.conv", cin, cout, 3, up)
        keys[f"{prefix}.noise.weight"] = (1,)
        keys[f"{prefix}.activate.bias"] = (2 * cout,)

    def to_rgb(prefix: str, cin: int, up: bool) -> None:
        if up:
            keys[f"{prefix}.upsample.kernel"] = (4, 4)
        modconv(f"{prefix}.conv", cin, 3, 1, False)
        keys[f"{prefix}.bias"] = (1, 3, 1, 1)

    for i in range(1, 9):  # style.0 is PixelNorm: no parameters
        keys[f"generator.style.{i}.weight"] = (512, 512)
        keys[f"generator.style.{i}.bias"] = (512,)
    keys["generator.input.input"] = (1, ch[4], 4, 4)
    styled("generator.conv1", ch[4], ch[4], False)
    to_rgb("generator.to_rgb1", 2 * ch[4], False)
    log = int(math.log2(size))
    cin = ch[4]
    for n, i in enumerate(range(3, log + 1)):
        cout = ch[2**i]
        styled(f"generator.convs.{2 * n}", 2 * cin, cout, True)
        styled(f"generator.convs.{2 * n + 1}", 2 * cout, cout, False)
        to_rgb(f"generator.to_rgbs.{n}", 2 * cout, True)
        cin = cout
    keys["ecd0.0.0.weight"] = (ch[size], 3, 1, 1)
    keys["ecd0.0.1.bias"] = (ch[size],)
    cin = ch[size]
    for n, i in enumerate(range(log, 2, -1), start=1):
        cout = ch[2 ** (i - 1)]
        keys[f"ecd{n}.0.0.kernel"] = (4, 4)
        keys[f"ecd{n}.0.1.weight"] = (cout, cin, 3, 3)
        keys[f"ecd{n}.0.2.bias"] = (cout,)
        cin = cout
    keys["final_linear.0.weight"] = (512, ch[4] * 16)
    keys["final_linear.0.bias"] = (512,)
    return keys


@pytest.fixture(scope="module")
def gpen256(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(12)
    path = tmp_path_factory.mktemp("gpen") / "GPEN-BFR-256.pth"
    torch.save(GPEN(256, 1, 0.5).state_dict(), path)
    return path


@pytest.mark.parametrize("size,multiplier,narrow", [(512, 2, 1.0), (256, 1, 0.5)])
def test_state_dict_matches_the_published_layout_key_for_key(
    size: int, multiplier: int, narrow: float
) -> None:
    with torch.device("meta"):  # shapes only: no 284 MB of random numbers
        net = GPEN(size, multiplier, narrow)
    ours = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    expected = published_layout(size, multiplier, narrow)
    assert sorted(set(expected) - set(ours)) == []
    assert sorted(set(ours) - set(expected)) == []
    assert ours == expected
    if size == 512:
        # GPEN-BFR-512.pth is a ~284 MB float32 file: 71.0 M parameters
        assert sum(v.numel() for v in net.parameters()) == 71_005_223
    assert gpen_config(net.state_dict()) == {
        "size": size,
        "channel_multiplier": multiplier,
        "narrow": narrow,
    }


def test_a_wrong_shape_or_a_missing_key_is_refused(gpen256: Path) -> None:
    state = torch.load(gpen256, weights_only=True)
    broken = dict(state)
    broken["generator.to_rgb1.bias"] = torch.zeros(1, 4, 1, 1)
    with pytest.raises(RuntimeError, match="size mismatch"):
        gpen_from_state_dict(broken)
    missing = dict(state)
    del missing["ecd3.0.2.bias"]
    with pytest.raises(RuntimeError, match="Missing key"):
        gpen_from_state_dict(missing)


def test_models_scan_registers_gpen_as_non_commercial_face_restoration(gpen256: Path) -> None:
    info = inspect_weights(gpen256)
    assert info.architecture == "GPEN"
    assert info.purpose == "face_restore"
    assert info.license == "non-commercial"
    assert info.scale == 1 and info.input_channels == 3 and "256px" in info.tags
    assert load_gpen(gpen256) is not None


def test_other_weights_are_not_mistaken_for_gpen(tmp_path: Path) -> None:
    other = tmp_path / "plain.pth"
    torch.save({"conv.weight": torch.zeros(3, 3, 1, 1)}, other)
    assert load_gpen(other) is None
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    assert load_gpen(junk) is None
    with pytest.raises(EngineError):
        inspect_weights(tmp_path / "absent.pth")


def test_forward_is_deterministic_and_keeps_size(gpen256: Path) -> None:
    ref = model_ref(gpen256, "gpen-256")
    clear_model_cache()
    descriptor = load_model(ref)
    x = torch.rand(1, 3, 300, 300)
    y1, y2 = descriptor(x), descriptor(x)
    assert y1.shape == x.shape and torch.equal(y1, y2)
    assert float(y1.min()) >= 0.0 and float(y1.max()) <= 1.0


@pytest.mark.skipif(not (MTCNN_DIR / "onet.pt").is_file(), reason="MTCNN weights absent")
def test_face_restore_runs_gpen_like_the_other_face_models(gpen256: Path) -> None:
    image = load_rgb("old_w_scratch_b.png")
    ref = model_ref(gpen256, "gpen-256")
    ctx = RunContext(models={"model": ref}, mtcnn_dir=MTCNN_DIR)
    result = get_operation("face_restore").run(OpInputs(image), {"model": "gpen-256"}, ctx)
    assert result.record["model"]["architecture"] == "GPEN"
    assert result.record["model"]["sha256"] == ref.sha256
    assert result.record["facts"]["faces"] >= 1
    assert result.image.shape == image.shape
    # only the face region is pasted back: the corners are untouched
    assert np.array_equal(result.image[:8, :8], image[:8, :8])
    with pytest.raises(Exception, match="fidelity"):
        get_operation("face_restore").run(
            OpInputs(image), {"model": "gpen-256", "fidelity": 0.5}, ctx
        )
