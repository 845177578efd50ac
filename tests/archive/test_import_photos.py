from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from archive.models import Photo
from archive.services import figure_create
from restoration.models import Artifact
from tests.conftest import image_bytes, stored_files

pytestmark = pytest.mark.django_db


def run(*args, user: str | None = "importer") -> str:
    out = io.StringIO()
    extra = ["--user", user] if user else []
    try:
        call_command("import_photos", *args, *extra, stdout=out, stderr=io.StringIO())
    finally:
        run.last_output = out.getvalue()  # type: ignore[attr-defined]
    return out.getvalue()


@pytest.fixture(autouse=True)
def importer(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="importer", password="pw-import-1")
    user.groups.add(Group.objects.get(name="cataloguer"))
    return user


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
    assert "failed: no manifest row: broken.jpg: refused" in run.last_output
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


def test_bad_rows_are_reported_with_line_numbers_and_the_rest_is_imported(tmp_path, importer):
    """A manifest with a missing file, an unknown figure and a bad date finishes the other rows
    and reports the three (issue 16)."""
    box = tmp_path / "box"
    box.mkdir()
    for seed, name in enumerate(["good.png", "unknown.png", "baddate.png", "folded.png"], 30):
        (box / name).write_bytes(image_bytes("PNG", seed=seed))
    li = figure_create(name="李大钊", names=[{"name": "Li Ta-chao", "language": "en"}])
    sun = figure_create(name="孫中山", names=[{"name": "Sun Yat-sen", "language": "en"}])
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "filename,title,figures,date\n"
        "good.png,Good,li dazhao,1927\n"  # line 2: lowercase pinyin finds 李大钊
        "missing.png,Gone,,1920\n"  # line 3: no such file
        "unknown.png,Who,Nobody Atall,1921\n"  # line 4: unknown figure
        "baddate.png,When,,the twenties\n"  # line 5: bad date
        "folded.png,Both,LI DAZHAO;孙中山;sun yatsen,192X\n",  # line 6: folded names
        encoding="utf-8",
    )
    report = tmp_path / "report.csv"
    with pytest.raises(CommandError, match="3 file"):
        run(str(box), "--manifest", str(manifest), "--report", str(report))
    out = run.last_output
    assert "done: 2 bad row, 2 ingested, 1 missing" in out
    assert "failed: line 3: missing.png: missing: no such image file" in out
    assert "failed: line 4: unknown.png: bad row: no figure named 'Nobody Atall'" in out
    assert "failed: line 5: baddate.png: bad row: date: 'the twenties' is not a valid EDTF" in out
    good = Photo.objects.get(title="Good")
    assert list(good.figures.all()) == [li] and str(good.date_earliest) == "1927-01-01"
    both = Photo.objects.get(title="Both")
    assert set(both.figures.all()) == {li, sun}
    assert not Photo.objects.filter(title__in=["Who", "When", "Gone"]).exists()
    # The actor is recorded on every ingest step.
    from restoration.models import Step

    assert set(Step.objects.filter(kind="ingest").values_list("actor", flat=True)) == {"importer"}
    rows = {line.split(",")[0]: line.split(",") for line in report.read_text().splitlines()[1:]}
    assert rows["missing.png"][1] == "missing" and rows["missing.png"][-1] == "3"
    assert rows["unknown.png"][1] == "bad row" and rows["unknown.png"][-1] == "4"

    # Fix the rows and run again: the good ones are skipped, the fixed ones imported.
    manifest.write_text(
        "filename,title,figures,date\n"
        "good.png,Good,li dazhao,1927\n"
        "unknown.png,Who,Li Dazhao,1921\n"
        "baddate.png,When,,192X\n",
        encoding="utf-8",
    )
    run(str(box), "--manifest", str(manifest))
    assert Photo.objects.filter(title__in=["Who", "When"]).count() == 2


def test_ambiguous_names_and_bad_ids_are_reported_not_guessed(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    (box / "a.png").write_bytes(image_bytes("PNG", seed=50))
    (box / "b.png").write_bytes(image_bytes("PNG", seed=51))
    one = figure_create(name="张伟", names=[])
    two = figure_create(name="張偉", names=[])
    manifest = tmp_path / "m.csv"
    manifest.write_text("filename,figures\na.png,Zhang Wei\nb.png,999999\n,\n", encoding="utf-8")
    with pytest.raises(CommandError):
        run(str(box), "--manifest", str(manifest))
    out = run.last_output
    assert f"names 2 figures (ids {one.pk}, {two.pk})" in out
    assert "line 3: b.png: bad row: no figure with id 999999" in out
    assert "line 4: : bad row: empty filename" in out
    assert not Photo.objects.exists()


def test_the_actor_is_required(tmp_path, django_user_model):
    box = tmp_path / "box"
    box.mkdir()
    (box / "a.png").write_bytes(image_bytes("PNG", seed=60))
    with pytest.raises(CommandError, match="--user"):
        run(str(box), user=None)
    with pytest.raises(CommandError, match="no user 'ghost'"):
        run(str(box), user="ghost")
    django_user_model.objects.create_user(username="reader", password="pw-reader-1")
    with pytest.raises(CommandError, match="may not add photos"):
        run(str(box), user="reader")
    assert not Photo.objects.exists()
