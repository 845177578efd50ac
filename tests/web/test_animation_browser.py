"""Animations on the pages (issue 12), in real headless Chromium: the photo page shows them apart
from the restorations, the artifact page plays the clip (looping, with its poster) under the
label "this person did not move like this". Screenshots: test-artifacts/screenshots/anim-*.png."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import CORPUS
from tests.web.support import PASSWORD, build_catalogue, derive

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PORTRAIT = CORPUS / "old_w_scratch_b.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing"),
    pytest.mark.skipif(not PORTRAIT.is_file(), reason=f"{PORTRAIT} is absent"),
]


@pytest.fixture
def browser(monkeypatch) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def animation_of(master, user, text: str):
    """Record an `animate` step the way animate_jobs does, without a worker process."""
    from restoration.engine import OpInputs, RunContext
    from restoration.engine.animate.op import Animate
    from restoration.jobstate import now
    from restoration.models import Step
    from restoration.services import NewInput, output_from_video, step_record_or_discard

    still = Image.open(PORTRAIT).convert("RGB")
    import numpy as np

    params = Animate().validate({"duration": 1.2, "fps": 10, "smile": 0.7, "label_text": text})
    started = now()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mkv"
        animation, _ = Animate().write(OpInputs(np.asarray(still)), params, RunContext(), str(path))
        output = output_from_video(path)
        step = step_record_or_discard(
            kind=Step.Kind.SYNTHETIC,
            operation="animate",
            operation_version=Animate.version,
            parameters=params,
            inputs=[NewInput(role="image", artifact=master)],
            outputs=[output],
            started_at=started,
            ended_at=now(),
            user=user,
            run_record=animation.record,
        )
    return step.output("image")


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"anim-{name}.png"), full_page=True)


def test_animation_plays_labelled_and_apart_from_restorations(live_server, browser):
    from playwright.sync_api import expect

    from archive.services import photo_ingest

    catalogue = build_catalogue()
    buf = io.BytesIO()
    Image.open(PORTRAIT).convert("RGB").save(buf, format="PNG")
    buf.seek(0)
    photo = photo_ingest(
        stream=buf, filename="boy.png", title="Boy with a creased print", user=catalogue.restorer
    ).photo
    restored = derive(photo.master)
    clip = animation_of(photo.master, catalogue.restorer, "Animated from a still photograph")

    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/login/?next=/")
    page.get_by_label("User name").fill(catalogue.restorer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/photos/{photo.pk}/")
    animations = page.locator("#animations")
    expect(animations).to_be_visible()
    expect(animations).to_contain_text("did not move like this")
    expect(animations.locator(f'[data-artifact="{clip.pk}"] video')).to_have_count(1)
    # the animation is not among the restorations; the restoration is
    restorations = page.locator('section[aria-labelledby="h-restorations"]')
    expect(restorations.locator(f'[data-artifact="{clip.pk}"]')).to_have_count(0)
    expect(restorations.locator(f'[data-artifact="{restored.pk}"]')).to_have_count(1)
    shot(page, "photo")

    page.goto(f"{live_server.url}/artifacts/{clip.pk}/")
    expect(page.locator("#synthetic-label")).to_contain_text("this person did not move like this")
    expect(page.locator(".no-ai-label")).to_have_count(0)
    player = page.locator("#animation-player")
    expect(player).to_have_attribute("loop", "")
    expect(player).to_have_attribute("poster", f"/artifacts/{clip.pk}/preview.jpg")
    expect(page.locator("#animation-frames")).to_contain_text("12")
    # the poster loads; the browser decodes the clip and it runs
    poster = page.request.get(f"{live_server.url}/artifacts/{clip.pk}/preview.jpg")
    assert poster.ok and poster.headers["content-type"].startswith("image/")
    page.wait_for_function(
        "() => { const v = document.getElementById('animation-player');"
        " return v.readyState >= 2 && v.currentTime > 0 && v.videoWidth > 0; }",
        timeout=15_000,
    )
    shot(page, "artifact")
    c2pa = page.request.get(f"{live_server.url}/artifacts/{clip.pk}/export/?format=mp4")
    assert c2pa.status in (200, 503), c2pa.status  # 503: no signing material in this setup
    if c2pa.status == 200:
        assert c2pa.headers["content-type"] == "video/mp4"

    # the restore form offers animate, with sliders
    page.goto(f"{live_server.url}/artifacts/{photo.master_id}/restore/")
    row = page.locator(".pipeline-row").nth(0)
    row.locator("select.op-select").select_option("animate")
    expect(row.locator('[data-param="smile"] input[type="range"]')).to_have_count(1)
    expect(row.locator('[data-param="nod"] input[type="range"]')).to_have_count(1)
    expect(row.locator('[data-param="gaze"]')).to_be_visible()
    expect(row.locator('[data-param="label"] input[type="checkbox"]')).to_be_checked()
    shot(page, "restore-form")
    assert errors == []
