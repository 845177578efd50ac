"""Issue 11: verifying one artifact checks each lineage step's leaf against the transparency log
and the last exported checkpoint (before, only ``verify --all`` asked the log), and the
checkpoint key and log origin come from the settings."""

from __future__ import annotations

import pytest

from restoration import ledger, merkle
from restoration.audit import artifact_verify
from restoration.models import LogLeaf
from tests.restoration.lineage_support import derive, raw_write
from tests.restoration.test_translog import _rewrite_step, published  # noqa: F401 (fixture)


def _named(report, kind):
    return [p for p in report["problems"] if p["kind"] == kind]


def test_a_clean_lineage_verifies_against_the_log(published):  # noqa: F811
    report = artifact_verify(artifact_id=published["chain"][-1].pk)
    assert report["ok"], report["problems"]


def test_a_consistent_rewrite_is_named_by_one_artifacts_verify(published):  # noqa: F811
    step = published["chain"][1].generated_by
    _rewrite_step(step, parameters={"strength": 99}, actor="mallory", rationale="")
    report = artifact_verify(artifact_id=published["chain"][1].pk)
    assert [p.get("step") for p in _named(report, "record_rewritten")] == [step.pk], report


def test_a_rewrite_of_the_leaf_too_is_named_by_the_published_checkpoint(published):  # noqa: F811
    step = published["chain"][-1].generated_by
    new_hash = _rewrite_step(step, parameters={"strength": 99}, actor="mallory", rationale="")
    leaf = LogLeaf.objects.get(kind="step", record_id=step.pk)
    raw_write(
        "restoration_logleaf",
        "UPDATE restoration_logleaf SET record_hash = %s, leaf_hash = %s WHERE id = %s",
        [new_hash, merkle.leaf_hash(merkle.leaf_data("step", step.pk, new_hash)).hex(), leaf.pk],
    )
    report = artifact_verify(artifact_id=published["chain"][-1].pk)
    assert [p.get("step") for p in _named(report, "record_rewritten")] == [step.pk], report


def test_a_rewrite_of_leaf_and_published_leaf_list_is_named_by_the_root(published, settings):  # noqa: F811
    """Without the leaf list, the published root still catches it (an inclusion proof)."""
    data = ledger.checkpoint_read()
    data.pop("leaves")
    ledger.checkpoint_write(data)
    step = published["chain"][0].generated_by
    new_hash = _rewrite_step(step, parameters={"strength": 1}, actor="mallory", rationale="")
    leaf = LogLeaf.objects.get(kind="step", record_id=step.pk)
    raw_write(
        "restoration_logleaf",
        "UPDATE restoration_logleaf SET record_hash = %s, leaf_hash = %s WHERE id = %s",
        [new_hash, merkle.leaf_hash(merkle.leaf_data("step", step.pk, new_hash)).hex(), leaf.pk],
    )
    report = artifact_verify(artifact_id=published["chain"][0].pk)
    assert [p.get("step") for p in _named(report, "log_rewritten")] == [step.pk], report


def test_a_step_missing_from_the_log_is_named(published):  # noqa: F811
    step = published["chain"][0].generated_by
    raw_write(
        "restoration_logleaf",
        "DELETE FROM restoration_logleaf WHERE kind = 'step' AND record_id = %s",
        [step.pk],
    )
    report = artifact_verify(artifact_id=published["chain"][-1].pk)
    assert [p.get("step") for p in _named(report, "leaf_removed")] == [step.pk], report


def test_a_forged_published_checkpoint_is_named(published):  # noqa: F811
    data = ledger.checkpoint_read()
    data["root"] = "00" * 32
    ledger.checkpoint_write(data)
    report = artifact_verify(artifact_id=published["chain"][0].pk)
    assert _named(report, "checkpoint_invalid"), report


def test_steps_newer_than_the_export_are_checked_against_the_latest_checkpoint(published):  # noqa: F811
    newer = derive(published["chain"][-1], seed=9)
    ledger.checkpoint_make(reason="test")
    report = artifact_verify(artifact_id=newer.pk)
    assert report["ok"], report["problems"]
    step = newer.generated_by
    new_hash = _rewrite_step(step, parameters={"strength": 7}, actor="mallory", rationale="")
    leaf = LogLeaf.objects.get(kind="step", record_id=step.pk)
    raw_write(
        "restoration_logleaf",
        "UPDATE restoration_logleaf SET record_hash = %s, leaf_hash = %s WHERE id = %s",
        [new_hash, merkle.leaf_hash(merkle.leaf_data("step", step.pk, new_hash)).hex(), leaf.pk],
    )
    report = artifact_verify(artifact_id=newer.pk)
    assert [p.get("step") for p in _named(report, "log_rewritten")] == [step.pk], report


def test_the_api_verify_reports_the_log(published, django_user_model):  # noqa: F811
    from tests.api.conftest import client_for

    admin = django_user_model.objects.create_superuser("root", "r@example.org", "pw")
    step = published["chain"][1].generated_by
    _rewrite_step(step, parameters={"strength": 99}, actor="mallory", rationale="")
    r = client_for(admin).post(f"/api/v1/artifacts/{published['chain'][1].pk}/verify/")
    assert r.status_code == 200 and r.json()["ok"] is False
    assert {p["kind"] for p in r.json()["problems"]} == {"record_rewritten"}


@pytest.mark.django_db
def test_the_key_and_origin_come_from_the_settings(settings, tmp_path):
    key = tmp_path / "elsewhere" / "log.pem"
    settings.ARCHIVE_CHECKPOINT_KEY = str(key)
    settings.ARCHIVE_LOG_ORIGIN = "archive.example.org/log"
    checkpoint = ledger.checkpoint_make(reason="test")
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    assert checkpoint.origin == "archive.example.org/log"
    data = ledger.checkpoint_dict(checkpoint)
    assert ledger.checkpoint_signature_ok(data)
    assert ledger.public_key_raw() == ledger.public_key_raw(ledger.signing_key())
    assert not (tmp_path / "keys").exists()


def test_the_environment_sets_the_key_and_origin(tmp_path):
    from tests.test_settings import run_python

    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(repr((s.ARCHIVE_CHECKPOINT_KEY, s.ARCHIVE_LOG_ORIGIN)))"
    )
    env = {"ARCHIVE_CHECKPOINT_KEY": "/keys/log.pem", "ARCHIVE_LOG_ORIGIN": "example.org/log"}
    done = run_python(["-c", code], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(("/keys/log.pem", "example.org/log"))
    done = run_python(["-c", code], {}, tmp_path)
    assert done.stdout.strip() == repr(("", "photo-archive")), done.stderr
