"""No N+1: list and detail routes run a constant number of queries whatever the page size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from archive.models import Citation, Note, Source
from archive.services import figure_create
from restoration.models import Job
from tests.api.conftest import ingest
from tests.restoration.lineage_support import derive

pytestmark = pytest.mark.django_db

ROUTES = (
    "/api/v1/figures/",
    "/api/v1/sources/",
    "/api/v1/citations/",
    "/api/v1/notes/",
    "/api/v1/references/",
    "/api/v1/photos/",
    "/api/v1/artifacts/",
    "/api/v1/steps/",
    "/api/v1/jobs/",
    "/api/v1/models/",
)


def grow(world, n: int, start: int) -> None:
    """n more of everything, each with names, figures and citations to prefetch."""
    for i in range(start, start + n):
        figure = figure_create(
            name=f"F{i}",
            names=[{"name": f"名{i}", "language": "zh-Hans"}, {"name": f"N{i}", "language": "en"}],
        )
        source = Source.objects.create(title=f"S{i}")
        Citation.objects.create(source=source, target=figure)
        photo = ingest(1000 + i, title=f"P{i}", figure_ids=[figure.pk, world.figure.pk])
        Citation.objects.create(source=source, target=photo)
        Note.objects.create(title=f"N{i}", body="b", figure=figure)
        out = derive(photo.master, seed=2000 + i, citation_ids=[world.citation.pk], job_id=None)
        Job.objects.create(
            input=photo.master, pipeline=[{"op": "denoise", "params": {}}], output=out
        )


def count(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, {"page_size": 100})
    assert response.status_code == 200, (path, response.content[:300])
    return len(ctx.captured_queries)


@pytest.mark.parametrize("role", ["viewer", "auditor"])
def test_list_routes_do_not_grow_with_the_page(role, clients, world):
    client = clients[role]
    for path in ROUTES:  # warm caches (content types, permissions) once
        client.get(path)
    small = {path: count(client, path) for path in ROUTES}
    grow(world, 6, 0)
    large = {path: count(client, path) for path in ROUTES}
    assert large == small


def test_list_and_detail_query_budgets(clients, world, django_assert_max_num_queries):
    client = clients["viewer"]
    grow(world, 4, 0)
    client.get("/api/v1/figures/")
    budgets = {
        "/api/v1/figures/": 8,
        "/api/v1/photos/": 8,
        "/api/v1/jobs/": 10,
        f"/api/v1/photos/{world.photo.pk}/": 8,
        f"/api/v1/figures/{world.figure.pk}/": 8,
        f"/api/v1/jobs/{world.job.pk}/": 10,
        f"/api/v1/artifacts/{world.derived.pk}/lineage/": 12,
    }
    for path, budget in budgets.items():
        with django_assert_max_num_queries(budget):
            assert client.get(path).status_code == 200
