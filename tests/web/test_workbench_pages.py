"""The workbench pages without a browser (issue 14): forms from the operations' schemas,
cataloguing, approval, masks, batches, the first visit and the figure's name by language."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.test import Client
from PIL import Image

from archive.models import Batch, Figure, Photo
from restoration.models import Artifact, Job
from tests.web.support import PASSWORD, derive, ensure_roles, make_user

pytestmark = pytest.mark.django_db


def login(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def specs_of(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="operation-specs" type="application/json">') + len(
        '<script id="operation-specs" type="application/json">'
    )
    return {s["name"]: s for s in json.loads(html[start : html.index("</script>", start)])}


def test_restore_form_is_built_from_the_operations_schemas(catalogue):
    client = login(catalogue.restorer)
    response = client.get(f"/artifacts/{catalogue.photo.master_id}/restore/")
    assert response.status_code == 200
    specs = specs_of(response)
    denoise = {p["name"]: p for p in specs["denoise"]["params"]}
    assert denoise["strength"]["widget"] == "slider"
    assert denoise["strength"]["default"] == 8.0 and denoise["strength"]["max"] == 50
    assert denoise["patch_size"]["widget"] == "choice"
    assert specs["colorize_hints"]["params"][0]["widget"] == "hints"
    assert specs["crop"]["params"][0]["widget"] == "rect"
    assert {p["name"]: p for p in specs["descratch"]["params"]}["mask"]["widget"] == "artifact"
    assert all(p["help"] for p in specs["rotate"]["params"])  # help for every parameter
    # The research beside the image: the figure's reference image and the figure's citation
    # only (not every citation of the archive).
    html = response.content.decode()
    assert "Period gown" in html and "the collar was dark blue" in html
    # In Chinese, names, descriptions and help are translated.
    client.cookies["django_language"] = "zh-hans"
    zh = specs_of(
        client.get(
            f"/artifacts/{catalogue.photo.master_id}/restore/", HTTP_ACCEPT_LANGUAGE="zh-hans"
        )
    )
    assert zh["denoise"]["label"] == "降噪"
    assert "非局部均值" in zh["denoise"]["description"]


def test_restore_form_submits_the_api_steps(catalogue):
    client = login(catalogue.restorer)
    steps = [{"op": "clahe", "params": {"clip_limit": 3.0}}]
    response = client.post(
        f"/artifacts/{catalogue.photo.master_id}/restore/",
        {"pipeline_json": json.dumps(steps), "seed": "0"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get()
    assert job.pipeline[0]["op"] == "clahe" and job.pipeline[0]["params"]["clip_limit"] == 3.0
    bad = client.post(
        f"/artifacts/{catalogue.photo.master_id}/restore/",
        {"pipeline_json": json.dumps([{"op": "denoise", "params": {"strength": 99}}])},
    )
    assert bad.status_code == 400
    assert "Step 1, strength: must be in [0, 50], got 99.0" in bad.content.decode()


def test_mask_painted_by_hand_is_an_artifact_in_the_lineage(catalogue):
    client = login(catalogue.restorer)
    master = catalogue.photo.master
    mask = np.zeros((master.height, master.width), np.uint8)
    mask[10:20, 5:50] = 255
    buf = io.BytesIO()
    Image.fromarray(mask).save(buf, format="PNG")
    buf.seek(0)
    buf.name = "mask.png"
    response = client.post(f"/artifacts/{master.pk}/masks/", {"mask": buf})
    assert response.status_code == 201, response.content
    artifact = Artifact.objects.get(pk=response.json()["id"])
    assert artifact.role == "mask"
    step = artifact.generated_by
    assert step.kind == "manual" and step.operation == "mask_paint"
    assert list(step.inputs.values_list("artifact_id", "role")) == [(master.pk, "image")]
    # Offered by the descratch form, and accepted by a job.
    specs = specs_of(client.get(f"/artifacts/{master.pk}/restore/"))
    mask_param = {p["name"]: p for p in specs["descratch"]["params"]}["mask"]
    assert [c["value"] for c in mask_param["choices"]] == [artifact.pk]
    response = client.post(
        f"/artifacts/{master.pk}/restore/",
        {"pipeline_json": json.dumps([{"op": "descratch", "params": {"mask": artifact.pk}}])},
    )
    assert response.status_code == 302
    # A mask of the wrong size is refused with the reason, nothing written.
    small = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(small, format="PNG")
    small.seek(0)
    small.name = "m.png"
    count = Artifact.objects.count()
    bad = client.post(f"/artifacts/{master.pk}/masks/", {"mask": small})
    assert bad.status_code == 400 and "the mask is 4x4" in bad.json()["message"]
    assert Artifact.objects.count() == count


def test_approve_a_restoration(catalogue):
    curator = make_user("curator", "cataloguer")
    result = derive(catalogue.photo.master)
    client = login(curator)
    assert client.get(f"/api/v1/photos/{catalogue.photo.pk}/").json()["approved_artifact"] is None
    response = client.post(
        f"/photos/{catalogue.photo.pk}/approve/", {"artifact": result.pk, "note": "best skin tones"}
    )
    assert response.status_code == 302
    photo = Photo.objects.get(pk=catalogue.photo.pk)
    assert photo.approved_artifact_id == result.pk and photo.approved_by == curator
    # The approval is a catalogue write like any other: a revision says who and what.
    from archive.models import Revision

    revision = Revision.objects.filter(record_type="photo", record_id=photo.pk).last()
    assert revision is not None and revision.actor == "curator"
    assert revision.after["approved_artifact"] == result.pk
    page = client.get(f"/photos/{photo.pk}/").content.decode()
    assert page.index('id="approved"') < page.index('id="h-restorations"')
    assert "best skin tones" in page
    api = client.get(f"/api/v1/photos/{photo.pk}/").json()
    assert api["approved_artifact"] == result.pk
    # Another photo's artifact cannot be approved here.
    other = derive(catalogue.restricted_photo.master)
    client.post(f"/photos/{photo.pk}/approve/", {"artifact": other.pk})
    assert Photo.objects.get(pk=photo.pk).approved_artifact_id == result.pk
    # A viewer cannot approve.
    assert (
        login(catalogue.viewer)
        .post(f"/photos/{photo.pk}/approve/", {"artifact": result.pk})
        .status_code
        == 403
    )


def test_catalogue_a_figure_with_names_and_a_checked_date(catalogue):
    cataloguer = make_user("cat", "cataloguer")
    client = login(cataloguer)
    assert client.get("/figures/new/").status_code == 200
    bad = client.post("/figures/new/", {"name": "Li Dazhao", "birth_date": "1889-13-45"})
    assert bad.status_code == 400 and "not a valid EDTF date" in bad.content.decode()
    response = client.post(
        "/figures/new/",
        {
            "name": "Li Dazhao",
            "birth_date": "1889-10-29",
            "death_date": "1927-04-28",
            "names-0-name": "李大钊",
            "names-0-language": "zh-Hans",
            "names-0-kind": "preferred",
            "names-1-name": "李大釗",
            "names-1-language": "zh-Hant",
            "names-1-kind": "variant",
        },
    )
    assert response.status_code == 302
    figure = Figure.objects.get(name="Li Dazhao")
    assert [(n.name, n.language) for n in figure.names.all()] == [
        ("李大钊", "zh-Hans"),
        ("李大釗", "zh-Hant"),
    ]
    assert client.get("/edtf/?value=1925~").json()["ok"] is True
    assert client.get("/edtf/?value=19255").json()["ok"] is False
    # The heading follows the interface language.
    en = client.get(f"/figures/{figure.pk}/").content.decode()
    assert "<h1>Li Dazhao" in en
    client.cookies["django_language"] = "zh-hans"
    zh = client.get(f"/figures/{figure.pk}/").content.decode()
    assert "<h1>李大钊" in zh
    # Sources, citations attached from the record, notes.
    response = client.post("/sources/new/", {"kind": "book", "title": "守常文集", "date": "1950"})
    assert response.status_code == 302
    source_id = int(response["Location"].rstrip("/").split("/")[-1])
    response = client.post(
        f"/citations/new/?target=figure:{figure.pk}",
        {"source": source_id, "locator": "p. 3", "confidence": "probable", "claim": "born 1889"},
    )
    assert response.status_code == 302 and response["Location"] == f"/figures/{figure.pk}/"
    assert figure.citations.count() == 1
    response = client.post(
        f"/notes/new/?figure={figure.pk}", {"title": "Hair", "body": "short, parted left"}
    )
    assert response.status_code == 302 and figure.notes.count() == 1
    # A restorer without the cataloguer role may not.
    assert login(catalogue.restorer).get("/figures/new/").status_code == 403


def test_upload_several_scans_without_javascript(catalogue):
    from tests.web.support import scan_bytes

    client = login(make_user("cat", "cataloguer"))
    files = []
    for seed in (11, 12):
        f = io.BytesIO(scan_bytes(seed))
        f.name = f"scan-{seed}.png"
        files.append(f)
    dup = io.BytesIO(scan_bytes(11))
    dup.name = "again.png"
    junk = io.BytesIO(b"not an image")
    junk.name = "junk.png"
    response = client.post(
        "/photos/upload/", {"image": [*files, dup, junk], "carrier": "print", "date": "1920~"}
    )
    html = response.content.decode()
    assert html.count('data-state="ingested"') == 2
    assert html.count('data-state="duplicate"') == 1
    assert html.count('data-state="refused"') == 1
    assert Photo.objects.filter(title__startswith="scan-").count() == 2


def test_batch_of_two_photos(catalogue):
    client = login(catalogue.restorer)
    other = Photo.objects.exclude(
        pk__in=[catalogue.photo.pk, catalogue.restricted_photo.pk]
    ).first()
    ids = [catalogue.photo.pk, other.pk]
    page = client.get("/batches/new/", {"photo": ids})
    assert page.status_code == 200
    response = client.post(
        "/batches/new/",
        {"photo": ids, "pipeline_json": json.dumps([{"op": "clahe", "params": {}}])},
    )
    assert response.status_code == 302
    batch = Batch.objects.get()
    assert len(batch.job_ids) == 2
    status = client.get(f"/batches/{batch.pk}/status.json").json()
    assert [j["status"] for j in status["jobs"]] == ["queued", "queued"]
    assert client.get(f"/batches/{batch.pk}/").status_code == 200
    # A batch of someone else's jobs is not shown to a viewer who may not see them.
    assert login(catalogue.viewer).get(f"/batches/{batch.pk}/status.json").status_code in (200, 404)


def test_first_visit_explains_itself(db):
    ensure_roles()
    client = login(make_user("newcomer", "cataloguer"))
    html = client.get("/").content.decode()
    assert 'id="first-steps"' in html
    assert 'href="/figures/new/"' in html and 'href="/photos/upload/"' in html
    assert "models scan" in html


def test_every_operation_text_has_a_chinese_translation(db):
    """Names, descriptions and parameter help of the built-in operations, in 简体中文."""
    from django.utils import translation

    from web.operations import OPERATION_LABELS, operation_specs

    with translation.override("zh-hans"):
        specs = {s["name"]: s for s in operation_specs()}
    with translation.override("en"):
        english = {s["name"]: s for s in operation_specs()}
    for name in OPERATION_LABELS:
        zh, en = specs[name], english[name]
        assert zh["label"] != en["label"], name
        assert zh["description"] != en["description"], name
        for p_zh, p_en in zip(zh["params"], en["params"], strict=True):
            if p_en["help"]:
                assert p_zh["help"] != p_en["help"], (name, p_en["name"])
            assert p_zh["label"] != p_en["label"], (name, p_en["name"])


def test_alignment_follows_crops_rotations_and_resampling():
    """The comparison's map from an ancestor's pixels to a result's, checked against the
    engine's own geometry (np.rot90 for a quarter turn, cv2's matrix for other angles)."""
    import cv2

    from web.geometry import compose, step_matrix

    def apply(m, x, y):
        return (m[0][0] * x + m[0][1] * y + m[0][2], m[1][0] * x + m[1][1] * y + m[1][2])

    # A quarter turn counter-clockwise: pixel (10, 5) of a 100x50 image lands where np.rot90
    # puts it (centres: +0.5).
    image = np.zeros((50, 100), np.uint8)
    image[5, 10] = 255
    ((row, col),) = np.argwhere(np.rot90(image))
    m = step_matrix("rotate", {"angle": 90}, (100, 50), (50, 100))
    assert np.allclose(apply(m, 10.5, 5.5), (col + 0.5, row + 0.5))
    # 30 degrees with the canvas expanded: as cv2.getRotationMatrix2D plus the growth.
    out_w, out_h = 112, 93
    m = step_matrix("rotate", {"angle": 30, "expand": True}, (100, 50), (out_w, out_h))
    cv = cv2.getRotationMatrix2D((50.0, 25.0), 30, 1.0)
    cv[0, 2] += (out_w - 100) / 2
    cv[1, 2] += (out_h - 50) / 2
    assert np.allclose(np.array(m), cv)
    # Crop then a 2x upscale: (x, y) -> 2 * (x - 20, y - 10).
    chain = compose(
        step_matrix("upscale", {"scale": 2.0}, (40, 30), (80, 60)),
        step_matrix(
            "crop", {"rect": {"x": 20, "y": 10, "width": 40, "height": 30}}, (100, 50), (40, 30)
        ),
    )
    assert np.allclose(apply(chain, 25, 12), (10, 4))


def test_model_parameters_offer_the_registered_models(catalogue, tmp_path):
    from restoration.models import ModelWeights

    weights_file = tmp_path / "RealESRGAN_x4.pth"
    weights_file.write_bytes(b"not really weights")
    ModelWeights.objects.create(
        name="RealESRGAN_x4plus",
        sha256="0" * 64,
        architecture="ESRGAN",
        purpose="sr",
        scale=4,
        license="permissive",
        path=str(weights_file),
    )
    client = login(catalogue.restorer)
    specs = specs_of(client.get(f"/artifacts/{catalogue.photo.master_id}/restore/"))
    model = {p["name"]: p for p in specs["sr"]["params"]}["model"]
    assert model["widget"] == "model"
    assert [c["value"] for c in model["choices"]] == ["RealESRGAN_x4plus"]
    assert specs["face_restore"]["params"][0]["choices"] == []  # no face model registered


def test_reference_image_and_photo_edit_pages(catalogue):
    from archive.models import ReferenceImage
    from tests.web.support import scan_bytes

    client = login(make_user("cat", "cataloguer"))
    upload = io.BytesIO(scan_bytes(21))
    upload.name = "uniform.png"
    response = client.post(
        f"/references/new/?figure={catalogue.figure.pk}",
        {"image": upload, "kind": "costume", "title": "Student uniform, 1920s"},
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    reference = ReferenceImage.objects.get(title="Student uniform, 1920s")
    assert reference.figure == catalogue.figure and reference.artifact.role == "image"
    # Without a file: the field says so, nothing is written.
    missing = client.post(f"/references/new/?figure={catalogue.figure.pk}", {"kind": "costume"})
    assert (
        missing.status_code == 400
        and "Choose the reference image file." in missing.content.decode()
    )
    # Edit a photo's record; a bad EDTF date is refused on the field.
    url = f"/photos/{catalogue.photo.pk}/edit/"
    data = {"title": "Portrait in Shanghai", "carrier": "print", "date": "1927-02-30"}
    assert client.post(url, data).status_code == 400
    data["date"] = "1927-02"
    data["figures"] = [catalogue.figure.pk]
    assert client.post(url, data).status_code == 302
    assert Photo.objects.get(pk=catalogue.photo.pk).date == "1927-02"
