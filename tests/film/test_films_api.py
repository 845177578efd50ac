"""Films in the catalogue: ingest (video files and frame sequences), refusals, the API."""

from __future__ import annotations

import io
from fractions import Fraction

import pytest

from archive.models import Film
from restoration.models import Artifact, Step
from restoration.services import video_manifest
from tests.api.conftest import client_for, make_user
from tests.conftest import stored_files
from tests.film import support

pytestmark = pytest.mark.django_db


@pytest.fixture
def cataloguer(django_user_model):
    return make_user(django_user_model, "cataloguer")


def _post(client, data):
    return client.post("/api/v1/films/", data, format="multipart")


def test_post_film_returns_id_title_master(tmp_path, cataloguer, isolated_storage):
    path = support.write(tmp_path / "reel.mp4", 12, codec="h264", fps=Fraction(16), audio=True)
    client = client_for(cataloguer)
    with open(path, "rb") as fh:
        response = _post(
            client,
            {
                "video": fh,
                "title": "Street in Beijing",
                "date": "1920~",
                "carrier": "35mm_nitrate",
                "original_fps": "16",
            },
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Street in Beijing" and body["id"]
    assert body["original_fps"] == "16/1" and body["carrier"] == "35mm_nitrate"
    master = Artifact.objects.get(pk=body["master_artifact"])
    assert master.media_type == "video/mp4"
    assert master.frame_count == 12 and master.fps == "16/1"
    assert abs(master.duration - 0.75) < 1e-6
    assert body["master"]["frame_count"] == 12 and body["master"]["fps"] == "16/1"
    assert master.info["audio"][0]["codec"] == "aac"
    # The ingest step records what was probed, manifest included (so its hash covers it).
    step = Step.objects.get(produced__artifact=master)
    assert step.kind == "ingest" and step.parameters["manifest_sha256"]
    assert step.parameters["frame_count"] == 12
    assert len(video_manifest(master)) == 12
    # Poster (as the preview) and proxy are stored beside the object.
    tops = {p.relative_to(isolated_storage).parts[0] for p in stored_files(isolated_storage)}
    assert {"previews", "proxies", "objects"} <= tops
    artifact = client.get(f"/api/v1/artifacts/{master.pk}/").json()
    assert artifact["frame_count"] == 12 and artifact["fps"] == "16/1"
    # The same bytes again: 409 with the existing ids, nothing new stored.
    before = stored_files(isolated_storage)
    with open(path, "rb") as fh:
        again = _post(client, {"video": fh})
    assert again.status_code == 409
    assert again.json()["film"] == body["id"]
    assert stored_files(isolated_storage) == before


def test_frames_zip_becomes_a_lossless_master(cataloguer):
    client = client_for(cataloguer)
    data = support.frames_zip(11)
    response = _post(
        client,
        {"frames": io.BytesIO(data), "fps": "18", "title": "Opera", "carrier": "16mm"},
    )
    assert response.status_code == 201, response.content
    master = Artifact.objects.get(pk=response.json()["master_artifact"])
    assert master.media_type == "video/x-matroska" and master.frame_count == 11
    assert master.fps == "18/1"
    from restoration.engine.video import frame_md5

    # Frame order is numeric (frame_2 before frame_10) and the frames are kept bit for bit.
    assert video_manifest(master) == [frame_md5(f) for f in support.frames(11)]
    step = Step.objects.get(produced__artifact=master)
    assert step.parameters["source"] == "image sequence"
    assert step.parameters["first_frame"] == "frame_1.png"
    assert step.parameters["last_frame"] == "frame_11.png"


@pytest.mark.parametrize(
    ("what", "field"),
    [
        ("fake", "video"),
        ("truncated", "video"),
        ("audio_only", "video"),
        ("image", "video"),
        ("bad_date", "non_field_errors"),
        ("bad_fps", "non_field_errors"),
        ("zip_no_fps", "fps"),
        ("nothing", "video"),
        ("zip_mixed_sizes", "frames"),
    ],
)
def test_bad_input_is_a_clear_400_and_nothing_is_stored(
    tmp_path, cataloguer, isolated_storage, what, field
):
    client = client_for(cataloguer)
    data: dict = {"title": "x"}
    if what in {"fake", "truncated", "audio_only", "image", "bad_date", "bad_fps"}:
        good = support.write(tmp_path / "g.mp4", 24, codec="h264")
        raw = good.read_bytes()
        name = "reel.mp4"
        if what == "fake":
            raw = b"not a film at all" * 50
        elif what == "truncated":
            raw = raw[: len(raw) // 2]
        elif what == "audio_only":
            raw = support.tone(tmp_path / "t.mka", seconds=0.3).read_bytes()
            name = "sound.mkv"
        elif what == "image":
            from tests.conftest import image_bytes

            raw, name = image_bytes("PNG"), "frame.mp4"
        elif what == "bad_date":
            data["date"] = "sometime"
        elif what == "bad_fps":
            data["original_fps"] = "-3"
        f = io.BytesIO(raw)
        f.name = name
        data["video"] = f
    elif what == "zip_no_fps":
        data["frames"] = io.BytesIO(support.frames_zip(3))
    elif what == "zip_mixed_sizes":
        import zipfile

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("f1.png", support.frames_zip and _png((64, 48)))
            zf.writestr("f2.png", _png((32, 48)))
        buf.seek(0)
        data["frames"], data["fps"] = buf, "16"
    response = _post(client, data)
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["fields"], body
    assert body["message"]
    assert not Film.objects.exists()
    assert not Artifact.objects.exists()
    assert [p for p in stored_files(isolated_storage) if "tmp" not in p.parts] == []


def _png(size):
    from tests.conftest import image_bytes

    return image_bytes("PNG", size=size)


def test_restricted_film_is_hidden_with_its_master(django_user_model, tmp_path):
    admin = make_user(django_user_model, "admin")
    viewer = make_user(django_user_model, "viewer")
    path = support.write(tmp_path / "s.mkv", 4)
    with open(path, "rb") as fh:
        response = _post(client_for(admin), {"video": fh, "restricted": "true"})
    assert response.status_code == 201
    film_id, master = response.json()["id"], response.json()["master_artifact"]
    viewer_client = client_for(viewer)
    assert viewer_client.get(f"/api/v1/films/{film_id}/").status_code == 404
    assert viewer_client.get("/api/v1/films/").json()["count"] == 0
    assert viewer_client.get(f"/api/v1/artifacts/{master}/").status_code == 404
    assert client_for(admin).get(f"/api/v1/films/{film_id}/").status_code == 200


def test_viewer_cannot_post_films(django_user_model, tmp_path):
    viewer = make_user(django_user_model, "viewer")
    path = support.write(tmp_path / "s.mkv", 4)
    with open(path, "rb") as fh:
        assert _post(client_for(viewer), {"video": fh}).status_code == 403


def test_jobs_take_a_films_artifact_and_interpolate_takes_a_rational_fps(
    django_user_model, tmp_path, monkeypatch
):
    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    admin = make_user(django_user_model, "admin")
    client = client_for(admin)
    path = support.write(tmp_path / "s.mkv", 6, fps=Fraction(16))
    with open(path, "rb") as fh:
        master = _post(client, {"video": fh}).json()["master_artifact"]
    ok = client.post(
        "/api/v1/jobs/",
        {"input": master, "steps": [{"op": "interpolate", "params": {"fps": "24000/1001"}}]},
        format="json",
    )
    assert ok.status_code == 202, ok.content
    bad = client.post(
        "/api/v1/jobs/",
        {"input": master, "steps": [{"op": "interpolate", "params": {"fps": "fast"}}]},
        format="json",
    )
    assert bad.status_code == 400 and "steps[0].params.fps" in bad.json()["fields"]
    still = client.post(
        "/api/v1/jobs/", {"input": master, "steps": [{"op": "clahe"}]}, format="json"
    )
    assert still.status_code == 400 and "per_frame" in still.json()["fields"]["steps[0].op"][0]
    prov = client.get(f"/api/v1/artifacts/{master}/prov/?format=json")
    assert prov.status_code == 200
    assert '"pa:frameCount"' in prov.content.decode() and "16/1" in prov.content.decode()


def test_operations_lists_the_film_operations(django_user_model):
    client = client_for(make_user(django_user_model, "viewer"))
    ops = {o["name"]: o for o in client.get("/api/v1/operations/").json()}
    assert "denoise" in ops and ops["denoise"].get("media") is None
    films = {name for name, o in ops.items() if o.get("media") == "film"}
    assert {"dedupe", "deflicker", "interpolate", "per_frame"} <= films
    assert not any(name.startswith("test_") for name in ops if ops[name].get("media"))
    one = client.get("/api/v1/operations/interpolate/").json()
    assert one["media"] == "film" and "fps" in one["params_schema"]["properties"]


def test_frames_verify_names_the_changed_frames(tmp_path, cataloguer, isolated_storage):
    import os

    from django.core.files.storage import default_storage

    from restoration.engine.video import VideoWriter
    from restoration.services import video_frames_verify

    path = support.write(tmp_path / "r.mkv", 8)
    with open(path, "rb") as fh:
        master = Artifact.objects.get(
            pk=_post(client_for(cataloguer), {"video": fh}).json()["master_artifact"]
        )
    assert video_frames_verify(master)["ok"]
    # Someone rewrites the stored file with frame 5 altered: verify names frame 5.
    frames = support.frames(8)
    frames[5] = frames[5].copy()
    frames[5][0, 0] = (1, 2, 3)
    stored = default_storage.path(master.storage_key)
    os.chmod(stored, 0o644)
    with VideoWriter(stored, width=64, height=48, fps=Fraction(24)) as writer:
        for frame in frames:
            writer.write(frame)
    report = video_frames_verify(master)
    assert not report["ok"] and report["changed"] == [5] and report["frames"] == 8
