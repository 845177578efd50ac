"""Two steps producing the same bytes at the same moment: the second links the first's artifact."""

from __future__ import annotations

import io

import numpy as np
import pytest

import restoration.services as services
from archive.services import photo_ingest
from restoration.models import Artifact, Step, StepOutput
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db


def record_grey_step(master: Artifact) -> Step:
    output = services.output_from_array(np.full((8, 8), 7, dtype=np.uint8))
    now = services.now()
    return services.step_record_or_discard(
        kind="classical",
        operation="grayscale",
        operation_version="1",
        parameters={},
        inputs=[services.NewInput(role="image", artifact=master)],
        outputs=[output],
        started_at=now,
        ended_at=now,
    )


def test_same_output_bytes_from_a_racing_step_link_the_existing_artifact(
    monkeypatch, isolated_storage
):
    master = photo_ingest(stream=io.BytesIO(image_bytes("PNG", seed=1)), filename="m.png").artifact
    first = record_grey_step(master)
    lookups: list[str] = []

    def looked_too_early(sha256: str) -> Artifact | None:
        """The race: the first look happens before the first step's artifact is committed."""
        lookups.append(sha256)
        return None if len(lookups) == 1 else Artifact.objects.filter(sha256=sha256).first()

    monkeypatch.setattr(services, "_existing_artifact", looked_too_early)
    second = record_grey_step(master)
    produced = StepOutput.objects.get(step=second).artifact
    assert produced == StepOutput.objects.get(step=first).artifact
    assert produced.generated_by_id == first.pk
    assert Artifact.objects.filter(generated_by__isnull=False).count() == 1


def test_step_record_returns_the_step_with_its_outputs(isolated_storage, django_assert_num_queries):
    master = photo_ingest(stream=io.BytesIO(image_bytes("PNG", seed=2)), filename="m.png").artifact
    step = record_grey_step(master)
    with django_assert_num_queries(0):
        produced = step.output("image")
        links = list(step.produced.all())
    assert produced == Artifact.objects.get(generated_by=step)
    assert [(link.role, link.artifact) for link in links] == [("image", produced)]
    assert step.output("mask") is None


def test_the_hashed_record_and_the_verified_record_are_one_construction(
    isolated_storage, monkeypatch
):
    """``step_record`` hashes with ``hashing.step_record_of``; ``verify`` rebuilds with it too
    (through ``selectors.stored_step_record``), so a fresh step always verifies."""
    from restoration import hashing, selectors

    master = photo_ingest(stream=io.BytesIO(image_bytes("PNG", seed=3)), filename="m.png").artifact
    step = record_grey_step(master)
    calls: list[str] = []
    real = hashing.step_record_of

    def spy(*args, **kwargs):
        calls.append("built")
        return real(*args, **kwargs)

    monkeypatch.setattr(selectors, "step_record_of", spy)
    graph = selectors.lineage_ancestors(artifact_id=step.output().pk)
    assert graph.record(step.pk).record_hash() == step.record_hash
    assert calls == ["built"]
