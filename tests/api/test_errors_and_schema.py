"""One JSON error shape whatever goes wrong, and an OpenAPI schema that describes it all;
Swagger UI served from local files."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

SHAPE = {"status", "code", "message", "fields"}


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == SHAPE and body["status"] == status and body["message"]
    return body


def test_error_shapes(clients, world):
    assert error(clients["anonymous"].get("/api/v1/figures/"), 401)["code"] == "not_authenticated"
    assert (
        error(clients["viewer"].post("/api/v1/figures/", {"name": "x"}, format="json"), 403)["code"]
        == "permission_denied"
    )
    assert error(clients["viewer"].get("/api/v1/figures/424242/"), 404)["code"] == "not_found"
    assert error(clients["viewer"].get(f"/api/v1/figures/{2**70}/"), 404)["code"] == "not_found"
    missing = error(clients["cataloguer"].post("/api/v1/figures/", {}, format="json"), 400)
    assert missing["fields"] == {"name": ["This field is required."]}
    assert missing["message"] == "name: This field is required."
    malformed = clients["cataloguer"].post(
        "/api/v1/figures/", "{not json", content_type="application/json"
    )
    assert error(malformed, 400)["code"] == "parse_error"
    wrong_type = clients["cataloguer"].post("/api/v1/figures/", "name=x", content_type="text/csv")
    assert error(wrong_type, 415)["code"] == "unsupported_media_type"
    assert (
        error(clients["viewer"].delete("/api/v1/operations/"), 405)["code"] == "method_not_allowed"
    )


def test_bad_query_input_is_400_never_500(clients, world):
    c = clients["viewer"]
    assert error(c.get("/api/v1/figures/", {"search": "a\x00b"}), 400)["fields"]
    assert error(c.get("/api/v1/photos/", {"figure": "abc"}), 400)["fields"] == {
        "figure": ["Enter a whole number."]
    }
    assert c.get("/api/v1/photos/", {"figure": str(2**80)}).status_code == 400
    assert error(c.get(f"/api/v1/artifacts/{world.derived.pk}/prov/", {"format": "xml"}), 400)[
        "fields"
    ]["format"]
    assert c.get("/api/v1/figures/", {"page_size": "-3"}).status_code == 200


def test_errors_are_json_whatever_the_accept_header(clients, world):
    response = clients["viewer"].get("/api/v1/figures/424242/", HTTP_ACCEPT="text/html")
    error(response, 404)
    listing = clients["viewer"].get("/api/v1/figures/", HTTP_ACCEPT="image/png")
    assert listing.status_code == 200 and listing["Content-Type"] == "application/json"


def test_schema_describes_every_route_with_its_errors(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for expected in (
        "/api/v1/figures/",
        "/api/v1/sources/",
        "/api/v1/citations/",
        "/api/v1/references/",
        "/api/v1/notes/",
        "/api/v1/photos/",
        "/api/v1/artifacts/{id}/",
        "/api/v1/artifacts/{id}/file/",
        "/api/v1/artifacts/{id}/lineage/",
        "/api/v1/artifacts/{id}/prov/",
        "/api/v1/artifacts/{id}/verify/",
        "/api/v1/artifacts/{id}/export/",
        "/api/v1/operations/",
        "/api/v1/models/",
        "/api/v1/jobs/",
        "/api/v1/jobs/{id}/cancel/",
        "/api/v1/steps/manual/",
    ):
        assert expected in paths, expected
    for path, item in paths.items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "404"} <= codes, (method, path)
            assert operation["responses"]["404"]["content"]["application/json"]["schema"][
                "$ref"
            ].endswith("/Error")
    assert "429" in paths["/api/v1/jobs/"]["post"]["responses"]
    assert "202" in paths["/api/v1/jobs/"]["post"]["responses"]
    assert {"201", "409", "413"} <= set(paths["/api/v1/photos/"]["post"]["responses"])
    assert "multipart/form-data" in paths["/api/v1/photos/"]["post"]["requestBody"]["content"]
    prov_params = {p["name"]: p for p in paths["/api/v1/artifacts/{id}/prov/"]["get"]["parameters"]}
    assert set(prov_params["format"]["schema"]["enum"]) == {"json", "provn", "jsonld"}
    search = {p["name"] for p in paths["/api/v1/figures/"]["get"]["parameters"]}
    assert {"search", "ordering", "page", "page_size", "born_from", "name"} <= search
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_swagger_ui_is_served_from_local_files(client):
    page = client.get(reverse("api:docs"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn" not in html.lower() and "unpkg" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
