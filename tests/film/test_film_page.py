"""The film page: server-side (who sees what, the proxy's HTTP ranges, the form queues a job)
and in real headless Chromium (the player loads both proxies, steps frame by frame, switches
to a wipe, places a keyframe hint; screenshots in test-artifacts/screenshots/film-*.png)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from archive.films import film_ingest
from restoration import runner
from restoration.jobs import job_create
from restoration.models import Job
from tests.film import support
from tests.web.support import PASSWORD, ensure_roles, make_user

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _film_with_a_restoration(tmp_path, user, monkeypatch):
    monkeypatch.setattr("restoration.jobs.enqueue", lambda job_id: True)
    path = support.write(tmp_path / "reel.mp4", 24, codec="h264", fps=Fraction(12), size=(160, 120))
    with open(path, "rb") as fh:
        film = film_ingest(stream=fh, filename="reel.mp4", title="Street scene", user=user).film
    job = job_create(
        user=user, input_id=film.master_id, steps=[{"op": "test_film_mix", "params": {"radius": 2}}]
    )
    assert runner.run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    return film, Job.objects.get(pk=job.pk)


@pytest.mark.django_db(transaction=True)
def test_film_page_ranges_and_form(client, tmp_path, monkeypatch):
    ensure_roles()
    restorer = make_user("restorer1", "restorer")
    film, job = _film_with_a_restoration(tmp_path, restorer, monkeypatch)
    client.login(username="restorer1", password=PASSWORD)
    page = client.get(f"/films/{film.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/artifacts/{job.output_id}/proxy.mp4" in html and "film-timeline" in html
    assert "frames changed" in html
    whole = client.get(f"/artifacts/{film.master_id}/proxy.mp4")
    assert whole.status_code == 200
    body = b"".join(whole.streaming_content)
    part = client.get(f"/artifacts/{film.master_id}/proxy.mp4", HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and b"".join(part.streaming_content) == body[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{len(body)}"
    assert client.get(f"/artifacts/{job.output_id}/strip.jpg").status_code == 200
    # The form posts the JSON steps the page built.
    queued = client.post(
        f"/films/{film.pk}/run/",
        {"input": film.master_id, "steps": '[{"op": "test_film_mix", "params": {"radius": 1}}]'},
    )
    assert queued.status_code == 302 and "/jobs/" in queued["Location"]
    refused = client.post(f"/films/{film.pk}/run/", {"steps": '[{"op": "denoise"}]'}, follow=True)
    assert "per_frame" in refused.content.decode()
    # A restricted film is a 404 to a viewer, and so is its proxy.
    film.restricted = True
    film.save()
    make_user("viewer1", "viewer")
    client.logout()
    client.login(username="viewer1", password=PASSWORD)
    assert client.get(f"/films/{film.pk}/").status_code == 404
    assert client.get(f"/artifacts/{film.master_id}/proxy.mp4").status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing")
def test_film_page_in_chromium(live_server, tmp_path, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import expect

    ensure_roles()
    restorer = make_user("restorer2", "restorer")
    film, job = _film_with_a_restoration(tmp_path, restorer, monkeypatch)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server.url}/accounts/login/?next=/films/{film.pk}/")
            page.get_by_label("User name").fill("restorer2")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", name="Street scene")).to_be_visible()
            # Both proxies decode in the browser (H.264 MP4).
            page.wait_for_function(
                "document.getElementById('film-before').readyState >= 2 && "
                "document.getElementById('film-after').readyState >= 2"
            )
            page.locator("#film-next").click()
            page.locator("#film-next").click()
            expect(page.locator("#film-frame")).to_have_text("2")
            page.locator("#film-prev").click()
            expect(page.locator("#film-frame")).to_have_text("1")
            # Place a hint on frame 1: it becomes a keyframe on the timeline.
            page.locator("#film-before").click(position={"x": 40, "y": 30})
            expect(page.locator("#keyframe-list li")).to_have_count(1)
            expect(page.locator("#film-timeline .key")).to_have_count(1)
            page.screenshot(path=str(SCREENSHOTS / "film-side-by-side.png"), full_page=True)
            page.locator("#film-mode").select_option("wipe")
            page.locator("#film-wipe").fill("30")
            clip = page.evaluate("document.getElementById('film-after').style.clipPath")
            assert "30%" in clip
            page.screenshot(path=str(SCREENSHOTS / "film-wipe.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
