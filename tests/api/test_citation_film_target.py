"""A citation may hang off a film, like off a photo (found by fuzzing: a KeyError, a 500)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_citation_on_a_film_that_does_not_exist_is_a_400_naming_the_target(world, clients):
    body = {"source": world.source.pk, "locator": "reel 2", "target": {"type": "film", "id": 999}}
    response = clients["admin"].post("/api/v1/citations/", body, format="json")
    assert response.status_code == 400, response.content
    assert "target" in response.json()["fields"]
    patched = clients["admin"].patch(
        f"/api/v1/citations/{world.citation.pk}/", {"target": body["target"]}, format="json"
    )
    assert patched.status_code == 400, patched.content
