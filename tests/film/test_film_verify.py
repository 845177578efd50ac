"""``POST /api/v1/artifacts/{id}/verify/`` on a film whose stored file was altered: beside
``file_changed``, a ``frames_changed`` problem names the frames that no longer match the
per-frame manifest recorded at ingest (or says that the file no longer decodes)."""

from __future__ import annotations

import os
from fractions import Fraction

import pytest
from django.core.files.storage import default_storage

from restoration.engine.video import VideoWriter
from restoration.models import Artifact
from tests.api.conftest import client_for, make_user
from tests.film import support

pytestmark = pytest.mark.django_db

N = 8


@pytest.fixture
def master(django_user_model, tmp_path):
    path = support.write(tmp_path / "r.mkv", N, seed=7)
    with open(path, "rb") as fh:
        response = client_for(make_user(django_user_model, "cataloguer")).post(
            "/api/v1/films/", {"video": fh}, format="multipart"
        )
    assert response.status_code == 201, response.content
    return Artifact.objects.get(pk=response.json()["master_artifact"])


@pytest.fixture
def auditor(django_user_model):
    return client_for(make_user(django_user_model, "auditor"))


def _stored(master: Artifact) -> str:
    stored = default_storage.path(master.storage_key)
    os.chmod(stored, 0o644)  # masters are stored read-only; the test plays the vandal
    return stored


def _verify(client, master: Artifact) -> dict:
    response = client.post(f"/api/v1/artifacts/{master.pk}/verify/")
    assert response.status_code == 200, response.content
    return response.json()


def test_verify_names_the_changed_frames_of_an_altered_film(master, auditor):
    clean = _verify(auditor, master)
    assert clean["ok"] and clean["problems"] == []
    # Someone rewrites the stored file (same size and rate) with frames 2 and 6 altered.
    frames = support.frames(N, seed=7)
    for i in (2, 6):
        frames[i] = frames[i].copy()
        frames[i][10, 20] = (1, 2, 3)
    with VideoWriter(_stored(master), width=64, height=48, fps=Fraction(24)) as writer:
        for frame in frames:
            writer.write(frame)
    report = _verify(auditor, master)
    assert not report["ok"]
    kinds = {p["kind"]: p for p in report["problems"]}
    assert set(kinds) == {"file_changed", "frames_changed"}
    assert kinds["file_changed"]["artifact"] == master.pk
    changed = kinds["frames_changed"]
    assert changed["artifact"] == master.pk and changed["frames"] == [2, 6]
    assert changed["changed_count"] == 2 and changed["expected"] == changed["actual"] == N
    assert "frame(s) 2, 6" in changed["message"]
    # The recorded run reads back the same problems.
    last = auditor.get(f"/api/v1/artifacts/{master.pk}/verify/").json()["last_audit"]
    assert last["problems"] == report["problems"]


def test_verify_names_the_frames_a_cut_film_lost(master, auditor):
    stored = _stored(master)
    with open(stored, "r+b") as fh:
        fh.truncate(os.path.getsize(stored) // 3)
    kinds = {p["kind"]: p for p in _verify(auditor, master)["problems"]}
    assert set(kinds) == {"file_changed", "frames_changed"}
    frames = kinds["frames_changed"]
    # What is left decodes to its first frames: the lost ones are named as changed.
    kept = frames["actual"]
    assert 0 <= kept < N and frames["expected"] == N
    assert frames["frames"] == list(range(kept, N)) and frames["changed_count"] == N - kept
    assert f"{N - kept} of {N} frames differ" in frames["message"]
