from __future__ import annotations

import io
import shutil

import pytest
from django.core.management import call_command

from restoration.models import ModelWeights
from restoration.registry import ModelNotUsable, engine_env, model_resolve, models_scan
from tests.conftest import MODELS

pytestmark = pytest.mark.django_db
ESRGAN = MODELS / "realesrgan-x4plus.fp16.safetensors"
ESRGAN_SHA = "d2fb588529ccabe540d912541579a9110f3dcc8b77bf4121305a36d523bfdd28"


@pytest.fixture
def models_dir(tmp_path, settings):
    if not ESRGAN.is_file():
        pytest.skip(f"Real-ESRGAN weights not found at {ESRGAN}")
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(ESRGAN, folder / ESRGAN.name)
    (folder / "notes.pth").write_bytes(b"this is not a checkpoint")
    settings.MODELS_DIR = folder
    return folder


def test_scan_registers_real_esrgan_with_its_facts_and_reports_junk(models_dir):
    out = io.StringIO()
    call_command("models", "scan", stdout=out)
    text = out.getvalue()
    assert "registered" in text and "unrecognised" in text and "notes.pth" in text
    weights = ModelWeights.objects.get()
    assert weights.sha256 == ESRGAN_SHA
    assert (weights.architecture, weights.purpose, weights.scale) == ("ESRGAN", "sr", 4)
    assert weights.license == "permissive"
    assert weights.name == "realesrgan-x4plus.fp16"
    # Scanning again registers nothing new.
    assert [o.status for o in models_scan() if o.weights] == ["known"]
    listing = io.StringIO()
    call_command("models", "list", stdout=listing)
    assert "usable" in listing.getvalue() and ESRGAN_SHA[:16] in listing.getvalue()
    env = engine_env()
    assert [m.sha256 for m in env.models] == [ESRGAN_SHA]


def test_missing_file_makes_the_model_unusable_with_the_reason(models_dir):
    models_scan()
    (models_dir / ESRGAN.name).unlink()
    outcomes = models_scan()
    assert [o.status for o in outcomes if o.weights] == ["missing"]
    with pytest.raises(ModelNotUsable, match="missing"):
        model_resolve("realesrgan-x4plus.fp16", purpose="sr")
    assert engine_env().models == []


def test_resolve_by_name_or_id_and_purpose(models_dir, settings):
    models_scan()
    weights = ModelWeights.objects.get()
    assert model_resolve(weights.pk, purpose="sr") == weights
    assert model_resolve(str(weights.pk), purpose="sr") == weights
    with pytest.raises(ModelNotUsable, match="needs a face_restore model"):
        model_resolve(weights.name, purpose="face_restore")
    with pytest.raises(ModelNotUsable, match="no registered model"):
        model_resolve("gfpgan-v1.4", purpose="face_restore")
    ModelWeights.objects.filter(pk=weights.pk).update(license="non-commercial")
    settings.ARCHIVE_ALLOW_NONCOMMERCIAL_MODELS = False
    with pytest.raises(ModelNotUsable, match="non-commercial"):
        model_resolve(weights.name, purpose="sr")
