"""Issue 16: ``GET artifacts/{id}/lineage/`` reads rows, not model instances; its answer must
stay the model graph's ``as_dict()`` and agree with each step's and artifact's own detail."""

from __future__ import annotations

import pytest

from restoration.selectors import lineage_ancestors
from tests.restoration.lineage_support import derive

pytestmark = pytest.mark.django_db


def test_the_lineage_route_answers_the_model_graph_and_the_details(clients, world):
    client = clients["viewer"]
    end = world.derived
    for i in range(5):
        end = derive([("image", end), ("reference", world.photo.master)] if i == 2 else end, 40 + i)
    response = client.get(f"/api/v1/artifacts/{end.pk}/lineage/")
    assert response.status_code == 200
    data = response.json()
    assert data == lineage_ancestors(artifact_id=end.pk).as_dict()
    assert len(data["steps"]) == 7  # ingest + derived + 5
    for step in data["steps"]:
        detail = client.get(f"/api/v1/steps/{step['id']}/").json()
        for key in ("kind", "operation", "parameters", "software", "seed", "record_hash"):
            assert step[key] == detail[key], key
        assert step["model"] == {
            "sha256": detail["model_sha256"],
            "architecture": detail["model_architecture"],
        }
        assert step["inputs"] == detail["inputs"] and step["outputs"] == detail["outputs"]
        assert step["citations"] == detail["citations"]
        assert step["references"] == detail["references"]
    for artifact in data["artifacts"]:
        detail = client.get(f"/api/v1/artifacts/{artifact['id']}/").json()
        for key in ("sha256", "size", "media_type", "width", "height", "role"):
            assert artifact[key] == detail[key], key
    # hidden stays hidden: a restricted lineage is a 404 for a viewer, as before
    assert client.get(f"/api/v1/artifacts/{world.secret_derived.pk}/lineage/").status_code == 404
    assert client.get("/api/v1/artifacts/987654/lineage/").status_code == 404
