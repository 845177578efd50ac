"""manage.py import_films: video files, folders and zips of numbered frames."""

from __future__ import annotations

import io
import zipfile
from fractions import Fraction

import pytest
from django.core.management import call_command

from archive.models import Film
from tests.film import support

pytestmark = pytest.mark.django_db


def archivist(django_user_model, username: str = "archivist", *, active: bool = True):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username=username, is_active=active)
    user.groups.add(Group.objects.get(name="cataloguer"))
    return user


def test_import_films_videos_folders_and_zips(tmp_path, django_user_model):
    archivist(django_user_model)
    box = tmp_path / "box"
    box.mkdir()
    support.write(box / "a.mkv", 6, fps=Fraction(18))
    (box / "b.zip").write_bytes(support.frames_zip(5, fmt="TIFF", seed=2))
    folder = box / "reel3"
    folder.mkdir()
    with zipfile.ZipFile(io.BytesIO(support.frames_zip(4, seed=4))) as zf:
        for info in zf.infolist():
            (folder / info.filename.rsplit("/", 1)[-1]).write_bytes(zf.read(info))
    (box / "broken.mp4").write_bytes(b"nope" * 100)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "import_films",
            str(box),
            "--user",
            "archivist",
            "--fps",
            "16",
            "--carrier",
            "16mm",
            stdout=out,
        )
    assert exit_info.value.code == 1  # broken.mp4 was refused
    text = out.getvalue()
    assert "refused   " in text and "broken.mp4" in text
    films = {f.title: f for f in Film.objects.select_related("master")}
    assert set(films) == {"a", "b", "reel3"}
    assert films["a"].master.fps == "18/1" and films["a"].master.frame_count == 6
    assert films["b"].master.fps == "16/1" and films["b"].master.frame_count == 5
    assert films["reel3"].master.frame_count == 4
    assert all(f.carrier == "16mm" for f in films.values())
    # Again: everything is a duplicate now (nothing stored twice).
    again = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("import_films", str(box), "--user", "archivist", "--fps", "16", stdout=again)
    lines = again.getvalue().splitlines()
    assert sum(line.startswith("duplicate ") for line in lines) == 3
    assert Film.objects.count() == 3


def test_import_films_checks_the_user_as_import_photos_does(tmp_path, django_user_model):
    """Issue 25 (drift): import_films took any user, active or not, allowed or not."""
    from django.core.management.base import CommandError

    support.write(tmp_path / "a.mkv", 4, fps=Fraction(18))
    archivist(django_user_model, "gone", active=False)
    django_user_model.objects.create_user(username="reader")
    for who, expected in (("gone", "not active"), ("reader", "may not add films")):
        with pytest.raises(CommandError, match=expected):
            call_command("import_films", str(tmp_path / "a.mkv"), "--user", who)
    assert not Film.objects.exists()
