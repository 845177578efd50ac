"""The rules of ``access``: taint over the whole lineage graph, and the action permissions."""

from __future__ import annotations

import pytest

from access.actions import can_cancel, can_record_manual_steps, can_submit_jobs, can_verify
from access.visibility import (
    artifact_is_visible,
    visible_artifacts,
    visible_citations,
    visible_jobs,
    visible_lineage,
    visible_steps,
)
from archive.models import Citation, ReferenceImage
from restoration.models import Artifact, Job, Step
from tests.restoration.lineage_support import derive, raw_write

pytestmark = pytest.mark.django_db


def visible_ids(user) -> set[int]:
    return set(visible_artifacts(Artifact.objects.all(), user).values_list("pk", flat=True))


def test_a_visible_artifact_has_nothing_hidden_in_its_lineage(users, world):
    viewer = users["viewer"]
    shown = visible_ids(viewer)
    assert shown == {world.photo.master_id, world.derived.pk}
    for pk in Artifact.objects.values_list("pk", flat=True):
        graph = visible_lineage(pk, viewer)
        assert (graph is not None) == (pk in shown) == artifact_is_visible(pk, viewer)
        if graph is not None:
            assert set(graph.artifacts) <= shown
    assert visible_lineage(999999, users["admin"]) is None


def test_an_output_made_beside_a_hidden_one_is_hidden(users, world):
    """A step made a mask and an image; the mask is also a restricted reference: the image's
    lineage would show the mask, so the image is hidden as well."""
    image = derive(world.photo.master, seed=41, operation="descratch")
    mask = derive(world.photo.master, seed=42, operation="scratch_mask")
    step = image.generated_by
    raw_write(
        "restoration_stepoutput",
        "INSERT INTO restoration_stepoutput (step_id, artifact_id, role) VALUES (%s, %s, 'mask')",
        [step.pk, mask.pk],
    )
    viewer = users["viewer"]
    assert artifact_is_visible(image.pk, viewer)
    ReferenceImage.objects.create(artifact=mask, restricted=True, title="sealed mask")
    assert not artifact_is_visible(mask.pk, viewer)
    assert not artifact_is_visible(image.pk, viewer)
    assert not visible_steps(Step.objects.filter(pk=step.pk), viewer).exists()


def test_a_step_citing_a_citation_on_a_hidden_record_hides_its_output(users, world):
    attached = Citation.objects.create(source=world.source, target=world.secret_figure)
    viewer = users["viewer"]
    assert not visible_citations(Citation.objects.filter(pk=attached.pk), viewer).exists()
    made = derive(world.photo.master, seed=43, citation_ids=[attached.pk])
    assert not artifact_is_visible(made.pk, viewer)
    assert artifact_is_visible(made.pk, users["auditor"])


def test_generated_by_is_followed_too(users, world):
    """A re-pointed ``generated_by`` (verify names it) must not show a hidden ancestry."""
    public = derive(world.photo.master, seed=44)
    raw_write(
        "restoration_artifact",
        "UPDATE restoration_artifact SET generated_by_id = %s WHERE id = %s",
        [world.secret_derived.generated_by_id, public.pk],
    )
    assert not artifact_is_visible(public.pk, users["viewer"])


def test_jobs_follow_their_input_and_output(users, world):
    viewer = users["viewer"]
    job = Job.objects.create(
        input=world.photo.master, output=world.cited_derived, pipeline=[{"op": "denoise"}]
    )
    shown = set(visible_jobs(Job.objects.all(), viewer).values_list("pk", flat=True))
    assert shown == {world.job.pk}
    assert job.pk in set(
        visible_jobs(Job.objects.all(), users["admin"]).values_list("pk", flat=True)
    )


def test_action_permissions(users, world):
    anonymous, viewer, restorer = None, users["viewer"], users["restorer"]
    auditor, admin = users["auditor"], users["admin"]
    assert [can_submit_jobs(u) for u in (anonymous, viewer, restorer, admin)] == [
        False,
        False,
        True,
        True,
    ]
    assert can_record_manual_steps(restorer) and not can_record_manual_steps(viewer)
    assert can_verify(auditor) and not can_verify(restorer) and not can_verify(anonymous)
    # cancel: the requester, or whoever may change any job
    assert can_cancel(restorer, world.job) and can_cancel(admin, world.job)
    assert not can_cancel(viewer, world.job) and not can_cancel(anonymous, world.job)
