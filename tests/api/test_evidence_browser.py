"""Issue 11: the revision history on a record's page, in real headless Chromium (one test:
a browser start costs seconds). Screenshot: test-artifacts/screenshots/revisions-photo.png."""

from __future__ import annotations

import io

import pytest

from tests.web.support import PASSWORD, ensure_roles, make_user, scan_bytes
from tests.web.test_browser import CHROMIUM, browser, shot  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing"),
]


def test_a_photo_page_shows_its_history(live_server, browser):  # noqa: F811
    from playwright.sync_api import expect

    from archive import services

    ensure_roles()
    cataloguer = make_user("cataloguer", "cataloguer")
    viewer = make_user("viewer", "viewer")
    hidden = services.figure_create(name="Sealed Person", restricted=True)
    photo = services.photo_ingest(
        stream=io.BytesIO(scan_bytes(3)),
        filename="scan.png",
        title="Portrait in Xiamen",
        user=cataloguer,
        figure_ids=[hidden.pk],
        metadata={"accession_number": "ACC-1"},
    ).photo
    services.photo_update(
        photo=photo, user=cataloguer, title="Portrait in Xiamen, 1926", place="Xiamen"
    )
    source = services.source_create(user=cataloguer, title="Interview with Zhou Haiying")
    citation = services.citation_create(
        user=cataloguer, source=source, locator="p. 12", claim="the collar was dark blue"
    )
    from tests.restoration.lineage_support import derive

    made = derive(photo.master, seed=5, size=(160, 200), citation_ids=[citation.pk])
    services.citation_update(citation=citation, user=cataloguer, claim="BRIGHT RED silk")
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/accounts/login/?next=/photos/{photo.pk}/")
    page.get_by_label("User name").fill(viewer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    history = page.locator("section.revisions")
    expect(history.get_by_role("heading", name="History of this record")).to_be_visible()
    items = history.locator("ol.revision-list > li")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("changed")
    expect(items.first).to_contain_text("cataloguer")
    expect(items.first.locator("ins").first).to_contain_text("Xiamen")
    expect(items.nth(1)).to_contain_text("created")
    assert "Sealed Person" not in page.content()
    assert str(hidden.pk) not in history.inner_text().split("created")[-1].split("·")[0]
    history.scroll_into_view_if_needed()
    shot(page, "revisions-photo")
    page.goto(f"{live_server.url}/artifacts/{made.pk}/#step-{made.generated_by_id}")
    used = page.locator(f"#step-{made.generated_by_id} ul.citations.evidence")
    expect(used).to_contain_text("the collar was dark blue")
    expect(used.locator(".badge.revised")).to_contain_text("revised since")
    assert "BRIGHT RED" not in used.inner_text()
    used.scroll_into_view_if_needed()
    shot(page, "revisions-step-evidence")
    context.close()
