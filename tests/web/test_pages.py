"""Page tests with Django's test client: what each page shows, and what it must not show."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.web.support import PASSWORD, ai_weights, derive

pytestmark = pytest.mark.django_db


def login(client, user) -> None:
    assert client.login(username=user.username, password=PASSWORD)


def test_anonymous_visitors_are_sent_to_the_login_page(client, catalogue):
    response = client.get(reverse("web:photo", args=[catalogue.photo.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert (
        client.get(reverse("web:artifact-file", args=[catalogue.photo.master_id])).status_code
        == 404
    )


def test_login_page_renders(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content


@pytest.mark.parametrize(
    "query", ["鲁迅", "周树人", "魯迅", "Lu Hsün", "lu xun", "ACC-1927", "Shanghai"]
)
def test_search_finds_names_in_any_script_titles_and_accession_numbers(client, catalogue, query):
    login(client, catalogue.viewer)
    response = client.get(reverse("web:search"), {"q": query})
    assert response.status_code == 200
    assert catalogue.photo.title in response.content.decode()


def test_search_and_pages_hide_restricted_records(client, catalogue):
    login(client, catalogue.viewer)
    for query in ("秘密", "Secret", "ACC-SECRET"):
        body = client.get(reverse("web:search"), {"q": query}).content.decode()
        assert "Secret Sitter" not in body and "Restricted portrait" not in body
    hidden = catalogue.restricted_photo
    assert client.get(reverse("web:photo", args=[hidden.pk])).status_code == 404
    assert (
        client.get(reverse("web:figure", args=[catalogue.restricted_figure.pk])).status_code == 404
    )
    for name in ("artifact", "artifact-file", "artifact-preview", "artifact-prov"):
        assert client.get(reverse(f"web:{name}", args=[hidden.master_id])).status_code == 404
    # A restoration made from a restricted scan is hidden too.
    derived = derive(hidden.master)
    assert client.get(reverse("web:artifact", args=[derived.pk])).status_code == 404
    assert client.get(reverse("web:artifact-heatmap", args=[derived.pk])).status_code == 404


def test_auditor_sees_restricted_records(client, catalogue):
    login(client, catalogue.restorer)  # restorer + auditor
    body = client.get(reverse("web:search"), {"q": "秘密"}).content.decode()
    assert "Secret Sitter" in body and "Restricted portrait" in body
    assert client.get(reverse("web:photo", args=[catalogue.restricted_photo.pk])).status_code == 200


def test_figure_page_shows_names_facts_citations_photos_references_notes(client, catalogue):
    login(client, catalogue.viewer)
    body = client.get(reverse("web:figure", args=[catalogue.figure.pk])).content.decode()
    for text in (
        "鲁迅",
        "魯迅",
        'lang="zh-Hant"',
        "周树人",
        "1881-09-25",
        "Interview with Zhou Haiying",
        "the collar was dark blue",
        "Portrait in Shanghai",
        "Period gown",
        "领口的颜色",
    ):
        assert text in body, text


def test_photo_page_shows_record_exif_and_restorations(client, catalogue):
    derived = derive(catalogue.photo.master)
    derive(derive(derived, kind="ai", operation="face_restore", weights=ai_weights()))
    login(client, catalogue.viewer)
    response = client.get(reverse("web:photo", args=[catalogue.photo.pk]))
    body = response.content.decode()
    for text in (
        "ACC-1927-001",
        "Silver gelatin print",
        "rightsstatements.org",
        "about 1927",
        reverse("web:artifact", args=[derived.pk]),
    ):
        assert text in body, text
    assert body.count('class="thumb restoration"') == 3
    assert body.count('class="badge ai"') == 2  # the AI step's output and what was made from it
    assert "Restore this scan" not in body  # a viewer may not submit jobs


def test_artifact_page_answers_how_was_this_altered(client, catalogue):
    weights = ai_weights()
    first = derive(catalogue.photo.master, citation_ids=(catalogue.citation.pk,))
    second = derive(first, kind="ai", operation="face_restore", weights=weights)
    login(client, catalogue.restorer)
    response = client.get(reverse("web:artifact", args=[second.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "AI-restored:" in body and "faces repainted by GFPGANv1.4" in body
    assert weights.sha256 in body  # the model's full sha256 in the step panel
    assert 'id="compare-range"' in body
    # Compared with the previous step by default (issue 14); every ancestor stays selectable.
    assert f'value="{first.pk}" selected' in body
    assert f'<option value="{catalogue.photo.master_id}"' in body
    assert body.count('class="step-node') == 3  # ingest + two steps
    assert "the collar was dark blue" in body and "Repair the face" in body
    compare = client.get(
        reverse("web:artifact", args=[second.pk]), {"compare": catalogue.photo.master_id}
    )
    assert f'value="{catalogue.photo.master_id}" selected' in compare.content.decode()


def test_classical_only_artifact_says_no_ai(client, catalogue):
    derived = derive(catalogue.photo.master)
    login(client, catalogue.viewer)
    body = client.get(reverse("web:artifact", args=[derived.pk])).content.decode()
    assert "No AI-generated detail" in body
    assert "Verify lineage" not in body  # a viewer may not run verify (API: add_auditrun)


def test_files_previews_and_heatmaps_are_served(client, catalogue, isolated_storage):
    derived = derive(catalogue.photo.master)
    login(client, catalogue.viewer)
    file = client.get(reverse("web:artifact-file", args=[derived.pk]))
    assert file.status_code == 200 and file["Content-Type"] == "image/png"
    assert b"".join(file.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    preview = client.get(reverse("web:artifact-preview", args=[derived.pk]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg"
    heat = client.get(reverse("web:artifact-heatmap", args=[derived.pk]))
    assert heat.status_code == 200 and heat["Content-Type"] == "image/png"
    cached = list((isolated_storage / "previews" / "diff").rglob("*.png"))
    assert len(cached) == 1  # cached under previews/, never objects/
    assert (
        client.get(reverse("web:artifact-heatmap", args=[catalogue.photo.master_id])).status_code
        == 404
    )
    second = derive(derived)
    url = reverse("web:artifact-heatmap", args=[second.pk])
    assert client.get(url, {"against": catalogue.photo.master_id}).status_code == 200
    stranger = catalogue.reference.artifact_id  # not an ancestor of ``second``
    assert client.get(url, {"against": stranger}).status_code == 404


def test_heatmap_is_hot_where_the_step_changed_pixels():
    import numpy as np

    from web.heatmap import render_heatmap

    before = np.full((40, 40, 3), 100.0, dtype=np.float32)
    after = before.copy()
    after[10:20, 10:20] += 80
    heat = render_heatmap(before, after).astype(int).sum(axis=2)
    assert heat[15, 15] > 3 * heat[30, 30]


def test_verify_reports_the_audit(client, catalogue):
    derived = derive(catalogue.photo.master)
    login(client, catalogue.restorer)
    url = reverse("web:artifact-verify", args=[derived.pk])
    data = client.post(url, HTTP_ACCEPT="application/json").json()
    assert data["ok"] is True and data["checked"] >= 3 and data["problems"] == []
    page = client.post(url)  # without JavaScript: a page
    assert "Verified" in page.content.decode()
    client.logout()
    login(client, catalogue.viewer)
    assert client.post(url, HTTP_ACCEPT="application/json").status_code == 403


def test_prov_download(client, catalogue):
    derived = derive(catalogue.photo.master)
    login(client, catalogue.viewer)
    response = client.get(reverse("web:artifact-prov", args=[derived.pk]), {"format": "json"})
    assert response.status_code == 200
    assert "entity" in json.loads(response.content)
    assert (
        client.get(reverse("web:artifact-prov", args=[derived.pk]), {"format": "xml"}).status_code
        == 400
    )


def test_pipeline_form_queues_a_job_and_reports_bad_params(client, catalogue):
    master = catalogue.photo.master_id
    url = reverse("web:job-new", args=[master])
    login(client, catalogue.viewer)
    assert client.get(url).status_code == 403
    client.logout()
    login(client, catalogue.restorer)
    assert client.get(url).status_code == 200
    bad = client.post(
        url,
        {
            "step_count": "2",
            "step-0-op": "denoise",
            "step-0-params": '{"strength": 99999}',
            "step-1-op": "sharpen",
            "step-1-params": "{oops",
        },
    )
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "strength" in text and "not valid JSON" in text
    ok = client.post(
        url,
        {
            "step_count": "1",
            "step-0-op": "denoise",
            "step-0-params": '{"strength": 5}',
            "seed": "3",
        },
    )
    assert ok.status_code == 302
    job_url = ok["Location"]
    job_page = client.get(job_url)
    assert job_page.status_code == 200 and "denoise" in job_page.content.decode()
    status = client.get(job_url + "status.json").json()
    assert status["status"] == "queued" and 0 <= status["progress"] <= 1
    cancel = client.post(job_url + "cancel/")
    assert cancel.status_code == 302
    assert client.get(job_url + "status.json").json()["status"] == "cancelled"


def test_manual_step_form_records_a_cited_step(client, catalogue):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.web.support import scan_bytes

    login(client, catalogue.restorer)
    url = reverse("web:manual-new", args=[catalogue.photo.master_id])
    page = client.get(url)
    assert page.status_code == 200 and "the collar was dark blue" in page.content.decode()
    upload = SimpleUploadedFile("retouched.png", scan_bytes(11), content_type="image/png")
    response = client.post(
        url,
        {
            "image": upload,
            "rationale": "Removed the crease by hand.",
            "tool": "GIMP",
            "citations": [str(catalogue.citation.pk)],
            "references": [str(catalogue.reference.pk)],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    body = client.get(response["Location"]).content.decode()
    assert "Removed the crease by hand." in body and "Hand-retouched" in body
    assert "Period gown" in body


def test_interface_in_simplified_chinese(client, catalogue):
    login(client, catalogue.viewer)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    body = client.get(reverse("web:figure", args=[catalogue.figure.pk])).content.decode()
    assert '<html lang="zh-Hans">' in body
    assert "名称与异名" in body and "搜索" in body


def test_compiled_catalogue_matches_the_po_file():
    """The committed .mo must be compiled from the committed .po (CI may lack gettext)."""
    from web.i18n import compile_po, po_path, read_mo

    committed = read_mo(po_path().with_suffix(".mo"))
    assert committed == read_mo_bytes(compile_po(po_path())), "run: python -m web.i18n"


def test_pure_python_compiler_agrees_with_msgfmt(tmp_path):
    import shutil
    import subprocess

    from web.i18n import compile_po, po_path, read_mo

    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext (msgfmt) is not installed")
    po = tmp_path / "t.po"
    po.write_text(
        po_path().read_text(encoding="utf-8")
        + '\n#, fuzzy\nmsgid "fuzzy one"\nmsgstr "模糊"\n'
        + '\nmsgctxt "menu"\nmsgid "File"\nmsgstr "文件菜单"\n'
        + '\nmsgid "untranslated"\nmsgstr ""\n',
        encoding="utf-8",
    )
    subprocess.run([msgfmt, "-o", str(tmp_path / "gnu.mo"), str(po)], check=True)
    ours = read_mo_bytes(compile_po(po))
    gnu = read_mo(tmp_path / "gnu.mo")
    ours.pop(""), gnu.pop("")  # msgfmt trims the header; the header is not looked up
    assert ours == gnu
    assert "fuzzy one" not in ours and "menu\x04File" in ours


def read_mo_bytes(data: bytes) -> dict:
    import io

    from web.i18n import read_mo

    return read_mo(io.BytesIO(data))


def test_content_credentials_download(client, catalogue, settings, tmp_path):
    from restoration.exports.c2pa import signing_material_create

    derived = derive(catalogue.photo.master)
    login(client, catalogue.viewer)
    url = reverse("web:artifact-export", args=[derived.pk])
    settings.C2PA_CERT_CHAIN = tmp_path / "c2pa" / "chain.pem"
    settings.C2PA_PRIVATE_KEY = tmp_path / "c2pa" / "leaf.key"
    missing = client.get(url, {"format": "jpeg"})
    assert missing.status_code == 503 and b"c2pa_init" in missing.content
    signing_material_create(
        cert_chain=settings.C2PA_CERT_CHAIN,
        private_key=settings.C2PA_PRIVATE_KEY,
        trust_anchors=tmp_path / "c2pa" / "ca.pem",
    )
    response = client.get(url, {"format": "jpeg"})
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response.content[:2] == b"\xff\xd8" and b"c2pa" in response.content
    assert client.get(url, {"format": "gif"}).status_code == 400


def test_artifact_page_queries_do_not_grow_with_the_lineage(client, catalogue):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    short = derive(catalogue.photo.master, citation_ids=(catalogue.citation.pk,))
    long = short
    for _ in range(5):
        long = derive(long, citation_ids=(catalogue.citation.pk,))
    login(client, catalogue.viewer)
    client.get(reverse("web:artifact", args=[short.pk]))  # warm caches (content types, session)
    counts = []
    for artifact in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("web:artifact", args=[artifact.pk])).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_public_catalogue_opens_unrestricted_pages_to_anonymous_readers(
    client, catalogue, settings
):
    settings.ARCHIVE_PUBLIC_CATALOGUE = True
    assert client.get(reverse("web:photo", args=[catalogue.photo.pk])).status_code == 200
    assert (
        client.get(reverse("web:artifact-preview", args=[catalogue.photo.master_id])).status_code
        == 200
    )
    assert client.get(reverse("web:photo", args=[catalogue.restricted_photo.pk])).status_code == 404
    body = client.get(reverse("web:artifact", args=[catalogue.photo.master_id])).content.decode()
    assert "Verify lineage" not in body and "Run a pipeline" not in body
    assert client.get(reverse("web:job-new", args=[catalogue.photo.master_id])).status_code == 403
