"""The workbench in real headless Chromium (issue 14), one server, several scenarios, each with
screenshots in test-artifacts/screenshots/workbench-*.png: the first visit; a figure catalogued
in Chinese with a traditional variant; three scans uploaded at once; three colour hints placed by
clicking (one colour from a reference image), each citing a source, whose submission equals the
API call built by hand; a painted mask used by descratch; a crop dragged on the image and
compared aligned; an approval; a batch of two photos; the hint editor and slider by keyboard
only; a phone-sized screen."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import re
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
from PIL import Image

from tests.web.support import PASSWORD, build_catalogue, ensure_roles, make_user, scan_bytes
from tests.web.test_browser import CHROMIUM, browser, job_worker  # noqa: F401  (fixtures)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing"),
]


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"workbench-{name}.png"), full_page=True)


def js_round(value: float) -> int:
    return math.floor(value + 0.5)


def click_at_pixel(page, stage, x: int, y: int, width: int, height: int) -> tuple[int, int]:
    """Click the stage where input pixel (x, y) is shown; return the pixel the page computes
    from the (integer) mouse position, by the page's own rule."""
    box = stage.bounding_box()
    cx = round(box["x"] + (x + 0.5) / width * box["width"])
    cy = round(box["y"] + (y + 0.5) / height * box["height"])
    page.mouse.click(cx, cy)
    px = min(width - 1, max(0, js_round((cx - box["x"]) / box["width"] * width)))
    py = min(height - 1, max(0, js_round((cy - box["y"]) / box["height"] * height)))
    return px, py


def png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def goto(page, url: str) -> None:
    page.goto(url)
    retry_locked(page, "main#content")


def retry_locked(page, ready: str) -> None:
    """Reload a page that met the worker's write on the test's shared in-memory SQLite (a 500
    "table is locked", see wait_job) until ``ready`` is there."""
    for _ in range(5):
        if page.locator(ready).count():
            return
        assert "Server Error" in page.content(), page.content()[:500]
        page.wait_for_timeout(300)
        page.reload()


def wait_job(page, expect, timeout: int = 120_000) -> None:
    """Wait for the job page to show success. The test database is SQLite in memory with a
    shared cache, where a read that meets the worker's write fails at once ("table is
    locked") instead of waiting as the real file database does (busy timeout, WAL): such a
    500 is retried here; anything else fails the test."""
    page.wait_for_load_state()
    retry_locked(page, "#job-status")
    expect(page.locator("#job-status")).to_have_attribute(
        "data-status", "succeeded", timeout=timeout
    )


def settle_batch(page, timeout_s: float = 120.0) -> None:
    """Wait for the batch's jobs to end. On the test's in-memory SQLite a job's enqueue can
    meet the worker's write and fail ("table is locked"; the job stays queued until resumed,
    as after a broker outage): send such a job again, as ``job_resume_stale`` does at start-up."""
    import time

    from archive.models import Batch
    from restoration.jobs import enqueue
    from restoration.models import Job

    batch = Batch.objects.order_by("-pk").first()
    deadline = time.monotonic() + timeout_s
    resent: set[int] = set()
    while time.monotonic() < deadline:
        jobs = list(Job.objects.filter(pk__in=batch.job_ids))
        if all(j.status in ("succeeded", "failed", "cancelled") for j in jobs):
            return
        idle = [j for j in jobs if j.status == "queued" and j.pk not in resent]
        if idle and not any(j.status == "running" for j in jobs):
            page.wait_for_timeout(3000)
            for job in Job.objects.filter(pk__in=[j.pk for j in idle], status="queued"):
                enqueue(job.pk)
                resent.add(job.pk)
        page.wait_for_timeout(300)


def login(page, live_server, username: str) -> None:
    goto(page, f"{live_server.url}/accounts/login/?next=/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()


def test_workbench_scenarios(live_server, browser, job_worker):  # noqa: F811
    from playwright.sync_api import expect

    from archive.models import Figure, Photo
    from restoration.models import Artifact, Job, StepInput

    ensure_roles()
    archivist = make_user("archivist", "cataloguer", "restorer", "auditor")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # 1. The first visit to an empty archive explains itself.
    login(page, live_server, archivist.username)
    expect(page.locator("#first-steps")).to_be_visible()
    expect(page.locator("#first-steps a[href='/figures/new/']")).to_be_visible()
    expect(page.locator("#first-steps a[href='/photos/upload/']")).to_be_visible()
    shot(page, "01-first-visit")

    catalogue = build_catalogue()

    # 2. Catalogue a figure in Chinese with a traditional variant; EDTF checked as you type.
    page.locator("#language-select").select_option("zh-hans")
    page.locator(".lang-switch button").click()
    goto(page, f"{live_server.url}/figures/new/")
    page.locator("#id_name").fill("Li Dazhao")
    page.locator("#id_birth_date").fill("1889-13-29")
    expect(page.locator("#id_birth_date-check")).to_contain_text("✘")
    page.locator("#id_birth_date").fill("1889-10-29")
    expect(page.locator("#id_birth_date-check")).to_contain_text("✔ 1889-10-29")
    page.locator("#id_death_date").fill("1927-04-28")
    page.locator("#names-0-name").fill("李大钊")
    page.locator("#names-0-language").fill("zh-Hans")
    page.locator("#names-0-kind").select_option("preferred")
    page.locator("#names-1-name").fill("李大釗")
    page.locator("#names-1-language").fill("zh-Hant")
    page.locator("#names-2-name").fill("Li Ta-chao")
    page.locator("#names-2-language").fill("zh-Latn-wadegile")
    shot(page, "02-figure-form-zh")
    page.locator("#figure-form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("李大钊")
    expect(page.locator('td[lang="zh-Hant"]', has_text="李大釗")).to_be_visible()
    shot(page, "03-figure-zh")
    figure = Figure.objects.get(name="Li Dazhao")
    # Switch the language: the figure's heading follows it.
    page.locator("#language-select").select_option("en")
    page.locator(".lang-switch button").click()
    expect(page.locator("h1")).to_have_text("Li Dazhao")
    shot(page, "04-figure-en")

    # 3. Upload three scans at once, each with its progress bar and result.
    goto(page, f"{live_server.url}/photos/upload/?figure={figure.pk}")
    page.locator("#id_image").set_input_files(
        [
            {"name": f"box-{i}.png", "mimeType": "image/png", "buffer": png(100 + i)}
            for i in range(3)
        ]
    )
    page.locator("#id_carrier").select_option("glass_plate")
    page.locator("#upload-button").click()
    expect(page.locator(".upload-result[data-state='ingested']")).to_have_count(3, timeout=30_000)
    for bar in page.locator(".upload-result progress").all():
        expect(bar).to_have_js_property("value", 1)
    shot(page, "05-upload-three")
    uploaded = list(Photo.objects.filter(title__startswith="box-").order_by("title"))
    assert [p.title for p in uploaded] == ["box-0", "box-1", "box-2"]
    assert all(p.carrier == "glass_plate" and list(p.figures.all()) == [figure] for p in uploaded)

    # 4. Three colour hints placed by clicking, one colour from a reference image, each citing
    #    a source; a quick preview; the submission equals the API call built by hand.
    master = catalogue.photo.master
    W, H = master.width, master.height
    goto(page, f"{live_server.url}/artifacts/{master.pk}/restore/")
    row = page.locator(".pipeline-row").nth(0)
    # Defaults follow the chosen operation, each parameter with its widget and help.
    strength = row.locator("[data-param='strength'] input.num")
    expect(strength).to_have_value("8")
    strength.fill("30")
    row.locator("select.op-select").select_option("sharpen")
    expect(row.locator("[data-param='amount'] input.num")).to_have_value("0.8")
    expect(row.locator("[data-param='strength']")).to_have_count(0)
    expect(row.locator("[data-param='radius'] .helptext")).to_have_text("gaussian sigma in pixels")
    row.locator("select.op-select").select_option("denoise")
    expect(strength).to_have_value("8")
    row.locator("select.op-select").select_option("colorize_hints")
    expect(row.locator("[data-param='solve_pixels'] input.num")).to_have_value("250000")
    row.get_by_role("button", name="Place hints on the image").click()
    expect(page.locator("#hint-tools")).to_be_visible()
    stage = page.locator("#stage")
    page.locator("#hint-citation").select_option(str(catalogue.citation.pk))
    page.locator("#hint-radius").fill("4")
    hand: list[dict] = []
    page.locator(".swatch[data-color='#1f3a93']").click()
    x, y = click_at_pixel(page, stage, 100, 180, W, H)
    hand.append(
        {"x": x, "y": y, "color": "#1f3a93", "radius": 4, "citation": catalogue.citation.pk}
    )
    # The research beside the image: a reference image opens zoomable.
    page.locator(".ref-open").first.click()
    expect(page.locator("#ref-viewer")).to_be_visible()
    page.get_by_role("button", name="Zoom in").click()
    assert "scale(1.25)" in page.locator("#ref-viewer-img").evaluate("i => i.style.transform")
    shot(page, "06a-reference-zoom")
    page.locator("#ref-viewer-close").click()
    # The eyedropper: a colour from the reference image beside the picture.
    page.locator("#eyedropper").click()
    ref = page.locator(".ref-open img").first
    expect(ref).to_have_js_property("complete", True)
    rbox = ref.bounding_box()
    page.mouse.click(rbox["x"] + rbox["width"] * 0.5, rbox["y"] + rbox["height"] * 0.5)
    picked = page.locator("#hint-color").input_value()
    with Image.open(io.BytesIO(scan_bytes(3))) as im:  # the reference's pixels, by hand
        rgb = (
            np.asarray(im.convert("RGB"))[
                im.height // 2 - 1 : im.height // 2 + 2, im.width // 2 - 1 : im.width // 2 + 2
            ]
            .reshape(-1, 3)
            .mean(axis=0)
        )
    got = [int(picked[i : i + 2], 16) for i in (1, 3, 5)]
    assert all(abs(g - e) <= 12 for g, e in zip(got, rgb, strict=True)), (picked, rgb)
    x, y = click_at_pixel(page, stage, 128, 60, W, H)
    hand.append({"x": x, "y": y, "color": picked, "radius": 4, "citation": catalogue.citation.pk})
    page.locator("#hint-color").evaluate("(el) => { el.value = '#7a1f1f'; }")
    x, y = click_at_pixel(page, stage, 200, 200, W, H)
    hand.append(
        {"x": x, "y": y, "color": "#7a1f1f", "radius": 4, "citation": catalogue.citation.pk}
    )
    expect(page.locator("#hint-list li")).to_have_count(3)
    expect(row.locator(".hints-summary")).to_have_text("3 hint(s)")
    page.locator("#hint-preview-button").click()
    expect(page.locator("#hint-preview")).to_be_visible(timeout=60_000)
    expect(page.locator("#hint-preview-img")).to_have_js_property("complete", True)
    assert page.locator("#hint-preview-img").evaluate("i => i.naturalWidth") > 0
    shot(page, "06-hints")
    with page.expect_request(lambda r: r.method == "POST" and "/restore/" in r.url) as posted:
        page.locator("#submit-pipeline").click()
    submitted = json.loads(parse_qs(posted.value.post_data)["pipeline_json"][0])
    assert submitted == [
        {"op": "colorize_hints", "params": {"hints": hand, "solve_pixels": 250000}}
    ], submitted
    page.wait_for_load_state()
    retry_locked(page, "#job-live")
    web_job = Job.objects.order_by("-pk").first()
    # The same hints through the API, built by hand: the same stored pipeline.
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    api = page.request.post(
        f"{live_server.url}/api/v1/jobs/",
        data=json.dumps(
            {"input": master.pk, "steps": [{"op": "colorize_hints", "params": {"hints": hand}}]}
        ),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert api.status == 202, api.text()
    api_job = Job.objects.get(pk=api.json()["id"])
    assert api_job.pipeline == web_job.pipeline
    wait_job(page, expect)
    # Equal pipelines are enough: the API's copy need not run (cancelled unless already done),
    # and it must end before the next write (the test's SQLite is shared, see wait_job).
    from restoration.jobs import JobNotCancellable, job_cancel

    with contextlib.suppress(JobNotCancellable):
        job_cancel(job_id=api_job.pk, user=archivist)
    for _ in range(300):
        api_job.refresh_from_db()
        if api_job.status in ("succeeded", "failed", "cancelled"):
            break
        page.wait_for_timeout(200)
    shot(page, "07-hints-job")

    # 5. Paint a mask, save it as an artifact, run descratch with it.
    goto(page, f"{live_server.url}/artifacts/{master.pk}/restore/")
    row = page.locator(".pipeline-row").nth(0)
    row.locator("select.op-select").select_option("descratch")
    row.get_by_role("button", name="Paint a mask on the image").click()
    page.locator("#mask-auto").click()
    expect(page.locator("#mask-canvas")).to_have_attribute("data-auto", "1", timeout=60_000)
    box = stage.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.55, steps=8)
    page.mouse.up()
    shot(page, "08-mask-painted")
    page.locator("#mask-save").click()
    expect(page.locator("#mask-status")).to_have_attribute("data-mask", re.compile(r"^\d+$"))
    mask_id = int(page.locator("#mask-status").get_attribute("data-mask"))
    mask = Artifact.objects.get(pk=mask_id)
    assert mask.role == "mask" and mask.width == W and mask.height == H
    expect(row.locator("[data-param='mask'] select")).to_have_value(str(mask_id))
    page.locator("#submit-pipeline").click()
    wait_job(page, expect)
    job = Job.objects.order_by("-pk").first()
    assert job.pipeline[0]["params"]["mask"] == mask_id
    descratched = job.steps.get()
    assert StepInput.objects.filter(step=descratched, role="mask", artifact_id=mask_id).exists()
    shot(page, "09-descratch-with-mask")

    # 6. Crop by dragging on the image; the result compares aligned with the previous step.
    goto(page, f"{live_server.url}/artifacts/{master.pk}/restore/")
    row = page.locator(".pipeline-row").nth(0)
    row.locator("select.op-select").select_option("crop")
    row.get_by_role("button", name="Drag on the image").click()
    box = stage.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.7, steps=6)
    page.mouse.up()
    rect = {k: int(row.locator(f".rect-{k}").input_value()) for k in ("x", "y", "width", "height")}
    assert abs(rect["x"] - W * 0.25) <= 3 and abs(rect["width"] - W * 0.5) <= 3, rect
    shot(page, "10-crop-drag")
    page.locator("#submit-pipeline").click()
    wait_job(page, expect)
    page.locator("#job-output-link").click()
    page.wait_for_load_state()
    retry_locked(page, "#compare-select")
    expect(page.locator("#compare-select")).to_have_value(str(master.pk))  # the previous step
    after = page.locator("#after-img")
    before = page.locator("#before-img")
    expect(before).to_have_js_property("complete", True)
    a, b = after.bounding_box(), before.bounding_box()
    scale = a["width"] / rect["width"]
    # The ancestor is drawn at its own scale, shifted so the cropped region lies under the result.
    assert abs(b["x"] - (a["x"] - rect["x"] * scale)) <= 2, (a, b, rect)
    assert abs(b["y"] - (a["y"] - rect["y"] * scale)) <= 2, (a, b, rect)
    assert abs(b["width"] - W * scale) <= 2
    shot(page, "11-compare-aligned-wipe")
    page.get_by_label("Side by side").check()
    expect(page.locator("#compare-side")).to_be_visible()
    shot(page, "12-compare-side")
    page.get_by_label("Difference").check()
    shot(page, "13-compare-difference")
    cropped = Job.objects.order_by("-pk").first().output

    # 7. Approve a restoration: the photo page shows it first, the API exposes it.
    goto(page, f"{live_server.url}/photos/{catalogue.photo.pk}/")
    card = page.locator(f".restoration[data-artifact='{cropped.pk}']")
    card.locator("summary").click()
    card.locator("textarea").fill("Crop to the sitter, as in the 1927 print.")
    card.get_by_role("button", name=f"Approve #{cropped.pk}").click()
    expect(page.locator("#approved")).to_contain_text("Crop to the sitter")
    assert page.locator("#approved").evaluate(
        "el => el.compareDocumentPosition(document.getElementById('h-restorations')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    shot(page, "14-approved")
    data = page.request.get(f"{live_server.url}/api/v1/photos/{catalogue.photo.pk}/").json()
    assert data["approved_artifact"] == cropped.pk

    # 8. A batch of two photos: one pipeline, a page with each job's state.
    goto(page, f"{live_server.url}/")
    page.get_by_label("Select box-0").check()
    page.get_by_label("Select box-1").check()
    page.locator("#batch-button").click()
    page.locator(".pipeline-row select.op-select").select_option("clahe")
    page.locator("#submit-pipeline").click()
    page.wait_for_load_state()
    retry_locked(page, ".batch-job")
    expect(page.locator(".batch-job")).to_have_count(2)
    settle_batch(page)
    expect(page.locator("#batch-jobs")).to_have_attribute("data-done", "1", timeout=120_000)
    expect(page.locator(".batch-job[data-status='succeeded']")).to_have_count(2)
    shot(page, "15-batch")

    # 8b. Progress that moves, with the time left; cancel within 2 s; the "queued" message
    #     clears once the job has ended.
    goto(page, f"{live_server.url}/artifacts/{master.pk}/restore/")
    page.locator(".pipeline-row select.op-select").select_option("test_tiles")
    page.locator("[data-param='tiles'] input.num").fill("300")
    page.locator("[data-param='sleep'] input.num").fill("0.1")
    page.locator("#submit-pipeline").click()
    page.wait_for_load_state()
    retry_locked(page, "#job-live")
    expect(page.locator(".messages li.success")).to_be_visible()
    page.wait_for_function("document.getElementById('job-progress').value > 0.05", timeout=60_000)
    first = page.locator("#job-progress").evaluate("p => p.value")
    expect(page.locator("#job-eta")).to_contain_text("left")
    page.wait_for_function(f"document.getElementById('job-progress').value > {first}")
    shot(page, "15b-progress")
    started = page.evaluate("performance.now()")
    clicked = dt.datetime.now(dt.UTC)
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator("#job-status")).to_have_attribute(
        "data-status", "cancelled", timeout=10_000
    )
    shown_s = (page.evaluate("performance.now()") - started) / 1000
    from restoration.models import JobEvent

    stopped = JobEvent.objects.get(
        job_id=Job.objects.order_by("-pk").first().pk, to_status="cancelled"
    )
    effect_s = (stopped.at - clicked).total_seconds()
    print(
        f"cancel: the job stopped {effect_s:.2f} s after the click, the page said so after {shown_s:.2f} s"
    )
    assert effect_s < 2.0, effect_s
    assert shown_s < 3.0, shown_s
    expect(page.locator(".messages li.success")).to_have_count(0)
    shot(page, "15c-cancelled")

    # 8c. Rotate by dragging on the image (the preview turns with it).
    goto(page, f"{live_server.url}/artifacts/{master.pk}/restore/")
    row = page.locator(".pipeline-row").nth(0)
    row.locator("select.op-select").select_option("rotate")
    row.get_by_role("button", name="Drag on the image to rotate").click()
    box = stage.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(
        box["x"] + box["width"] * 0.6 - box["width"] / 6, box["y"] + box["height"] * 0.5, steps=5
    )
    page.mouse.up()
    angle = float(row.locator("[data-param='angle'] input.num").input_value())
    assert 28 <= angle <= 32, angle
    turned = page.locator("#stage-img").evaluate("i => i.style.transform")
    assert re.fullmatch(r"rotate\((-?[\d.]+)deg\)", turned) and float(turned[7:-4]) == -angle
    assert page.evaluate("window.workbenchPipeline()")[0]["params"]["angle"] == angle
    shot(page, "15d-rotate-drag")

    # 9. Keyboard only: the hint editor and the slider.
    goto(page, f"{live_server.url}/artifacts/{master.pk}/restore/")
    op = page.locator(".pipeline-row select.op-select")
    op.focus()
    page.keyboard.press("Home")
    for _ in range(20):
        if op.input_value() == "colorize_hints":
            break
        page.keyboard.press("ArrowDown")
    assert op.input_value() == "colorize_hints"
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.tool") == "hints":
            break
    assert page.evaluate("document.activeElement.dataset.tool") == "hints"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "stage"
    step = max(1, round(max(W, H) / 100))
    for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+ArrowLeft")
    page.keyboard.press("Enter")
    hints = page.evaluate("window.workbenchPipeline()[0].params.hints")
    assert [(h["x"], h["y"]) for h in hints] == [
        (W // 2 + 2 * step, H // 2 + step),
        (W // 2 + 2 * step - 10 * step, H // 2 + step),
    ]
    page.keyboard.press("Delete")
    assert len(page.evaluate("window.workbenchPipeline()[0].params.hints")) == 1
    shot(page, "16-keyboard-hints")
    # The compare slider by keyboard.
    goto(page, f"{live_server.url}/artifacts/{cropped.pk}/")
    page.locator("#compare-range").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#compare-range")).to_have_value("52")
    assert page.locator("#compare").evaluate("el => el.style.getPropertyValue('--pos')") == "52%"

    # 10. A phone-sized screen: one column, nothing wider than the screen.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=context.storage_state()
    )
    phone_page = phone.new_page()
    phone_page.goto(f"{live_server.url}/artifacts/{master.pk}/restore/")
    phone_page.locator(".pipeline-row select.op-select").select_option("colorize_hints")
    phone_page.get_by_role("button", name="Place hints on the image").click()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone_page, "17-phone-workbench")
    phone_page.goto(f"{live_server.url}/photos/{catalogue.photo.pk}/")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone_page, "18-phone-photo")
    phone.close()

    assert not errors, errors
    context.close()
