from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from archive.models import ReferenceImage
from restoration.exports.c2pa import (
    C2paNotConfigured,
    artifact_export_c2pa,
    c2pa_read,
    signing_material_create,
)
from restoration.models import ModelWeights
from tests.restoration.lineage_support import derive, master

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The ``user`` fixture hashes a password; the default hasher costs ~0.5 s per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def signing_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("c2pa")
    signing_material_create(
        cert_chain=directory / "chain.pem",
        private_key=directory / "leaf.key",
        trust_anchors=directory / "ca.pem",
    )
    return directory


@pytest.fixture
def signing(settings, signing_dir):
    settings.C2PA_CERT_CHAIN = signing_dir / "chain.pem"
    settings.C2PA_PRIVATE_KEY = signing_dir / "leaf.key"
    settings.C2PA_TRUST_ANCHORS = signing_dir / "ca.pem"
    return signing_dir


@pytest.fixture
def lineage(user):
    scan = master(1, size=(64, 48))
    period = master(2, size=(32, 32))
    weights = ModelWeights.objects.create(
        name="ddcolor", sha256="cd" * 32, architecture="DDColor", purpose="colorize", path="/x"
    )
    reference = ReferenceImage.objects.create(artifact=period, title="Period colour photo")
    denoised = derive(scan, 3, size=(64, 48), user=user)
    colour = derive(
        denoised,
        4,
        operation="colorize",
        kind="ai",
        weights=weights,
        user=user,
        reference_ids=[reference.pk],
        size=(64, 48),
    )
    return {"scan": scan, "final": colour, "weights": weights, "reference": reference}


def _flip(data: bytes, where: float = 0.6) -> bytes:
    tampered = bytearray(data)
    tampered[int(len(data) * where)] ^= 0x01
    return bytes(tampered)


@pytest.mark.parametrize("fmt,media_type", [("jpeg", "image/jpeg"), ("png", "image/png")])
def test_export_is_trusted_and_describes_the_lineage(signing, lineage, fmt, media_type):
    data = artifact_export_c2pa(artifact_id=lineage["final"].pk, fmt=fmt)
    trusted = c2pa_read(data=data, media_type=media_type, trust_anchors=signing / "ca.pem")
    assert trusted["state"] == "Trusted"
    manifest = trusted["manifest"]
    parents = [i for i in manifest["ingredients"] if i["relationship"] == "parentOf"]
    assert len(parents) == 1 and lineage["scan"].sha256[:12] in parents[0]["title"]
    inputs = [i for i in manifest["ingredients"] if i["relationship"] == "inputTo"]
    assert [c["title"] for c in inputs] == ["Period colour photo"]  # consulted, not composited
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))[
        "data"
    ]["actions"]
    names = [a["action"] for a in actions]
    assert names[0] == "c2pa.opened"
    assert names[1:3] == ["c2pa.filtered", "c2pa.color_adjustments"]
    denoise, colorize = actions[1], actions[2]
    assert denoise["digitalSourceType"].endswith("/algorithmicallyEnhanced")
    assert colorize["digitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia")
    assert colorize["softwareAgent"] == {"name": "photo-archive colorize", "version": "1.0"}
    assert colorize["parameters"]["model"]["sha256"] == lineage["weights"].sha256
    assert colorize["parameters"]["record_hash"] == lineage["final"].generated_by.record_hash
    assert colorize["parameters"]["parameters"] == lineage["final"].generated_by.parameters
    assert len(colorize["parameters"]["ingredients"]) == 1  # linked to the reference ingredient
    if fmt == "jpeg":  # stored as PNG, so the JPEG is a re-encoding and says so
        assert names[-1] == "c2pa.transcoded"

    untrusted = c2pa_read(data=data, media_type=media_type)
    assert untrusted["state"] == "Valid"
    failures = untrusted["results"]["activeManifest"]["failure"]
    assert any(f["code"] == "signingCredential.untrusted" for f in failures)

    tampered = c2pa_read(
        data=_flip(data, 0.97 if fmt == "jpeg" else 0.6),
        media_type=media_type,
        trust_anchors=signing / "ca.pem",
    )
    assert tampered["state"] == "Invalid"


def test_export_of_a_master_has_itself_as_parent(signing, lineage):
    data = artifact_export_c2pa(artifact_id=lineage["scan"].pk, fmt="png")
    manifest = c2pa_read(data=data, media_type="image/png", trust_anchors=signing / "ca.pem")[
        "manifest"
    ]
    assert [i["relationship"] for i in manifest["ingredients"]] == ["parentOf"]


def test_without_signing_material_the_export_says_what_to_do(settings, tmp_path, lineage):
    settings.C2PA_CERT_CHAIN = tmp_path / "none.pem"
    settings.C2PA_PRIVATE_KEY = tmp_path / "none.key"
    with pytest.raises(C2paNotConfigured, match="c2pa_init"):
        artifact_export_c2pa(artifact_id=lineage["final"].pk, fmt="png")
    with pytest.raises(ValueError):
        artifact_export_c2pa(artifact_id=lineage["final"].pk, fmt="gif")


def test_c2pa_init_command(settings, tmp_path):
    settings.C2PA_CERT_CHAIN = tmp_path / "c2pa" / "chain.pem"
    settings.C2PA_PRIVATE_KEY = tmp_path / "c2pa" / "leaf.key"
    settings.C2PA_TRUST_ANCHORS = tmp_path / "c2pa" / "ca.pem"
    call_command("c2pa_init")
    assert settings.C2PA_CERT_CHAIN.read_text().count("BEGIN CERTIFICATE") == 2
    assert settings.C2PA_PRIVATE_KEY.stat().st_mode & 0o777 == 0o600
    with pytest.raises(CommandError, match="--force"):
        call_command("c2pa_init")
    call_command("c2pa_init", "--force")


def test_reference_inputs_and_references_are_ingredients_once(signing, lineage):
    period = lineage["reference"].artifact
    final = derive(
        [("image", lineage["final"]), ("reference", period)],
        9,
        operation="color_transfer",
        reference_ids=[lineage["reference"].pk],
        size=(64, 48),
    )
    data = artifact_export_c2pa(artifact_id=final.pk, fmt="png")
    read = c2pa_read(data=data, media_type="image/png", trust_anchors=signing / "ca.pem")
    assert read["state"] == "Trusted"
    titles = sorted(
        i["title"] for i in read["manifest"]["ingredients"] if i["relationship"] == "inputTo"
    )
    assert titles == ["Period colour photo", f"reference artifact {period.pk}"]
    lineage_assertion = next(
        a for a in read["manifest"]["assertions"] if a["label"] == "org.photo-archive.lineage"
    )
    assert [s["record_hash"] for s in lineage_assertion["data"]["steps"]][
        -1
    ] == final.generated_by.record_hash
