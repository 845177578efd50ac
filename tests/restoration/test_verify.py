from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from restoration.audit import archive_verify_all, artifact_verify
from restoration.models import AuditRun, Step
from tests.restoration.lineage_support import derive, flip_byte, master, raw_write, stored_path

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The ``user`` fixture hashes a password; the default hasher costs ~0.5 s per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def lineage():
    """master -> denoise -> (image + mask) descratch -> colorize; returns the artifacts."""
    scan = master(1)
    denoised = derive(scan, 2)
    mask = derive(denoised, 3, operation="scratch_mask")
    cleaned = derive([("image", denoised), ("mask", mask)], 4, operation="descratch")
    final = derive(cleaned, 5, operation="colorize", kind="ai")
    return {"scan": scan, "denoised": denoised, "mask": mask, "cleaned": cleaned, "final": final}


def kinds(result):
    return sorted((p["kind"], p.get("artifact"), p.get("step")) for p in result["problems"])


def test_clean_lineage_verifies_and_the_run_is_recorded(lineage, user):
    result = artifact_verify(artifact_id=lineage["final"].pk, user=user)
    assert result["ok"] is True and result["problems"] == []
    assert result["checked"] == 5 + 5  # five files, five step records (ingest included)
    run = AuditRun.objects.get(pk=result["audit_run"])
    assert (
        run.ok and run.scope == "artifact" and run.artifact == lineage["final"] and run.user == user
    )
    assert run.checked == 10


def test_flipped_byte_in_a_stored_file_is_named(lineage):
    flip_byte(lineage["denoised"])
    result = artifact_verify(artifact_id=lineage["final"].pk)
    assert result["ok"] is False
    assert kinds(result) == [("file_changed", lineage["denoised"].pk, None)]
    problem = result["problems"][0]
    assert (
        problem["expected"] == lineage["denoised"].sha256
        and problem["actual"] != problem["expected"]
    )
    assert f"artifact {lineage['denoised'].pk}: file bytes changed" in problem["message"]
    assert AuditRun.objects.get(pk=result["audit_run"]).ok is False


def test_deleted_file_is_named(lineage):
    path = stored_path(lineage["scan"])
    path.chmod(0o644)
    path.unlink()
    result = artifact_verify(artifact_id=lineage["final"].pk)
    assert kinds(result) == [("file_missing", lineage["scan"].pk, None)]
    assert "is missing" in result["problems"][0]["message"]


def test_parameter_edited_with_raw_sql_is_named(lineage):
    step = lineage["cleaned"].generated_by
    params = dict(step.parameters, strength=0.9)
    raw_write(
        "restoration_step",
        "UPDATE restoration_step SET parameters = %s WHERE id = %s",
        [json.dumps(params), step.pk],
    )
    assert Step.objects.get(pk=step.pk).parameters["strength"] == 0.9
    result = artifact_verify(artifact_id=lineage["final"].pk)
    assert result["ok"] is False
    changed = [p for p in result["problems"] if p["kind"] == "record_changed"]
    assert [p["step"] for p in changed] == [step.pk]
    assert changed[0]["expected"] == step.record_hash
    # everything derived from the edited step is flagged as resting on a broken link
    broken = [p for p in result["problems"] if p["kind"] == "chain_broken"]
    assert [(p["step"], p["upstream_step"]) for p in broken] == [
        (lineage["final"].generated_by_id, step.pk)
    ]


def test_consistently_forged_record_breaks_the_next_link(lineage):
    """Rewriting a step's parameters *and* its record_hash still fails: the next step's hash
    was computed over the old record_hash."""
    from restoration.selectors import lineage_ancestors

    step = lineage["denoised"].generated_by
    raw_write(
        "restoration_step",
        "UPDATE restoration_step SET parameters = %s WHERE id = %s",
        [json.dumps({"strength": 0.1}), step.pk],
    )
    forged = lineage_ancestors(artifact_id=lineage["denoised"].pk).record(step.pk).record_hash()
    raw_write(
        "restoration_step",
        "UPDATE restoration_step SET record_hash = %s WHERE id = %s",
        [forged, step.pk],
    )
    result = artifact_verify(artifact_id=lineage["final"].pk)
    assert result["ok"] is False
    flagged = {p["step"] for p in result["problems"] if p["kind"] == "record_changed"}
    # the steps that used the forged step's output no longer verify, and say why
    assert flagged == {lineage["mask"].generated_by_id, lineage["cleaned"].generated_by_id}
    assert all(
        f"input step(s) {step.pk}" in p["message"]
        for p in result["problems"]
        if p["kind"] == "record_changed"
    )


def test_repointed_generated_by_breaks_the_chain(lineage):
    other = lineage["mask"].generated_by_id
    raw_write(
        "restoration_artifact",
        "UPDATE restoration_artifact SET generated_by_id = %s WHERE id = %s",
        [other, lineage["cleaned"].pk],
    )
    result = artifact_verify(artifact_id=lineage["cleaned"].pk)
    assert ("chain_broken", lineage["cleaned"].pk, other) in kinds(result)


def test_verify_all_finds_every_problem(lineage):
    unrelated = derive(master(50), 51)
    flip_byte(unrelated)
    path = stored_path(lineage["mask"])
    path.chmod(0o644)
    path.unlink()
    seen = []
    result = archive_verify_all(progress=seen.append)
    assert kinds(result) == sorted(
        [("file_changed", unrelated.pk, None), ("file_missing", lineage["mask"].pk, None)]
    )
    assert result["checked"] == sum(seen) == 7 + 7
    assert AuditRun.objects.get(pk=result["audit_run"]).scope == "all"


def test_verify_command_exit_status(lineage, capsys):
    call_command("verify", str(lineage["final"].pk), "--no-progress")
    assert "0 problem(s)" in capsys.readouterr().out
    flip_byte(lineage["scan"])
    with pytest.raises(CommandError) as err:
        call_command("verify", "--all", "--no-progress")
    assert err.value.returncode == 1
    assert "file_changed" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("verify", "--no-progress")


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)
def test_postgres_trigger_refuses_raw_update_and_delete(lineage):
    from django.db import DatabaseError, transaction

    for sql in (
        "UPDATE restoration_step SET rationale = 'x'",
        "DELETE FROM restoration_stepinput",
        "UPDATE restoration_artifact SET size = 1",
        "DELETE FROM restoration_stepoutput",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)


def test_verify_takes_the_graph_its_caller_fetched(lineage):
    """The lineage is read once per request: given the graph, verify reads no lineage table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from restoration.selectors import lineage_ancestors

    graph = lineage_ancestors(artifact_id=lineage["final"].pk)
    with CaptureQueriesContext(connection) as queries:
        result = artifact_verify(graph=graph)
    assert result["ok"] is True and result["checked"] == 10
    assert not [q for q in queries if "restoration_step" in q["sql"] and "SELECT" in q["sql"]]
    with pytest.raises(ValueError):
        artifact_verify(graph=graph, artifact_id=lineage["scan"].pk)
    with pytest.raises(TypeError):
        artifact_verify()


def test_last_audit_reads_without_writing(lineage, user):
    from restoration.audit import audit_report, last_audit

    final = lineage["final"]
    assert last_audit(artifact_id=final.pk) is None
    first = artifact_verify(artifact_id=final.pk, user=user)
    archive_verify_all()  # a whole-archive run is not this artifact's last audit
    flip_byte(lineage["scan"])
    second = artifact_verify(artifact_id=final.pk)
    count = AuditRun.objects.count()
    run = last_audit(artifact_id=final.pk)
    assert run is not None and run.pk == second["audit_run"] != first["audit_run"]
    assert audit_report(run) == second and second["ok"] is False
    assert AuditRun.objects.count() == count


def test_verify_command_prints_json(lineage, capsys):
    call_command("verify", str(lineage["final"].pk), "--no-progress", "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["checked"] == 10
    assert AuditRun.objects.get(pk=result["audit_run"]).artifact == lineage["final"]
    with pytest.raises(CommandError, match="no artifact with id 999999"):
        call_command("verify", "999999", "--no-progress")
