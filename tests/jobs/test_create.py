"""job_create: the whole pipeline is validated up front, each problem named by field."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission

from restoration.jobs import JobValidationError, job_create
from restoration.models import Job, ModelWeights
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db


def errors_of(exc_info: pytest.ExceptionInfo[JobValidationError]) -> dict[str, list[str]]:
    return exc_info.value.message_dict


def test_valid_pipeline_is_normalised_and_enqueued_on_commit(
    user, master, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_create(
            user=user,
            input_id=master.pk,
            steps=[{"op": "grayscale"}, {"op": "rotate", "params": {"angle": 90}}],
        )
    assert job.status == Job.Status.QUEUED
    assert job.requester == user
    assert [s["op"] for s in job.pipeline] == ["grayscale", "rotate"]
    assert job.pipeline[0]["params"] == {"method": "rec601"}  # defaults filled in
    assert job.pipeline[1]["params"]["expand"] is True
    assert sent == [job.pk]


def test_nothing_is_enqueued_when_the_transaction_rolls_back(user, master, sent):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}])
        raise RuntimeError("rollback")
    assert sent == []
    assert not Job.objects.exists()


def test_every_bad_field_is_named(user, master, sent):
    with pytest.raises(JobValidationError) as exc:
        job_create(
            user=user,
            input_id=master.pk,
            steps=[
                {"op": "no_such_op"},
                {"op": "denoise", "params": {"strength": 500}},
                {"op": "rotate", "params": {"angle": 90, "colour": "red"}},
                {"op": "crop"},
                "grayscale",
            ],
        )
    errors = errors_of(exc)
    assert "unknown operation 'no_such_op'" in errors["steps[0].op"][0]
    assert "[0, 50]" in errors["steps[1].params.strength"][0]
    assert "unknown parameter" in errors["steps[2].params.colour"][0]
    assert "required" in errors["steps[3].params.rect"][0]
    assert "steps[4]" in errors
    assert not Job.objects.exists() and sent == []


@pytest.mark.parametrize(
    ("steps", "field"),
    [([], "steps"), ("grayscale", "steps"), ([{"op": "grayscale", "when": 1}], "steps[0].when")],
)
def test_malformed_steps(user, master, steps, field):
    with pytest.raises(JobValidationError) as exc:
        job_create(user=user, input_id=master.pk, steps=steps)
    assert field in errors_of(exc)


@pytest.mark.parametrize("input_id", [None, "abc", -1, 0, 10**9, True])
def test_bad_or_missing_input(user, input_id):
    with pytest.raises(JobValidationError) as exc:
        job_create(user=user, input_id=input_id, steps=[{"op": "grayscale"}])
    assert "input" in errors_of(exc)


def test_restricted_input_is_invisible_without_the_permission(user, master, django_user_model):
    from archive.models import Photo

    Photo.objects.filter(master=master).update(restricted=True)
    with pytest.raises(JobValidationError) as exc:
        job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}])
    assert errors_of(exc)["input"] == [f"artifact {master.pk} does not exist"]

    auditor = django_user_model.objects.create_user(username="auditor", password="pw-a-123456")
    auditor.user_permissions.add(Permission.objects.get(codename="view_restricted"))
    auditor = django_user_model.objects.get(pk=auditor.pk)  # drop the permission cache
    job = job_create(user=auditor, input_id=master.pk, steps=[{"op": "grayscale"}])
    assert job.pk


def test_anonymous_users_cannot_submit(master):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(JobValidationError) as exc:
        job_create(user=AnonymousUser(), input_id=master.pk, steps=[{"op": "grayscale"}])
    assert "input" in errors_of(exc)


def test_reference_artifact_is_resolved_and_checked(user, master):
    from archive.services import photo_ingest

    ref = photo_ingest(
        stream=io.BytesIO(image_bytes("PNG", size=(32, 32), seed=99)), filename="r.png", user=user
    ).artifact
    job = job_create(
        user=user,
        input_id=master.pk,
        steps=[{"op": "color_transfer", "params": {"reference": ref.pk}}],
    )
    assert job.pipeline[0]["resolved"]["artifacts"] == {"reference": ref.pk}

    with pytest.raises(JobValidationError) as exc:
        job_create(
            user=user,
            input_id=master.pk,
            steps=[{"op": "color_transfer", "params": {"reference": 10**8}}],
        )
    assert "does not exist" in errors_of(exc)["steps[0].params.reference"][0]


def _weights(tmp_path, name: str, purpose: str, present: bool = True) -> ModelWeights:
    path = tmp_path / f"{name}.pth"
    if present:
        path.write_bytes(b"not really weights")
    return ModelWeights.objects.create(
        name=name,
        sha256=(name * 64)[:64],
        architecture="ESRGAN",
        purpose=purpose,
        scale=4,
        license=ModelWeights.License.PERMISSIVE,
        path=str(path),
    )


def test_model_params_must_name_usable_weights_of_the_right_purpose(user, master, tmp_path):
    with pytest.raises(JobValidationError) as exc:
        job_create(user=user, input_id=master.pk, steps=[{"op": "sr", "params": {"model": "x4"}}])
    # With no weights at all, sr is unavailable: said on the op, with the engine's reason.
    assert "unavailable" in errors_of(exc)["steps[0].op"][0]

    good = _weights(tmp_path, "x4", "sr")
    _weights(tmp_path, "faces", "face_restore")
    _weights(tmp_path, "gone", "sr", present=False)
    cases = {
        "nope": "no registered model",
        "faces": "face_restore model",
        "gone": "missing",
    }
    for value, message in cases.items():
        with pytest.raises(JobValidationError) as exc:
            job_create(
                user=user, input_id=master.pk, steps=[{"op": "sr", "params": {"model": value}}]
            )
        assert message in errors_of(exc)["steps[0].params.model"][0], value
    for value in ("x4", good.pk, str(good.pk)):
        job = job_create(
            user=user, input_id=master.pk, steps=[{"op": "sr", "params": {"model": value}}]
        )
        assert job.pipeline[0]["resolved"]["models"] == {"model": good.pk}


def test_hint_citations_must_exist(user, master):
    from archive.models import Citation, Source

    source = Source.objects.create(title="Interview")
    citation = Citation.objects.create(source=source, locator="p. 12")
    grey = [{"op": "grayscale"}]
    hints = [{"x": 1, "y": 1, "color": "#112233", "citation": citation.pk}]
    job = job_create(
        user=user,
        input_id=master.pk,
        steps=[*grey, {"op": "colorize_hints", "params": {"hints": hints}}],
    )
    assert job.pk
    hints.append({"x": 2, "y": 2, "color": "#112233", "citation": 10**8})
    with pytest.raises(JobValidationError) as exc:
        job_create(
            user=user,
            input_id=master.pk,
            steps=[*grey, {"op": "colorize_hints", "params": {"hints": hints}}],
        )
    assert "does not exist" in errors_of(exc)["steps[1].params.hints[1].citation"][0]


def test_too_many_steps(user, master, settings):
    settings.JOB_MAX_STEPS = 2
    with pytest.raises(JobValidationError) as exc:
        job_create(user=user, input_id=master.pk, steps=[{"op": "grayscale"}] * 3)
    assert "at most 2" in errors_of(exc)["steps"][0]
