"""Issue 16: the one search box in real headless Chromium: a traditional-script query finds the
simplified record, a Wade-Giles one the same person, a year the photos dated within it."""

from __future__ import annotations

import io
import re

import pytest

from tests.web.support import PASSWORD, ensure_roles, make_user, scan_bytes
from tests.web.test_browser import CHROMIUM, SCREENSHOTS, browser  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing"),
]


def test_search_box_finds_every_spelling_and_years(live_server, browser):  # noqa: F811
    from playwright.sync_api import expect

    from archive.models import Citation, Note, Source
    from archive.services import figure_create, photo_ingest

    ensure_roles()
    viewer = make_user("searcher", "viewer")
    li = figure_create(
        name="李大钊", names=[{"name": "Li Ta-chao", "language": "en", "kind": "romanisation"}]
    )
    figure_create(name="向警予", names=[])
    for seed, (title, date) in enumerate(
        [("Li Dazhao in Beijing", "1920"), ("Group at Peking University", "192X")], start=1
    ):
        photo_ingest(
            stream=io.BytesIO(scan_bytes(seed)),
            filename=f"s{seed}.png",
            title=title,
            figure_ids=[li.pk],
            metadata={"date": date},
        )
    source = Source.objects.create(title="北京大學日刊", date="1920")
    Citation.objects.create(source=source, locator="p. 2", claim="librarian from 1918")
    Note.objects.create(title="Library", body="李大釗 ran the university library", figure=li)

    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/accounts/login/?next=/search/")
    page.get_by_label("User name").fill(viewer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.locator("#page-search").fill("李大釗")  # traditional; the record is simplified
    page.locator("#page-search").press("Enter")
    expect(page.get_by_role("heading", name=re.compile("李大釗"))).to_be_visible()
    figures = page.locator('section[aria-labelledby="h-figures"] li')
    expect(figures).to_have_count(1)
    expect(figures.first.locator(f'a[href="/figures/{li.pk}/"]')).to_be_visible()
    expect(page.locator(".search-note")).to_contain_text("university library")

    page.locator("#page-search").fill("Li Ta-chao 1920")
    page.locator("#page-search").press("Enter")
    expect(page.locator("#search-dates")).to_contain_text("1920-01-01")
    expect(page.locator('section[aria-labelledby="h-photos"] li')).to_have_count(2)
    expect(page.get_by_role("link", name=re.compile("Group at Peking University"))).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "16-search.png"), full_page=True)

    page.locator("#page-search").fill("北京大学")
    page.locator("#page-search").press("Enter")
    expect(page.locator(".search-source")).to_contain_text("北京大學日刊")
    expect(page.locator(".search-citation")).to_contain_text("librarian from 1918")
    page.screenshot(path=str(SCREENSHOTS / "16-search-sources.png"), full_page=True)
    context.close()
