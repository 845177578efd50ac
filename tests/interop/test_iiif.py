"""IIIF Image API 3 (level 0 tiles) and Presentation API 3 manifests."""

from __future__ import annotations

import io
import json

import iiif_prezi3
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from tests.interop.conftest import derive, ingest

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def make_tiles(artifact) -> object:
    from interop.tiles import tiles_make

    tileset = tiles_make(artifact.pk)
    assert tileset is not None and tileset.status == "ready", tileset and tileset.error
    return tileset


def test_ingest_requests_tiles_after_commit_only_for_large_images(
    roles, small_tiles, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr("interop.tiles._send", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        big = ingest(roles["restorer"], size=(640, 480), seed=1)
        small = ingest(roles["restorer"], size=(200, 150), seed=2)
    assert sent == [big.master_id]  # the small one is shown whole
    from interop.models import TileSet

    assert TileSet.objects.get(artifact_id=big.master_id).status == "pending"
    assert not TileSet.objects.filter(artifact_id=small.master_id).exists()
    # A restoration gets its tiles too.
    with django_capture_on_commit_callbacks(execute=True):
        out = derive(big.master, roles["restorer"])
    assert sent == [big.master_id, out.pk]


def test_tiles_info_and_full_size(roles, small_tiles):
    photo = ingest(roles["restorer"], size=(640, 480), seed=3)
    tileset = make_tiles(photo.master)
    assert tileset.files > 5 and tileset.bytes > 0
    client = client_of(roles["viewer"])
    info = client.get(f"/iiif/images/{photo.master_id}/info.json")
    assert info.status_code == 200, info.content
    assert info["Access-Control-Allow-Origin"] == "*"
    body = info.json()
    assert body["id"] == f"http://testserver/iiif/images/{photo.master_id}"
    assert body["type"] == "ImageService3" and body["profile"] == "level0"
    assert (body["width"], body["height"]) == (640, 480)
    assert body["tiles"][0]["width"] == 256 and 1 in body["tiles"][0]["scaleFactors"]
    assert {"width": 640, "height": 480} in body["sizes"]
    # A tile at full resolution, at the place the tiling grid says.
    tile = client.get(f"/iiif/images/{photo.master_id}/256,256,256,224/256,224/0/default.jpg")
    assert tile.status_code == 200
    assert Image.open(io.BytesIO(b"".join(tile.streaming_content))).size == (256, 224)
    # A scaled tile (scale factor 2) of the whole width.
    tile = client.get(f"/iiif/images/{photo.master_id}/0,0,512,480/256,240/0/default.jpg")
    assert tile.status_code == 200
    # Full size: the access JPEG, not dzsave's thumbnail.
    full = client.get(f"/iiif/images/{photo.master_id}/full/max/0/default.jpg")
    assert full.status_code == 200 and full["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(full.streaming_content))).size == (640, 480)
    # Level 0: nothing that was not made.
    assert (
        client.get(f"/iiif/images/{photo.master_id}/0,0,10,10/10,10/0/default.jpg").status_code
        == 404
    )
    assert client.get(f"/iiif/images/{photo.master_id}/full/max/90/default.jpg").status_code == 404
    assert (
        client.get(f"/iiif/images/{photo.master_id}/..%2F..%2Fx/max/0/default.jpg").status_code
        == 404
    )
    # Stored through the storage API under previews/iiif/<sha256>/.
    assert default_storage.exists(f"previews/iiif/{photo.master.sha256}/access.jpg")


def test_tiling_is_idempotent_and_pending_tiles_are_404_then_requested(
    roles, small_tiles, monkeypatch
):
    sent: list[int] = []
    monkeypatch.setattr("interop.tiles._send", sent.append)
    photo = ingest(roles["restorer"], size=(640, 480), seed=4)
    client = client_of(roles["viewer"])
    missing = client.get(f"/iiif/images/{photo.master_id}/info.json")
    assert missing.status_code == 404 and "being made" in missing.json()["message"]
    assert sent == [photo.master_id]  # the view asked for them (rows first, then the message)
    first = make_tiles(photo.master)
    again = make_tiles(photo.master)
    assert again.pk == first.pk and again.attempts == first.attempts == 1


def test_restricted_tiles_and_manifests_are_404(roles, small_tiles):
    secret = ingest(roles["restorer"], size=(640, 480), seed=5, restricted=True)
    make_tiles(secret.master)
    viewer, auditor = client_of(roles["viewer"]), client_of(roles["auditor"])
    anonymous = client_of(None)
    for path in (
        f"/iiif/images/{secret.master_id}/info.json",
        f"/iiif/images/{secret.master_id}/0,0,256,256/256,256/0/default.jpg",
        f"/iiif/images/{secret.master_id}/full/max/0/default.jpg",
        f"/iiif/photos/{secret.pk}/manifest.json",
    ):
        assert viewer.get(path).status_code == 404, path
        assert anonymous.get(path).status_code == 404, path
        assert auditor.get(path).status_code == 200, path


def test_manifest_parses_back_with_canvases_labels_and_links(roles, small_tiles, settings):
    from archive.models import Figure

    figure = Figure.objects.create(name="Lu Xun")
    photo = ingest(
        roles["restorer"],
        size=(640, 480),
        seed=6,
        title="Boy in a school uniform",
        figure_ids=[figure.pk],
        repository="Shanghai Library",
        photographer="Studio X",
        rights_statement="http://rightsstatements.org/vocab/NoC-US/1.0/",
    )
    restored = derive(photo.master, roles["restorer"])
    make_tiles(photo.master)
    response = client_of(roles["viewer"]).get(f"/iiif/photos/{photo.pk}/manifest.json")
    assert response.status_code == 200
    assert "iiif.io/api/presentation/3" in response["Content-Type"]
    data = response.json()
    manifest = iiif_prezi3.Manifest(**data)  # parses back
    assert len(manifest.items) == 2
    assert data["label"] == {"en": [photo.title], "zh-Hans": [photo.title]}
    assert data["rights"] == photo.rights_statement
    assert "Shanghai Library" in data["requiredStatement"]["value"]["none"][0]
    assert data["provider"][0]["type"] == "Agent"
    assert set(data["items"][0]["label"]) == {"en", "zh-Hans"}
    names = [m["label"]["zh-Hans"][0] for m in data["metadata"]]
    assert "人物" in names and "收藏机构" in names
    links = {s["id"] for s in data["seeAlso"]}
    assert f"http://testserver/api/v1/artifacts/{photo.master_id}/prov/?format=json" in links
    assert f"http://testserver/api/v1/artifacts/{photo.master_id}/export/?format=jpeg" in links
    assert f"http://testserver/api/v1/artifacts/{photo.master_id}/lineage/" in links
    # The tiled master has an image service; the (untiled here) restoration its file.
    master_body = data["items"][0]["items"][0]["items"][0]["body"]
    assert master_body["service"][0]["id"] == f"http://testserver/iiif/images/{photo.master_id}"
    restored_body = data["items"][1]["items"][0]["items"][0]["body"]
    assert restored_body["id"].endswith(f"/artifacts/{restored.pk}/file/")
    # A collection per figure lists the manifest.
    collection = client_of(roles["viewer"]).get(f"/iiif/figures/{figure.pk}/collection.json")
    parsed = iiif_prezi3.Collection(**json.loads(collection.content))
    assert [str(i.id) for i in parsed.items] == [data["id"]]


def test_manifest_puts_the_approved_restoration_first_and_hides_tainted_ones(roles):
    from archive.models import Photo

    photo = ingest(roles["restorer"], size=(320, 240), seed=7)
    first = derive(photo.master, roles["restorer"], operation="grayscale")
    second = derive(first, roles["restorer"], operation="clahe")
    Photo.objects.filter(pk=photo.pk).update(approved_artifact=second)
    data = client_of(roles["viewer"]).get(f"/iiif/photos/{photo.pk}/manifest.json").json()
    ids = [c["items"][0]["items"][0]["body"]["id"] for c in data["items"]]
    assert ids[1].endswith(f"/artifacts/{second.pk}/file/")
    assert ids[2].endswith(f"/artifacts/{first.pk}/file/")
    assert data["items"][1]["label"]["en"][0].startswith("Approved restoration")


def test_out_of_range_ids_are_404_not_500(roles):
    client = client_of(roles["auditor"])
    huge = 2**64
    for path in (
        f"/iiif/images/{huge}/info.json",
        f"/iiif/images/{huge}/full/max/0/default.jpg",
        f"/iiif/photos/{huge}/manifest.json",
        f"/iiif/figures/{huge}/collection.json",
        "/iiif/photos/999999/manifest.json",
    ):
        assert client.get(path).status_code == 404, path


def test_film_manifest_has_video_canvases_with_duration(roles, tmp_path):
    from fractions import Fraction

    from archive.films import film_ingest
    from tests.film import support

    path = support.write(tmp_path / "reel.mkv", 16, fps=Fraction(16), seed=5)
    with open(path, "rb") as fh:
        film = film_ingest(
            stream=fh, filename="reel.mkv", title="Reel", user=roles["restorer"]
        ).film
    data = client_of(roles["viewer"]).get(f"/iiif/films/{film.pk}/manifest.json").json()
    manifest = iiif_prezi3.Manifest(**data)
    assert len(manifest.items) == 1
    canvas = data["items"][0]
    assert canvas["duration"] == pytest.approx(1.0, abs=0.1)
    body = canvas["items"][0]["items"][0]["body"]
    assert body["type"] == "Video" and body["duration"] == canvas["duration"]
    assert data["label"]["zh-Hans"] == ["Reel"]
    secret = client_of(None).get(f"/iiif/films/{film.pk}/manifest.json")
    assert secret.status_code == 404  # anonymous, private catalogue


def test_a_failed_tiling_is_recorded_with_its_reason_and_retried_on_request(
    roles, small_tiles, monkeypatch
):
    import pyvips

    from interop.tiles import tiles_make

    photo = ingest(roles["restorer"], size=(640, 480), seed=9)

    def broken(*args, **kwargs):
        raise pyvips.Error("unable to write tile")

    monkeypatch.setattr("interop.tiles.render_tiles", broken)
    tileset = tiles_make(photo.master_id)
    assert tileset.status == "failed" and "unable to write tile" in tileset.error
    answer = client_of(roles["viewer"]).get(f"/iiif/images/{photo.master_id}/info.json")
    assert answer.status_code == 404 and "could not be made" in answer.json()["message"]
    # A storage hiccup is transient: raised for the actor to retry, the row stays pending.
    monkeypatch.setattr(
        "interop.tiles.render_tiles", lambda *a, **k: (_ for _ in ()).throw(OSError(5, "EIO"))
    )
    from interop.models import TileSet

    TileSet.objects.filter(pk=tileset.pk).update(status="pending")
    with pytest.raises(OSError):
        tiles_make(photo.master_id)
    assert TileSet.objects.get(pk=tileset.pk).status == "pending"


def test_ai_restorations_say_so_in_both_languages_and_the_page_speaks_chinese(roles, small_tiles):
    """Canvas labels of AI restorations carry the AI marker in English and Simplified Chinese;
    the photo page's deep-zoom viewer is labelled in the reader's language (zh-Hans)."""
    photo = ingest(roles["restorer"], size=(640, 480), seed=8, title="Two sisters")
    derive(photo.master, roles["restorer"], operation="sr", kind="ai")
    derive(photo.master, roles["restorer"], operation="grayscale")  # other bytes than sr's
    data = client_of(roles["viewer"]).get(f"/iiif/photos/{photo.pk}/manifest.json").json()
    labels = {c["label"]["en"][0].split(" #")[-1]: c["label"] for c in data["items"][1:]}
    ai = next(label for key, label in labels.items() if "(sr)" in key)
    classical = next(label for key, label in labels.items() if "(grayscale)" in key)
    assert ai["en"][0].startswith("Restoration #") and ai["en"][0].endswith("· made with AI")
    assert ai["zh-Hans"][0].startswith("修复版本 #") and ai["zh-Hans"][0].endswith(
        "使用人工智能制作"
    )
    assert "AI" not in classical["en"][0] and "人工智能" not in classical["zh-Hans"][0]
    make_tiles(photo.master)
    client = client_of(roles["viewer"])
    client.cookies["django_language"] = "zh-hans"
    page = client.get(f"/photos/{photo.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "深度缩放（IIIF）" in page and "IIIF 清单" in page, page[:2000]
    assert "深度缩放视图：滚动或双指缩放，拖动平移" in page
    assert "Deep zoom (IIIF)" not in page
