from __future__ import annotations

import io

import numpy as np
import pytest

from archive.models import Citation, ReferenceImage, Source
from restoration.audit import artifact_verify
from restoration.imagefile import ImageRejected
from restoration.manual import ManualStepRejected, step_record_manual
from restoration.models import Artifact, Step, StepCitation
from tests.conftest import stored_files
from tests.restoration.lineage_support import array, master, png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The ``user`` fixture hashes a password; the default hasher costs ~0.5 s per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def scene():
    scan = master(1, size=(120, 80))
    source = Source.objects.create(title="Interview with X, 1987")
    citation = Citation.objects.create(
        source=source, locator="p. 12", claim="the collar was dark blue"
    )
    hidden = Citation.objects.create(source=source, locator="p. 13", restricted=True)
    reference = ReferenceImage.objects.create(artifact=master(2), title="Period photo")
    return {"scan": scan, "citation": citation, "hidden": hidden, "reference": reference}


def _retouched(region=(slice(10, 30), slice(60, 100))) -> bytes:
    pixels = array(1, size=(120, 80)).copy()
    pixels[region] = 255 - pixels[region]  # "repaint the face", leave the background
    return png_bytes(pixels)


def test_manual_step_is_recorded_with_its_change_summary(scene, user):
    step = step_record_manual(
        input_artifact_id=scene["scan"].pk,
        image=io.BytesIO(_retouched()),
        rationale="repainted the collar dark blue as the interview says",
        user=user,
        citation_ids=[scene["citation"].pk, scene["citation"].pk],
        reference_ids=[scene["reference"].pk],
        tool="GIMP 2.10",
        filename="retouch.png",
    )
    assert step.kind == "manual" and step.actor == user.username
    assert list(step.citations.all()) == [scene["citation"]]
    assert list(step.references.all()) == [scene["reference"]]
    output = Artifact.objects.get(generated_by=step)
    summary = step.change_summary
    assert summary["changed_fraction"] == pytest.approx(20 * 40 / (120 * 80), abs=0.01)
    assert summary["regions"][0] == {
        "x": 60,
        "y": 10,
        "width": 40,
        "height": 20,
        "area_fraction": pytest.approx(800 / 9600, abs=0.01),
        "mean_abs_diff": pytest.approx(summary["regions"][0]["mean_abs_diff"]),
    }
    assert 0 < summary["ssim"] < 1 and summary["psnr_db"] > 0
    assert artifact_verify(artifact_id=output.pk)["ok"] is True


@pytest.mark.parametrize(
    "change, code",
    [
        ({"rationale": "  "}, "no_rationale"),
        ({"citation_ids": [999999]}, "unknown_citation"),
        ({"reference_ids": [999999]}, "unknown_reference_image"),
        ({"input_artifact_id": 999999}, "unknown_artifact"),
        ({"citation_ids": ["x"]}, "invalid_field"),
    ],
)
def test_bad_requests_store_nothing(scene, user, isolated_storage, change, code):
    before = stored_files(isolated_storage)
    kwargs = dict(
        input_artifact_id=scene["scan"].pk,
        image=io.BytesIO(_retouched()),
        rationale="why",
        user=user,
    )
    kwargs.update(change)
    with pytest.raises(ManualStepRejected) as err:
        step_record_manual(**kwargs)
    assert err.value.code == code
    assert stored_files(isolated_storage) == before
    assert not Step.objects.filter(kind="manual").exists()


def test_restricted_citation_is_unknown_to_a_user_without_the_permission(scene, user):
    with pytest.raises(ManualStepRejected, match=f"no citation with id {scene['hidden'].pk}"):
        step_record_manual(
            input_artifact_id=scene["scan"].pk,
            image=io.BytesIO(_retouched()),
            rationale="why",
            user=user,
            citation_ids=[scene["hidden"].pk],
        )


def test_unchanged_or_broken_upload_leaves_no_file_and_no_row(scene, user, isolated_storage):
    before = stored_files(isolated_storage)
    from restoration.storage import open_object

    with open_object(scene["scan"].sha256) as fh:
        same = fh.read()
    with pytest.raises(ManualStepRejected, match="nothing was retouched"):
        step_record_manual(
            input_artifact_id=scene["scan"].pk, image=io.BytesIO(same), rationale="why", user=user
        )
    with pytest.raises(ImageRejected):
        step_record_manual(
            input_artifact_id=scene["scan"].pk,
            image=io.BytesIO(b"not an image"),
            rationale="why",
            user=user,
        )
    assert stored_files(isolated_storage) == before


def test_failure_while_recording_removes_the_new_file(scene, user, isolated_storage, monkeypatch):
    before = stored_files(isolated_storage)

    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    # The output link is written after the file was stored: the failure must remove it again.
    monkeypatch.setattr("restoration.services.StepOutput.save", boom)
    artifacts = Artifact.objects.count()
    with pytest.raises(RuntimeError):
        step_record_manual(
            input_artifact_id=scene["scan"].pk,
            image=io.BytesIO(_retouched()),
            rationale="why",
            user=user,
        )
    assert stored_files(isolated_storage) == before
    assert not StepCitation.objects.exists()
    assert Artifact.objects.count() == artifacts


def test_grey_input_colour_output(user):
    grey = np.random.default_rng(5).integers(0, 255, size=(40, 60), dtype=np.uint8)
    import datetime as dt

    from restoration.services import output_from_array, step_record

    out = output_from_array(grey)
    t = dt.datetime.now(dt.UTC)
    step_record(
        kind="ingest",
        operation="ingest",
        operation_version="1",
        parameters={},
        inputs=[],
        outputs=[out],
        started_at=t,
        ended_at=t,
    )
    scan = Artifact.objects.get(sha256=out.sha256)
    colour = np.repeat(grey[:, :, None], 3, axis=2)
    colour[..., 0] = 255
    step = step_record_manual(
        input_artifact_id=scan.pk, image=io.BytesIO(png_bytes(colour)), rationale="tint", user=user
    )
    assert step.change_summary["changed_fraction"] > 0.5
