"""Issue 16: the jobs and steps lists read link rows once and group them in Python; what they
show is exactly what the detail routes (Django prefetches) show."""

from __future__ import annotations

import pytest

from restoration.models import Job
from tests.restoration.lineage_support import derive

pytestmark = pytest.mark.django_db


def test_jobs_and_steps_lists_show_what_the_details_show(clients, world):
    job = Job.objects.create(
        input=world.photo.master, pipeline=[{"op": "denoise"}, {"op": "clahe"}], status="running"
    )
    first = derive(
        [("image", world.photo.master), ("reference", world.derived)],
        seed=70,
        job_id=job.pk,
        job_index=0,
        citation_ids=[world.citation.pk],
        reference_ids=[world.reference.pk],
    )
    derive(first, seed=71, job_id=job.pk, job_index=1)
    client = clients["restorer"]
    listed = {j["id"]: j for j in client.get("/api/v1/jobs/", {"page_size": 200}).json()["results"]}
    detail = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert listed[job.pk] == detail
    assert [len(s["inputs"]) for s in detail["steps"]] == [2, 1]
    assert detail["steps"][0]["citations"] == [world.citation.pk]
    assert detail["steps"][0]["references"] == [world.reference.pk]
    assert detail["steps"][0]["output"] == first.pk
    steps = client.get("/api/v1/steps/", {"page_size": 200}).json()["results"]
    assert steps
    for step in steps:
        assert client.get(f"/api/v1/steps/{step['id']}/").json() == step


@pytest.mark.parametrize("role", ["viewer", "auditor"])
def test_figure_and_photo_lists_show_what_the_details_show(clients, world, role):
    client = clients[role]
    for route in ("figures", "photos"):
        listed = client.get(f"/api/v1/{route}/", {"page_size": 200}).json()["results"]
        assert listed
        for row in listed:
            assert client.get(f"/api/v1/{route}/{row['id']}/").json() == row, (route, row["id"])
    lu_xun = next(
        r for r in client.get("/api/v1/figures/").json()["results"] if r["id"] == world.figure.pk
    )
    assert [n["name"] for n in lu_xun["names"]] == ["鲁迅", "周樹人"]
    assert lu_xun["citations"] == [world.citation.pk]
    photo = next(
        r for r in client.get("/api/v1/photos/").json()["results"] if r["id"] == world.photo.pk
    )
    hidden_figure = world.secret_figure.pk
    assert (hidden_figure in photo["figures"]) is (role == "auditor")
