"""The hint editor after geometry steps, and moving placed hints (issue 14), in real headless
Chromium, with screenshots test-artifacts/screenshots/workbench-geometry-*.png.

- The page's geometry maths (static/web/workbench.js: window.workbenchGeometry) equals the
  recorded-geometry code (web/geometry.step_matrix) and the operations' own output_shape.
- A crop then colorize_hints pipeline: hints clicked on the shown input are submitted in the
  cropped image's pixels (click pixel minus the crop's corner, computed here by hand).
- A placed hint is dragged with the mouse to a new place, and moved by the arrow keys once
  picked; with no hint picked the arrows still move the placement cross."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from tests.web.support import build_catalogue, ensure_roles, make_user
from tests.web.test_browser import CHROMIUM, browser  # noqa: F401  (fixture)
from tests.web.test_workbench_browser import click_at_pixel, goto, js_round, login, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing"),
]


def test_js_geometry_equals_recorded_geometry(live_server, browser):  # noqa: F811
    from restoration.engine.ops_classical import Crop, Rotate, Upscale
    from web.geometry import step_matrix

    ensure_roles()
    catalogue = build_catalogue()
    make_user("geo", "restorer")
    page = browser.new_page()
    login(page, live_server, "geo")
    goto(page, f"{live_server.url}/artifacts/{catalogue.photo.master.pk}/restore/")
    ops = {"crop": Crop(), "rotate": Rotate(), "upscale": Upscale()}
    cases = [
        ("crop", {"rect": {"x": 10, "y": 20, "width": 60, "height": 50}}, (120, 90)),
        ("rotate", {"angle": 30.0, "expand": True}, (120, 90)),
        ("rotate", {"angle": -90.0, "expand": True}, (121, 90)),
        ("rotate", {"angle": 45.0, "expand": False}, (120, 90)),
        ("rotate", {"angle": 370.0, "expand": True}, (64, 47)),
        ("upscale", {"scale": 2.5}, (33, 21)),  # 82.5 and 52.5: Python rounds half to even
    ]
    for op, params, (w, h) in cases:
        shape = ops[op].output_shape((h, w, 3), {"expand": True, **params}, {})
        want_size = [shape[1], shape[0]]
        want = step_matrix(op, params, (w, h), (want_size[0], want_size[1]))
        got = page.evaluate(
            """([op, params, size]) => {
                const g = window.workbenchGeometry;
                const out = g.outputSize(op, params, size);
                return [out, g.stepMatrix(op, params, size, out)];
            }""",
            [op, params, [w, h]],
        )
        assert got[0] == want_size, (op, params, got[0], want_size)
        for got_row, want_row in zip(got[1], want, strict=True):
            assert got_row == pytest.approx(list(want_row), abs=1e-9), (op, params)
    # sr: the model's scale is not known in the form, so no map (the tool warns instead).
    assert page.evaluate("window.workbenchGeometry.outputSize('sr', {}, [10, 10])") is None
    page.close()


def test_hints_after_crop_and_moving_hints(live_server, browser):  # noqa: F811
    from playwright.sync_api import expect

    ensure_roles()
    catalogue = build_catalogue()
    make_user("geo", "restorer")
    master = catalogue.photo.master
    W, H = master.width, master.height
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server, "geo")
    goto(page, f"{live_server.url}/artifacts/{master.pk}/restore/")

    # Step 1 crops; step 2 places hints on the shown (uncropped) input.
    rect = {"x": 40, "y": 30, "width": W - 60, "height": H - 50}
    first = page.locator(".pipeline-row").nth(0)
    first.locator("select.op-select").select_option("crop")
    for key, value in rect.items():
        first.locator(f"input.rect-{key}").fill(str(value))
    page.locator("#add-step").click()
    second = page.locator(".pipeline-row").nth(1)
    second.locator("select.op-select").select_option("colorize_hints")
    second.get_by_role("button", name="Place hints on the image").click()
    expect(page.locator("#hint-tools")).to_be_visible()
    assert "Caution" not in page.locator("#stage-help").text_content()
    assert f"{rect['width']} × {rect['height']} image" in page.locator("#stage-help").text_content()
    # The cropped image is outlined on the shown input.
    corners = page.locator("#hint-target").get_attribute("points").split()
    assert [tuple(round(float(v)) for v in c.split(",")) for c in corners] == [
        (40, 30),
        (40 + rect["width"], 30),
        (40 + rect["width"], 30 + rect["height"]),
        (40, 30 + rect["height"]),
    ]
    assert json.loads(page.locator("#stage").get_attribute("data-hint-map")) == [
        rect["width"],
        rect["height"],
    ]
    stage = page.locator("#stage")
    page.locator("#hint-radius").fill("4")
    page.locator(".swatch[data-color='#1f3a93']").click()
    hand: list[dict] = []
    x, y = click_at_pixel(page, stage, 70, 50, W, H)
    hand.append({"x": x - rect["x"], "y": y - rect["y"], "color": "#1f3a93", "radius": 4})
    x, y = click_at_pixel(page, stage, 110, 90, W, H)
    hand.append({"x": x - rect["x"], "y": y - rect["y"], "color": "#1f3a93", "radius": 4})
    hints = page.evaluate("window.workbenchPipeline()[1].params.hints")
    assert hints == hand, hints
    # The marks are drawn where they were clicked on the shown input.
    marks = page.locator("#stage-overlay circle.hint-mark")
    assert [float(marks.nth(0).get_attribute(a)) for a in ("cx", "cy")] == [
        hand[0]["x"] + rect["x"],
        hand[0]["y"] + rect["y"],
    ]
    shot(page, "geometry-01-placed-after-crop")

    # Drag hint 1 to a new place with the mouse: it moves, nothing is added.
    box = stage.bounding_box()

    def screen(px: float, py: float) -> tuple[float, float]:
        return (
            box["x"] + (px + 0.5) / W * box["width"],
            box["y"] + (py + 0.5) / H * box["height"],
        )

    sx, sy = (round(v) for v in screen(hand[0]["x"] + rect["x"], hand[0]["y"] + rect["y"]))
    tx, ty = (round(v) for v in screen(90, 120))
    start = (
        js_round((sx - box["x"]) / box["width"] * W),
        js_round((sy - box["y"]) / box["height"] * H),
    )
    end = (
        js_round((tx - box["x"]) / box["width"] * W),
        js_round((ty - box["y"]) / box["height"] * H),
    )
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move((sx + tx) / 2, (sy + ty) / 2, steps=3)
    page.mouse.move(tx, ty, steps=3)
    page.mouse.up()
    hand[0]["x"] += end[0] - start[0]
    hand[0]["y"] += end[1] - start[1]
    hints = page.evaluate("window.workbenchPipeline()[1].params.hints")
    assert hints == hand, (hints, hand)
    expect(page.locator("#hint-list li")).to_have_count(2)
    shot(page, "geometry-02-dragged")

    # Keyboard: pick hint 2 in the list, arrows move it (in the cropped image's pixels too).
    step = max(1, round(max(W, H) / 100))
    page.get_by_role("button", name="Select 2").click()
    assert page.evaluate("document.activeElement.id") == "stage"
    for key in ("ArrowRight", "ArrowRight", "ArrowUp"):
        page.keyboard.press(key)
    hand[1]["x"] += 2 * step
    hand[1]["y"] -= step
    assert page.evaluate("window.workbenchPipeline()[1].params.hints") == hand
    shot(page, "geometry-03-keyboard-moved")
    # Escape lets the hint go: the arrows move the placement cross again, the hints stay.
    page.keyboard.press("Escape")
    expect(page.locator("#hint-tools")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#stage-cursor")).to_have_count(1)
    assert page.evaluate("window.workbenchPipeline()[1].params.hints") == hand

    # A stroke is dragged whole: every point moves by the same offset.
    stage.scroll_into_view_if_needed()
    box = stage.bounding_box()  # the list's button may have scrolled the page
    a, b = (round(v) for v in screen(150, 200)), (round(v) for v in screen(200, 200))
    (ax, ay), (bx, by) = a, b
    page.mouse.move(ax, ay)
    page.mouse.down()
    page.mouse.move(bx, by, steps=8)
    page.mouse.up()
    stroke = page.evaluate("window.workbenchPipeline()[1].params.hints")[2]
    assert len(stroke["points"]) > 2, stroke
    page.mouse.move(ax, ay)
    page.mouse.down()
    page.mouse.move(ax, ay - 40 / H * box["height"], steps=4)
    page.mouse.up()
    moved = page.evaluate("window.workbenchPipeline()[1].params.hints")
    assert len(moved) == 3 and moved[:2] == hand
    dy = js_round((ay - 40 / H * box["height"] - box["y"]) / box["height"] * H) - js_round(
        (ay - box["y"]) / box["height"] * H
    )
    assert dy < -30
    assert moved[2]["points"] == [[x, y + dy] for x, y in stroke["points"]], (moved[2], dy)
    shot(page, "geometry-03b-stroke-moved")
    page.get_by_role("button", name="Remove 3").click()

    # What the form submits: the crop, then the hints in the cropped image's pixels.
    posted: list[str] = []

    def capture(route) -> None:
        posted.append(route.request.post_data or "")
        route.abort()

    page.route("**/restore/", capture)
    page.locator("#submit-pipeline").click()
    page.wait_for_timeout(500)
    submitted = json.loads(parse_qs(posted[0])["pipeline_json"][0])
    assert submitted[0] == {"op": "crop", "params": {"rect": rect}}, submitted
    assert submitted[1]["op"] == "colorize_hints"
    assert submitted[1]["params"]["hints"] == hand, submitted

    # Rotate by 90 degrees (counter-clockwise, np.rot90) then hints: the shown pixel (x, y)
    # lands at (y, W - x) of the rotated H x W image, by hand.
    page.unroute("**/restore/")
    goto(page, f"{live_server.url}/artifacts/{master.pk}/restore/")
    first = page.locator(".pipeline-row").nth(0)
    first.locator("select.op-select").select_option("rotate")
    first.locator("[data-param='angle'] input.num").fill("90")
    page.locator("#add-step").click()
    second = page.locator(".pipeline-row").nth(1)
    second.locator("select.op-select").select_option("colorize_hints")
    second.get_by_role("button", name="Place hints on the image").click()
    assert json.loads(page.locator("#stage").get_attribute("data-hint-map")) == [H, W]
    x, y = click_at_pixel(page, stage, 60, 40, W, H)
    hints = page.evaluate("window.workbenchPipeline()[1].params.hints")
    assert [(h["x"], h["y"]) for h in hints] == [(y, W - x)], hints
    # The quick preview runs on the shown input, with the hint mapped back onto it.
    with page.expect_request(lambda r: "hints-preview" in r.url) as preview:
        page.locator("#hint-preview-button").click()
    sent = json.loads(preview.value.post_data)["hints"]
    assert [(h["x"], h["y"]) for h in sent] == [(x, y)], sent
    expect(page.locator("#hint-preview")).to_be_visible(timeout=60_000)
    shot(page, "geometry-04-after-rotate")
    assert not errors, errors
    context.close()
