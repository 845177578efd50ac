"""The plain JSON lineage export, checked by the auditor script printed in docs/lineage.md."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from restoration.exports.lineage_json import lineage_export
from restoration.storage import open_object
from tests.restoration.lineage_support import derive, master

pytestmark = pytest.mark.django_db
DOC = Path(__file__).resolve().parents[2] / "docs" / "lineage.md"


def auditor():
    text = DOC.read_text(encoding="utf-8")
    code = re.search(r"<!-- auditor-script -->\n```python\n(.*?)```", text, re.S).group(1)
    assert "import django" not in code and "restoration" not in code  # stdlib only
    namespace = {"__name__": "auditor"}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace["audit"]


@pytest.fixture
def exported():
    scan, other = master(1), master(2)
    mask = derive(scan, 3, operation="scratch_mask")
    final = derive(
        [("image", scan), ("mask", mask), ("reference", other)], 4, operation="descratch"
    )
    # through JSON text, as an auditor would receive it
    return json.loads(json.dumps(lineage_export(artifact_id=final.pk), ensure_ascii=False)), [
        scan,
        other,
        mask,
        final,
    ]


def test_export_passes_the_documented_audit(exported, tmp_path):
    data, artifacts = exported
    assert data["format"] == "photo-archive-lineage" and len(data["steps"]) == 4
    files = tmp_path / "files"
    files.mkdir()
    for artifact in artifacts:
        with open_object(artifact.sha256) as fh:
            (files / artifact.sha256).write_bytes(fh.read())
    assert auditor()(data, files) == []


def test_documented_audit_catches_edits(exported, tmp_path):
    data, artifacts = exported
    audit = auditor()
    edited = copy.deepcopy(data)
    edited["steps"][-1]["record"]["parameters"]["strength"] = 1.0
    assert any("does not hash" in p for p in audit(edited))

    relinked = copy.deepcopy(data)
    relinked["artifacts"][0]["generated_by"] = data["steps"][-1]["record_hash"]
    assert any("chain broken" in p or "does not list" in p for p in audit(relinked))

    files = tmp_path / "files"
    files.mkdir()
    for artifact in artifacts:
        (files / artifact.sha256).write_bytes(b"not the file")
    assert sum("bytes changed" in p for p in audit(data, files)) == 4
