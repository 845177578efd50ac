"""Faces on the pages, in real headless Chromium: a manual step that swapped in another face is
flagged beside the face on the artifact page, the face search from a face finds the sitter's
other print first, and a cataloguer confirms it from the figure page. Screenshots:
test-artifacts/screenshots/faces-*.png."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group

from archive.services import figure_create, photo_ingest
from restoration.engine import identity
from restoration.faces import faces_index_artifact
from restoration.manual import step_record_manual
from restoration.models import Face
from tests.faces.test_face_search import variant
from tests.faces.test_identity_engine import load, paste_face
from tests.faces.test_identity_steps import png
from tests.web.support import PASSWORD, ensure_roles, make_user
from tests.web.test_animation_browser import CHROMIUM, SCREENSHOTS, browser  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing"),
    pytest.mark.skipif(identity.available() is not None, reason=str(identity.available())),
]


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"faces-{name}.png"), full_page=True)


class _Upload(io.BytesIO):
    name = "retouched.png"


def test_faces_on_the_pages(live_server, browser, settings):  # noqa: F811
    from playwright.sync_api import expect

    settings.ARCHIVE_FACE_INDEX = True
    ensure_roles()
    curator = make_user("curator", "cataloguer", "restorer")
    curator.groups.add(Group.objects.get(name="viewer"))
    figure = figure_create(name="Li Dazhao", user=curator)
    sitter = load("old_a.png")
    photos = [
        photo_ingest(stream=io.BytesIO(png(img)), filename=f"{n}.png", title=n, user=curator).photo
        for n, img in [
            ("portrait", sitter),
            ("second print", variant(sitter, 2)),
            ("another sitter", load("old_w_scratch_a.png")),
        ]
    ]
    for photo in photos:
        faces_index_artifact(artifact_id=photo.master_id)
    swapped = step_record_manual(
        input_artifact_id=photos[0].master_id,
        image=_Upload(png(paste_face(sitter, load("old_w_scratch_a.png")))),
        rationale="retouched the face",
        user=curator,
        tool="GIMP",
        filename="retouched.png",
    ).output("image")
    assert swapped is not None

    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/login/?next=/")
    page.get_by_label("User name").fill("curator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/artifacts/{swapped.pk}/")
    expect(page.locator("#face-changed")).to_contain_text("another person")
    page.locator(".step-node.kind-manual").click()
    step_panel = page.locator(f"#step-{swapped.generated_by_id}")
    expect(step_panel.locator("h3 .badge.bad")).to_contain_text("different person")
    expect(step_panel.locator(".face.verdict-different")).to_have_count(1)
    expect(step_panel.locator(".face.verdict-different .face-crop")).to_have_count(2)
    shot(page, "swapped")

    first = Face.objects.get(artifact_id=photos[0].master_id)
    page.goto(f"{live_server.url}/artifacts/{photos[0].master_id}/")
    page.locator("#faces").get_by_role("link", name="Find this face elsewhere").click()
    matches = page.locator("#face-matches li.face")
    expect(matches.first).to_contain_text(f"#{photos[1].master_id}")
    expect(matches.first.locator(".badge.ok")).to_contain_text("same person")
    shot(page, "search")

    # the figure's confirmed face, then its other print offered and confirmed with a reason
    from archive.services import face_confirm

    face_confirm(face_id=first.pk, figure=figure, user=curator, rationale="yearbook caption")
    page.goto(f"{live_server.url}/figures/{figure.pk}/")
    offered = page.locator("#figure-face-matches li.face").first
    expect(offered).to_contain_text(f"#{photos[1].master_id}")
    offered.get_by_text("This is Li Dazhao").click()
    offered.get_by_label("Why").fill("the same sitter: second print of the 1919 portrait")
    offered.get_by_role("button", name="Confirm").click()
    expect(page.locator("#faces")).to_contain_text("Confirmed faces")
    confirmed = page.locator("#faces ul.faces").first.locator("li.face")
    expect(confirmed).to_have_count(2)
    shot(page, "figure")
    assert not errors, errors
