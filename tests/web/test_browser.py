"""The pages in real headless Chromium (Debian's, driven by Playwright): one walk through the
whole story, with screenshots of the key pages in test-artifacts/screenshots/.

Kept to one test on purpose: a browser start costs seconds and CI cores are shared."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.support import PASSWORD, ai_weights, build_catalogue, derive

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.browser,
    # The live server needs committed data (build_catalogue re-creates the role groups that
    # an earlier transactional test's flush removed).
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason=f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (apt: chromium)",
    ),
]


@pytest.fixture
def browser(monkeypatch) -> Iterator[object]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (python) is not installed"
    )
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # here (building data, the worker's teardown) are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def job_worker() -> Iterator[object]:
    """In-process dramatiq worker threads, as ``manage.py serve`` runs them (BROKER_URL=memory)."""
    from django.conf import settings

    if not settings.BROKER_IS_MEMORY:
        pytest.skip("the browser test runs jobs on the in-memory broker")
    from restoration.management.commands.serve import start_embedded_worker

    worker = start_embedded_worker(1)
    try:
        yield worker
    finally:
        worker.stop(timeout=10_000)


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_restorer_walks_from_search_to_verified_lineage(live_server, browser, job_worker):
    from playwright.sync_api import expect

    catalogue = build_catalogue()
    # An earlier AI restoration of the same scan, for the AI label.
    repainted = derive(
        derive(catalogue.photo.master, citation_ids=(catalogue.citation.pk,)),
        kind="ai",
        operation="face_restore",
        weights=ai_weights(),
    )
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Log in.
    page.goto(f"{live_server.url}/accounts/login/?next=/")
    page.get_by_label("User name").fill(catalogue.restorer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Catalogue")).to_be_visible()
    shot(page, "01-home")

    # Search a figure by its Chinese name and open it.
    page.locator("#site-search").fill("鲁迅")
    page.locator("#site-search").press("Enter")
    expect(page.get_by_role("heading", name=re.compile("鲁迅"))).to_be_visible()
    shot(page, "02-search")
    page.get_by_role("link", name="Lu Xun").first.click()
    expect(page.get_by_role("heading", name="Names and variants")).to_be_visible()
    expect(page.locator('td[lang="zh-Hans"]', has_text="鲁迅")).to_be_visible()
    shot(page, "03-figure")

    # Open a photo.
    page.get_by_role("link", name=re.compile("Portrait in Shanghai")).first.click()
    expect(page.get_by_role("heading", name="Portrait in Shanghai")).to_be_visible()
    expect(page.get_by_text("ACC-1927-001")).to_be_visible()
    shot(page, "04-photo")

    # Submit a two-step pipeline and watch it finish.
    page.get_by_role("link", name=re.compile("Restore this scan")).click()
    page.locator(".pipeline-row").nth(0).locator('[data-param="strength"] input.num').fill("12")
    page.get_by_role("button", name="Add a step").click()
    page.locator(".pipeline-row").nth(1).locator("select.op-select").select_option("sharpen")
    shot(page, "05-pipeline-form")
    page.get_by_role("button", name="Submit pipeline").click()
    expect(page.locator("#job-live")).to_be_visible()
    expect(page.locator("#job-status")).to_have_attribute(
        "data-status", "succeeded", timeout=90_000
    )
    expect(page.locator("#job-progress")).to_have_js_property("value", 1)
    shot(page, "06-job-finished")

    # The result: move the before/after slider by dragging on the picture.
    page.locator("#job-output-link").click()
    expect(page.get_by_role("heading", name=re.compile(r"Artifact #\d+"))).to_be_visible()
    expect(page.locator(".no-ai-label")).to_be_visible()
    compare = page.locator("#compare")
    expect(page.locator("#after-img")).to_have_js_property("complete", True)
    box = compare.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    position = compare.evaluate("el => parseFloat(el.style.getPropertyValue('--pos'))")
    assert 20 <= position <= 30, position
    expect(page.locator("#compare-range")).to_have_value(re.compile(r"^2\d$"))
    page.locator("#compare-range").focus()
    page.keyboard.press("ArrowRight")
    shot(page, "07-artifact-slider")

    # Open a step in the lineage graph.
    page.locator(".step-node.kind-classical", has_text="denoise").click()
    panel = page.locator(".step-detail.open")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("denoise")
    expect(panel).to_contain_text('"strength": 12')
    expect(panel.locator(".heatmap img")).to_have_js_property("complete", True)
    assert panel.locator(".heatmap img").evaluate("img => img.naturalWidth") > 0
    assert page.url.endswith(re.search(r"#step-\d+", page.url).group(0))  # linkable
    shot(page, "08-lineage-step")

    # Verify.
    page.get_by_role("button", name="Verify lineage").click()
    expect(page.locator("#verify-result.ok")).to_contain_text("Verified")
    shot(page, "09-verified")

    # Switch language.
    page.locator("#language-select").select_option("zh-hans")
    page.locator(".lang-switch button").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("button", name="校验谱系")).to_be_visible()
    expect(page.get_by_role("heading", name="谱系", exact=True)).to_be_visible()
    shot(page, "10-artifact-zh")
    page.goto(f"{live_server.url}/figures/{catalogue.figure.pk}/")
    expect(page.get_by_role("heading", name="名称与异名")).to_be_visible()
    shot(page, "11-figure-zh")

    # An AI restoration says so at the top, in the reader's language.
    page.goto(f"{live_server.url}/artifacts/{repainted.pk}/")
    expect(page.locator("#ai-label")).to_contain_text("面部由 GFPGANv1.4")
    shot(page, "12-artifact-ai-zh")
    page.goto(f"{live_server.url}/artifacts/{repainted.pk}/manual/")
    expect(page.get_by_label("理由")).to_be_visible()
    shot(page, "13-manual-step-zh")

    # A phone-sized screen gets the same page in one column.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=context.storage_state()
    )
    phone_page = phone.new_page()
    phone_page.goto(f"{live_server.url}/artifacts/{repainted.pk}/")
    shot(phone_page, "14-artifact-phone")
    phone.close()

    assert not errors, errors
    context.close()
