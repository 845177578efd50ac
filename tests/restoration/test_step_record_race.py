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
