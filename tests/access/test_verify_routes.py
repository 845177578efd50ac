"""Verify is a POST that records an audit run; GET (API) and the artifact page show the last
one and never write."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from restoration.models import AuditRun
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def test_api_get_shows_the_last_audit_and_writes_nothing(users, world):
    url = f"/api/v1/artifacts/{world.derived.pk}/verify/"
    viewer, auditor = client_for(users["viewer"]), client_for(users["auditor"])
    before = viewer.get(url)
    assert before.status_code == 200 and before.json() == {"last_audit": None}
    assert not AuditRun.objects.exists()
    ran = auditor.post(url)
    assert ran.status_code == 200, ran.content
    report = ran.json()
    assert report["ok"] is True and report["checked"] >= 3
    assert AuditRun.objects.count() == 1
    shown = viewer.get(url).json()["last_audit"]
    assert shown == report
    assert {"started_at", "ended_at", "audit_run"} <= set(shown)
    assert AuditRun.objects.count() == 1  # reading again wrote nothing
    assert viewer.post(url).status_code == 403


def test_schema_documents_both_methods(users, world):
    schema = client_for(users["viewer"]).get("/api/schema/?format=json").json()
    path = next(p for p in schema["paths"] if p.endswith("/artifacts/{id}/verify/"))
    operations = schema["paths"][path]
    get_ref = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    post_ref = operations["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    components = schema["components"]["schemas"]
    last = components[get_ref["$ref"].rsplit("/", 1)[1]]
    assert "last_audit" in last["properties"] and last["properties"]["last_audit"]["nullable"]
    report = components[post_ref["$ref"].rsplit("/", 1)[1]]
    assert {"ok", "checked", "problems", "audit_run"} <= set(report["properties"])


def test_page_shows_the_last_audit_and_offers_the_post_to_auditors(users, world):
    page_url = reverse("web:artifact", args=[world.derived.pk])
    verify_url = reverse("web:artifact-verify", args=[world.derived.pk])
    viewer = Client()
    viewer.force_login(users["viewer"])
    body = viewer.get(page_url).content.decode()
    assert 'id="verify-form"' not in body and "Last verified" not in body
    assert viewer.get(verify_url).status_code == 405  # verify is never a GET
    assert viewer.post(verify_url, HTTP_ACCEPT="application/json").status_code == 403
    assert not AuditRun.objects.exists()

    auditor = Client(enforce_csrf_checks=True)
    auditor.force_login(users["auditor"])
    body = auditor.get(page_url).content.decode()
    assert 'id="verify-form"' in body and 'name="csrfmiddlewaretoken"' in body
    assert auditor.post(verify_url).status_code == 403  # no CSRF token: refused
    token = auditor.cookies["csrftoken"].value
    ran = auditor.post(verify_url, HTTP_ACCEPT="application/json", HTTP_X_CSRFTOKEN=token)
    assert ran.status_code == 200 and ran.json()["ok"] is True
    assert AuditRun.objects.count() == 1
    assert "Last verified" in viewer.get(page_url).content.decode()
    assert AuditRun.objects.count() == 1
