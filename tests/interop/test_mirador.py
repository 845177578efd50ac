"""A real IIIF client opens our manifests: Mirador (from npm), served from a test-only static
directory on another origin, loads a photo's manifest from the live server in headless
Chromium, shows its canvases, and zooms into a full-resolution tile of a 6000x4000 master;
the tiles of a restricted record are 404s over HTTP. Screenshots in
test-artifacts/screenshots/mirador-*.png.

Kept to one test: a browser start and a 24-megapixel tiling cost seconds."""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.interop.conftest import derive, ingest

ROOT = Path(__file__).resolve().parents[2]
MIRADOR = ROOT / "node_modules" / "mirador" / "dist" / "mirador.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TILE = re.compile(r"/iiif/images/(\d+)/(\d+),(\d+),(\d+),(\d+)/(\d+),(\d+)/0/default\.jpg$")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing"),
    # Once per CI run (the SQLite pass): the viewer does not depend on the database engine.
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="the IIIF viewer test runs in the SQLite pass",
    ),
    pytest.mark.skipif(
        not MIRADOR.is_file(), reason="Mirador is not installed: npm install (package.json)"
    ),
]


@pytest.fixture
def mirador_site(tmp_path) -> Iterator[str]:
    """The test-only page and Mirador's bundle, served on a port of their own."""
    site = tmp_path / "mirador"
    site.mkdir()
    shutil.copy(Path(__file__).parent / "mirador" / "index.html", site / "index.html")
    shutil.copy(MIRADOR, site / "mirador.min.js")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser(monkeypatch) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_mirador_opens_a_manifest_and_zooms_into_a_tile(
    live_server, browser, mirador_site, settings, django_user_model
):
    from interop.tiles import tiles_make

    settings.ARCHIVE_PUBLIC_CATALOGUE = True  # Mirador reads as an anonymous visitor
    settings.ARCHIVE_IIIF_MIN_SIDE = 2000
    user = django_user_model.objects.create_user(username="scanner", password="pw-scanner-1")
    photo = ingest(
        user, size=(6000, 4000), seed=21, title="Studio portrait, 6000x4000 scan", fmt="JPEG"
    )
    restored = derive(photo.master, user, operation="crop")  # 1500x1000: shown whole
    secret = ingest(
        user, size=(2100, 300), seed=22, title="Restricted scan", restricted=True, fmt="JPEG"
    )
    assert restored.width == 1500
    for artifact in (photo.master, secret.master):
        tileset = tiles_make(artifact.pk)
        assert tileset is not None and tileset.status == "ready", tileset and tileset.error

    # Restricted: info.json, tiles and manifest are 404s to the anonymous public (the tile
    # exists: the 404 is the permission's, not a missing file's).
    from django.core.files.storage import default_storage

    assert default_storage.exists(
        f"previews/iiif/{secret.master.sha256}/0,0,512,300/512,300/0/default.jpg"
    )
    base = live_server.url
    assert status_of(f"{base}/iiif/images/{secret.master_id}/info.json") == 404
    assert (
        status_of(f"{base}/iiif/images/{secret.master_id}/0,0,512,300/512,300/0/default.jpg") == 404
    )
    assert status_of(f"{base}/iiif/photos/{secret.pk}/manifest.json") == 404
    assert (
        status_of(f"{base}/iiif/images/{photo.master_id}/0,0,512,512/512,512/0/default.jpg") == 200
    )

    page = browser.new_page(viewport={"width": 1280, "height": 860})
    tiles: list[tuple[int, int, int, int]] = []  # (artifact, region w, size w, status)

    def seen(response) -> None:
        match = TILE.search(response.url)
        if match:
            tiles.append((int(match[1]), int(match[4]), int(match[6]), response.status))

    page.on("response", seen)
    manifest = f"{base}/iiif/photos/{photo.pk}/manifest.json"
    page.goto(f"{mirador_site}/index.html?manifest={manifest}")
    # The window shows the manifest's label and its two canvases as thumbnails.
    page.get_by_text(photo.title).first.wait_for(timeout=30_000)
    page.wait_for_selector(".openseadragon-canvas canvas", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('img[src*=\"/preview.jpg\"]').length >= 2", timeout=30_000
    )
    page.wait_for_timeout(1500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "mirador-manifest.png"))
    assert any(t[0] == photo.master_id and t[3] == 200 for t in tiles), tiles

    # Zoom into the middle of the master until full-resolution tiles (scale factor 1) load.
    box = page.locator(".openseadragon-canvas").first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(30):
        page.mouse.wheel(0, -240)
        page.wait_for_timeout(120)
        if any(t[0] == photo.master_id and t[1] == t[2] and t[3] == 200 for t in tiles):
            break
    page.wait_for_timeout(2000)
    page.screenshot(path=str(SCREENSHOTS / "mirador-zoomed.png"))
    full_res = [t for t in tiles if t[0] == photo.master_id and t[1] == t[2]]
    assert full_res and all(t[3] == 200 for t in full_res), tiles[-20:]
    assert all(t[3] == 200 for t in tiles), [t for t in tiles if t[3] != 200]

    # Our own photo page shows the same master in OpenSeadragon (from npm, served locally).
    tiles.clear()
    page.goto(f"{base}/photos/{photo.pk}/")
    page.wait_for_selector(".deepzoom[data-opened='1']", timeout=30_000)
    page.wait_for_function(
        "() => +document.querySelector('.deepzoom').dataset.tilesLoaded >= 1", timeout=30_000
    )
    page.locator(".deepzoom").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SCREENSHOTS / "photo-page-deepzoom.png"))
    assert any(t[0] == photo.master_id and t[3] == 200 for t in tiles), tiles
    assert page.locator(".deepzoom + p a", has_text="manifest").count() == 1
