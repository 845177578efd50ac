from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from archive.models import Photo
from archive.services import figure_create
from restoration.models import Artifact
from tests.conftest import image_bytes, stored_files

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_photos", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_imports_a_box_with_manifest_reports_each_file_and_resumes(isolated_storage, tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    (box / "a.jpg").write_bytes(image_bytes("JPEG", seed=1))
    (box / "b.png").write_bytes(image_bytes("PNG", seed=2))
    (box / "b-copy.png").write_bytes(image_bytes("PNG", seed=2))
    (box / "broken.jpg").write_bytes(b"not a jpeg at all")
    (box / "readme.txt").write_text("ignored")
    figure = figure_create(
        name="Lu Xun", names=[{"name": "鲁迅", "language": "zh-Hans", "kind": "preferred"}]
    )
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "filename,title,date,carrier,accession_number,figures\n"
        "a.jpg,Portrait in Xiamen,1926-09,print,ACC-1,鲁迅\n"
        "b.png,Group photo,192X,glass_plate,ACC-2,\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.csv"
    with pytest.raises(CommandError, match="1 file"):
        run(str(box), "--manifest", str(manifest), "--report", str(report))
    lines = report.read_text().splitlines()
    assert len(lines) == 5
    statuses = {line.split(",")[0]: line.split(",")[1] for line in lines[1:]}
    assert statuses == {
        "a.jpg": "ingested",
        "b-copy.png": "ingested",
        "b.png": "duplicate",
        "broken.jpg": "refused",
    }
    photo = Photo.objects.get(accession_number="ACC-1")
    assert photo.title == "Portrait in Xiamen" and list(photo.figures.all()) == [figure]
    assert str(photo.date_earliest) == "1926-09-01"
    assert Artifact.objects.count() == 2

    # Run again: nothing new, the journal skips without re-hashing.
    with pytest.raises(CommandError):
        second = run(str(box), "--manifest", str(manifest), "--report", str(report))
    second = report.read_text()
    assert second.count("skipped") == 3
    assert Artifact.objects.count() == 2
    assert len([p for p in stored_files(isolated_storage) if "objects" in p.parts]) == 2


def test_manifest_with_unknown_column_is_refused(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    manifest = tmp_path / "m.csv"
    manifest.write_text("filename,colour\na.jpg,blue\n")
    with pytest.raises(CommandError, match="unknown column"):
        run(str(box), "--manifest", str(manifest))
