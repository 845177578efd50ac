"""Ingest of master scans: accepted formats, facts read, duplicates, and refusals that leave
nothing behind. Every bad file is generated here."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from archive.models import Photo
from archive.services import photo_ingest
from restoration.hashing import canonical_json
from restoration.imagefile import ImageRejected
from restoration.models import Artifact, Step
from tests.conftest import image_bytes, stored_files

pytestmark = pytest.mark.django_db


def ingest(data: bytes, name: str = "scan.jpg", **kwargs):
    return photo_ingest(stream=io.BytesIO(data), filename=name, **kwargs)


def assert_nothing_written(storage) -> None:
    assert Artifact.objects.count() == 0
    assert Step.objects.count() == 0
    assert Photo.objects.count() == 0
    leftovers = [p for p in stored_files(storage) if not p.name.startswith(".")] if storage else []
    assert leftovers == []
    assert not [p for p in stored_files(storage) if p.suffix == ".part"]


@pytest.mark.parametrize(
    ("fmt", "mode", "media_type", "bits"),
    [
        ("JPEG", "RGB", "image/jpeg", 8),
        ("JPEG", "L", "image/jpeg", 8),
        ("JPEG", "CMYK", "image/jpeg", 8),
        ("PNG", "RGBA", "image/png", 8),
        ("PNG", "P", "image/png", 8),
        ("PNG", "I;16", "image/png", 16),
        ("TIFF", "RGB", "image/tiff", 8),
        ("TIFF", "I;16", "image/tiff", 16),
        ("WEBP", "RGB", "image/webp", 8),
    ],
)
def test_accepts_formats_and_modes(isolated_storage, fmt, mode, media_type, bits):
    result = ingest(
        image_bytes(fmt, mode=mode, size=(40, 30)), name=f"scan.{fmt.lower()}", title="t"
    )
    artifact = result.artifact
    assert not result.duplicate
    assert (artifact.media_type, artifact.width, artifact.height) == (media_type, 40, 30)
    assert artifact.bit_depth == bits
    assert artifact.generated_by is None
    stored = stored_files(isolated_storage)
    assert any(p.name == artifact.sha256 for p in stored)
    key_path = (
        isolated_storage / "objects" / artifact.sha256[:2] / artifact.sha256[2:4] / artifact.sha256
    )
    assert key_path.read_bytes() == image_bytes(fmt, mode=mode, size=(40, 30))
    step = Step.objects.get(produced__artifact=artifact)
    assert step.kind == "ingest" and step.parameters["original_filename"] == f"scan.{fmt.lower()}"
    assert result.photo.master_id == artifact.pk


def test_multipage_tiff_keeps_all_pages_and_says_so(isolated_storage):
    pages = [Image.new("L", (32, 24), color=c) for c in (10, 120, 240)]
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    result = ingest(buf.getvalue(), name="negatives.tif")
    assert result.artifact.info["pages"] == 3
    assert "first page" in result.notes[0]
    assert "3 pages" in Step.objects.get().parameters["notes"][0]


def test_reads_exif_into_json_safe_data(isolated_storage):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    exif[0x010F] = "Epson"
    exif[0x0110] = "Perfection V850"
    exif[0x0131] = "EpsonScan 2"
    exif[0x0132] = "2021:05:06 07:08:09"
    exif[0x011A] = 600.0
    buf = io.BytesIO()
    Image.new("RGB", (50, 40), "white").save(buf, format="JPEG", exif=exif.tobytes())
    photo = ingest(buf.getvalue()).photo
    assert photo.exif["make"] == "Epson"
    assert photo.exif["model"] == "Perfection V850"
    assert photo.exif["software"] == "EpsonScan 2"
    assert photo.exif["date_time"] == "2021:05:06 07:08:09"
    assert photo.exif["orientation"]["value"] == 6
    assert photo.exif["x_resolution"] == 600.0
    canonical_json(photo.exif)  # must be JSON-safe


def test_records_icc_profile_presence(isolated_storage):
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), "gray").save(buf, format="PNG", icc_profile=profile)
    assert ingest(buf.getvalue(), name="icc.png").artifact.has_icc_profile


def test_duplicate_is_reported_not_stored_twice(isolated_storage):
    data = image_bytes("PNG", seed=3)
    first = ingest(data, name="a.png", title="first")
    second = ingest(data, name="b.png", title="second")
    assert second.duplicate and second.artifact.pk == first.artifact.pk
    assert second.photo.pk == first.photo.pk
    assert "already artifact" in second.notes[0]
    assert (Artifact.objects.count(), Step.objects.count(), Photo.objects.count()) == (1, 1, 1)


def test_ingest_step_record_hash_is_recomputable(isolated_storage):
    from restoration.selectors import lineage_ancestors

    result = ingest(image_bytes("PNG", seed=9), name="h.png")
    step = Step.objects.get()
    assert len(step.record_hash) == 64
    # The record rebuilt from what the database returns hashes the same.
    graph = lineage_ancestors(artifact_id=result.artifact.pk)
    assert graph.record(step.pk).record_hash() == step.record_hash


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _broken_exif_jpeg() -> bytes:
    jpeg = image_bytes("JPEG", seed=5)
    payload = b"Exif\x00\x00MM\x00*" + struct.pack(">I", 0xFFFFFF00) + b"\x00" * 20
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


@pytest.mark.parametrize(
    ("name", "make", "code", "phrase"),
    [
        ("empty.jpg", lambda: b"", "empty_file", "empty"),
        (
            "notes.jpg",
            lambda: b"Dear diary, this is not a photograph." * 20,
            "not_an_image",
            "not an image",
        ),
        (
            "cut.jpg",
            lambda: image_bytes("JPEG", size=(200, 150))[:600],
            "corrupt_image",
            "truncated",
        ),
        (
            "cut.png",
            lambda: image_bytes("PNG", size=(200, 150))[:900],
            "corrupt_image",
            "truncated",
        ),
        ("bomb.png", lambda: _png_claiming(50_000, 50_000), "decompression_bomb", "50000x50000"),
        ("exif.jpg", _broken_exif_jpeg, "broken_exif", "EXIF"),
        ("../../etc/passwd.jpg", lambda: image_bytes("JPEG"), "bad_filename", "path"),
        ("a\x00b.jpg", lambda: image_bytes("JPEG"), "bad_filename", "control"),
        ("scan.gif", lambda: image_bytes("GIF"), "unsupported_format", "GIF"),
    ],
)
def test_bad_input_is_refused_precisely_and_leaves_nothing(
    isolated_storage, name, make, code, phrase
):
    with pytest.raises(ImageRejected) as excinfo:
        ingest(make(), name=name)
    assert excinfo.value.code == code
    assert phrase in str(excinfo.value)
    assert_nothing_written(isolated_storage)


def test_file_over_the_size_limit_is_refused(isolated_storage, settings):
    settings.ARCHIVE_MAX_UPLOAD_BYTES = 10_000
    data = image_bytes("PNG", size=(200, 200))
    assert len(data) > 10_000
    with pytest.raises(ImageRejected) as excinfo:
        ingest(data, name="big.png")
    assert excinfo.value.code == "too_large"
    assert "limit" in str(excinfo.value)
    assert_nothing_written(isolated_storage)


def test_pixel_limit_is_configurable(isolated_storage, settings):
    settings.ARCHIVE_MAX_PIXELS = 1000
    with pytest.raises(ImageRejected, match="megapixels"):
        ingest(image_bytes("PNG", size=(40, 30)), name="x.png")
    assert_nothing_written(isolated_storage)


@pytest.mark.parametrize(
    "where", ["restoration.services.StepOutput.save", "archive.models.Photo.save"]
)
def test_database_failure_after_storing_removes_the_file(isolated_storage, monkeypatch, where):
    """A failure after the file was written (in the lineage rows or in the catalogue's) rolls
    the rows back and removes the file inside the same transaction."""

    def explode(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(where, explode)
    with pytest.raises(RuntimeError):
        ingest(image_bytes("PNG", seed=11), name="x.png")
    assert_nothing_written(isolated_storage)


def test_a_bad_figure_id_leaves_nothing(isolated_storage):
    with pytest.raises(ImageRejected, match="no figure"):
        ingest(image_bytes("PNG", seed=12), name="x.png", figure_ids=[999])
    assert_nothing_written(isolated_storage)


def test_reference_over_a_new_file_and_over_known_bytes(isolated_storage, user):
    """References go through the same ingest: an ``ingest`` step with purpose ``reference``;
    bytes already in the archive (here a master) are one artifact, used by the reference."""
    from archive.services import reference_create

    ref = reference_create(
        user=user, stream=io.BytesIO(image_bytes("PNG", seed=21)), filename="r.png", title="r"
    )
    step = Step.objects.get(produced__artifact=ref.artifact)
    assert step.kind == "ingest" and step.parameters["purpose"] == "reference"
    assert step.parameters["original_filename"] == "r.png" and step.parameters["format"] == "PNG"
    master = ingest(image_bytes("PNG", seed=22), name="m.png").artifact
    again = reference_create(
        user=user, stream=io.BytesIO(image_bytes("PNG", seed=22)), filename="m2.png"
    )
    assert again.artifact == master
    assert Step.objects.filter(kind="ingest").count() == 2


def test_a_failing_reference_leaves_nothing(isolated_storage, user):
    from django.core.exceptions import ValidationError

    from archive.services import reference_create

    with pytest.raises(ValidationError):
        reference_create(
            user=user,
            stream=io.BytesIO(image_bytes("PNG", seed=23)),
            filename="r.png",
            kind="no-such-kind",
        )
    assert_nothing_written(isolated_storage)


def test_a_racing_ingest_of_the_same_bytes_is_a_duplicate(isolated_storage, monkeypatch):
    """The loser of the race passed the early duplicate check before the winner committed;
    the unique sha256 stops it at the insert: duplicate, no second step, photo or file write."""
    import restoration.services as services

    data = image_bytes("PNG", seed=24)
    first = ingest(data, name="a.png")
    real = services._existing_artifact
    calls: list[str] = []

    def not_yet(sha256: str):
        calls.append(sha256)
        return None if len(calls) <= 2 else real(sha256)  # both early looks miss the winner

    monkeypatch.setattr(services, "_existing_artifact", not_yet)
    second = ingest(data, name="b.png")
    assert second.duplicate and second.artifact == first.artifact
    assert second.photo == first.photo
    assert (Artifact.objects.count(), Step.objects.count(), Photo.objects.count()) == (1, 1, 1)


def test_unknown_metadata_field_is_refused(isolated_storage):
    with pytest.raises(ImageRejected, match="unknown photo field"):
        ingest(image_bytes("PNG"), name="x.png", metadata={"colour": "blue"})
    assert_nothing_written(isolated_storage)


def test_metadata_is_catalogued(isolated_storage):
    photo = ingest(
        image_bytes("JPEG", seed=2),
        name="plate.jpg",
        title="Studio portrait",
        metadata={
            "date": "1925~",
            "carrier": "glass_plate",
            "accession_number": "GP-1925-004",
            "repository": "Municipal Archive",
            "photographer": "Studio Lumière",
            "place": "Lyon",
            "rights_statement": "http://rightsstatements.org/vocab/NoC-US/1.0/",
        },
    ).photo
    photo.refresh_from_db()
    assert photo.carrier == "glass_plate"
    assert str(photo.date_earliest) == "1925-01-01" and str(photo.date_latest) == "1925-12-31"


def test_real_corpus_scans_ingest(isolated_storage, corpus):
    for path in sorted(corpus.glob("*.png")):
        result = photo_ingest(stream=path.open("rb"), filename=path.name)
        with Image.open(path) as img:
            assert (result.artifact.width, result.artifact.height) == img.size
    assert Photo.objects.count() == len(list(corpus.glob("*.png")))
    # Display previews exist but are not lineage.
    previews = [p for p in stored_files(isolated_storage) if "previews" in p.parts]
    assert len(previews) == Photo.objects.count()
    assert np.all([a.generated_by_id is None for a in Artifact.objects.all()])
