"""Manual steps recording an animation made in another tool (issue 12): MP4, animated GIF,
WebP and PNG; a synthetic step; bad files refused with a 4xx and nothing stored."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from archive.models import Citation, Source
from restoration.imagefile import ImageRejected
from restoration.manual import ManualStepRejected
from restoration.manual_animation import is_animation_upload, step_record_manual_animation
from restoration.models import Artifact, Step
from tests.conftest import stored_files
from tests.restoration.lineage_support import master

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def frames(n: int = 5, size: tuple[int, int] = (48, 32)) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return [np.roll(base, 2 * k, axis=1) for k in range(n)]


def animated(fmt: str, n: int = 5, duration: int = 80) -> bytes:
    images = [Image.fromarray(f) for f in frames(n)]
    buf = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {}
    images[0].save(
        buf, format=fmt, save_all=True, append_images=images[1:], duration=duration, loop=0, **extra
    )
    return buf.getvalue()


def mp4(tmp_path: Path) -> bytes:
    from restoration.engine.video import write_video

    path = tmp_path / "clip.mp4"
    write_video(path, frames(6), fps=Fraction(12), codec="h264")
    return path.read_bytes()


def record(user, source, data: bytes, filename: str, **kw):
    return step_record_manual_animation(
        input_artifact_id=source.pk,
        image=io.BytesIO(data),
        rationale=kw.pop("rationale", "made with a commercial app; the family asked for it"),
        user=user,
        filename=filename,
        **kw,
    )


def test_an_mp4_made_elsewhere_is_a_synthetic_step_with_its_justification(user, tmp_path):
    scan = master(1, size=(48, 32))
    citation = Citation.objects.create(source=Source.objects.create(title="Letter"), locator="p. 2")
    step = record(user, scan, mp4(tmp_path), "smile.mp4", citation_ids=[citation.pk], tool="App 3")
    assert step.kind == Step.Kind.SYNTHETIC and step.operation == "manual_animation"
    assert step.rationale.startswith("made with") and list(step.citations.all()) == [citation]
    assert step.parameters["tool"] == "App 3" and step.user == user
    out = Artifact.objects.get(generated_by=step)
    assert out.media_type == "video/mp4" and out.frame_count == 6
    assert step.inputs.get().artifact == scan


@pytest.mark.parametrize("fmt,name", [("GIF", "a.gif"), ("WEBP", "a.webp"), ("PNG", "a.png")])
def test_an_animated_image_is_kept_as_a_lossless_ffv1_clip(user, fmt, name):
    scan = master(1, size=(48, 32))
    data = animated(fmt)
    assert is_animation_upload(io.BytesIO(data), name)
    step = record(user, scan, data, name)
    out = Artifact.objects.get(generated_by=step)
    assert out.media_type == "video/x-matroska" and out.frame_count == 5
    assert Fraction(out.fps) == Fraction(1000, 80)
    assert step.parameters["original_format"] == fmt
    assert step.parameters["original_frame_durations_ms"] == [80] * 5
    if fmt != "GIF":  # GIF's palette is lossy; WebP (lossless) and APNG keep every pixel
        from restoration.engine.video import read_frames
        from restoration.services import artifact_local_path

        with artifact_local_path(out) as path:
            back = list(read_frames(path))
        assert all(np.array_equal(a, b) for a, b in zip(back, frames(5), strict=True))


def test_a_single_frame_png_is_not_an_animation(user):
    buf = io.BytesIO()
    Image.fromarray(frames(1)[0]).save(buf, format="PNG")
    assert not is_animation_upload(io.BytesIO(buf.getvalue()), "still.png")


@pytest.mark.parametrize(
    "data,name,code",
    [
        (animated("GIF")[:-60], "cut.gif", "corrupt_image"),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(2000), "fake.mp4", None),
        (b"GIF89a" + bytes(300), "fake.gif", None),
    ],
)
def test_truncated_or_fake_files_are_refused_and_nothing_is_stored(
    user, data, name, code, isolated_storage
):
    scan = master(1, size=(48, 32))
    before = (
        Artifact.objects.count(),
        Step.objects.count(),
        len(stored_files(isolated_storage / "objects")),
    )
    with pytest.raises((ImageRejected, ManualStepRejected)) as caught:
        if not name.endswith(".mp4") and not is_animation_upload(io.BytesIO(data), name):
            raise ImageRejected("not an animation", code="not_animated")
        record(user, scan, data, name)
    if code:
        assert caught.value.code == code
    after = (
        Artifact.objects.count(),
        Step.objects.count(),
        len(stored_files(isolated_storage / "objects")),
    )
    assert after == before


def test_too_many_frames_or_pixels_are_refused(user, settings):
    scan = master(1, size=(48, 32))
    settings.ARCHIVE_MAX_VIDEO_FRAMES = 3
    with pytest.raises(ImageRejected) as caught:
        record(user, scan, animated("GIF"), "long.gif")
    assert caught.value.code == "too_many_frames"
    settings.ARCHIVE_MAX_VIDEO_FRAMES = 1000
    settings.ARCHIVE_MAX_PIXELS = 1000
    with pytest.raises(ImageRejected) as caught:
        record(user, scan, animated("GIF"), "big.gif")
    assert caught.value.code == "too_many_pixels"
    assert not Step.objects.filter(operation="manual_animation").exists()


def test_rationale_and_a_still_input_are_required(user, tmp_path):
    scan = master(1, size=(48, 32))
    with pytest.raises(ManualStepRejected, match="rationale"):
        record(user, scan, animated("GIF"), "a.gif", rationale="  ")


def test_the_api_records_an_animated_gif_as_synthetic_and_refuses_a_truncated_one(user):
    from django.contrib.auth.models import Group
    from rest_framework.test import APIClient

    from archive.roles import roles_ensure

    roles_ensure(
        Group, __import__("django.contrib.auth.models", fromlist=["Permission"]).Permission
    )
    user.groups.add(Group.objects.get(name="restorer"))
    client = APIClient()
    client.force_authenticate(user)
    scan = master(1, size=(48, 32))
    ok = client.post(
        "/api/v1/steps/manual/",
        {
            "input": scan.pk,
            "image": SimpleUploadedFile("blink.gif", animated("GIF"), "image/gif"),
            "rationale": "a blink made by hand, frame by frame",
        },
        format="multipart",
    )
    assert ok.status_code == 201, ok.content
    assert ok.json()["kind"] == "synthetic"
    bad = client.post(
        "/api/v1/steps/manual/",
        {
            "input": scan.pk,
            "image": SimpleUploadedFile("cut.gif", animated("GIF")[:-60], "image/gif"),
            "rationale": "truncated",
        },
        format="multipart",
    )
    assert bad.status_code == 400, bad.content
    assert Step.objects.filter(operation="manual_animation").count() == 1
