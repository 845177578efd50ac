"""Issue 11: an exported lineage verifies with the stand-alone checker on a machine with no
database (the script runs isolated: no project code, no Django settings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from archive import services
from restoration import ledger
from tests.restoration.lineage_support import derive, master, stored_path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_lineage.py"
pytestmark = pytest.mark.django_db


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_checker_verifies_an_exported_lineage_and_names_tampering(tmp_path):
    user = get_user_model().objects.create_superuser(username="root", password="pw-root-1")
    source = services.source_create(title="Diary")
    citation = services.citation_create(source=source, claim="the collar was dark blue")
    scan = master(1)
    made = derive(derive(scan, seed=2), seed=3, citation_ids=[citation.pk])
    first = ledger.checkpoint_make()
    derive(scan, seed=4)  # the log grows after the published checkpoint
    ledger.checkpoint_make()
    published = tmp_path / "published.json"
    published.write_text(json.dumps(ledger.checkpoint_dict(first)))
    client = APIClient()
    client.force_authenticate(user)
    bundle = client.get(f"/api/v1/artifacts/{made.pk}/bundle/", {"since": first.tree_size})
    assert bundle.status_code == 200, bundle.content
    data = bundle.json()
    path = tmp_path / "lineage.json"
    path.write_text(json.dumps(data))
    key = client.get("/api/v1/checkpoints/latest/").json()["public_key"]
    assert key == ledger.checkpoint_dict(first)["public_key"]
    image = tmp_path / "image.png"
    image.write_bytes(stored_path(made).read_bytes())

    ok = _run(
        tmp_path,
        str(path),
        "--public-key",
        key,
        "--checkpoint",
        str(published),
        "--file",
        str(image),
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok: 3 step records" in ok.stdout and "log of 6 records" in ok.stdout
    assert data["consistency_from"] == first.tree_size == 5

    forked = json.loads(path.read_text())
    forked["consistency"] = forked["consistency"][::-1]  # not a proof that 6 extends 5
    (tmp_path / "forked.json").write_text(json.dumps(forked))
    bad = _run(
        tmp_path, str(tmp_path / "forked.json"), "--public-key", key, "--checkpoint", str(published)
    )
    assert bad.returncode == 1 and "consistency" in bad.stdout

    tampered = json.loads(path.read_text())
    tampered["steps"][-1]["record"]["actor"] = "mallory"
    (tmp_path / "bad.json").write_text(json.dumps(tampered))
    bad = _run(tmp_path, str(tmp_path / "bad.json"), "--public-key", key)
    assert bad.returncode == 1 and "does not hash to its record_hash" in bad.stdout

    rehashed = json.loads(path.read_text())
    import hashlib

    step = rehashed["steps"][-1]
    step["record"]["actor"] = "mallory"
    step["record_hash"] = hashlib.sha256(
        json.dumps(
            step["record"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    ).hexdigest()
    (tmp_path / "rehashed.json").write_text(json.dumps(rehashed))
    bad = _run(tmp_path, str(tmp_path / "rehashed.json"), "--public-key", key)
    assert bad.returncode == 1 and "inclusion proof does not lead" in bad.stdout

    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    other = base64.b64encode(
        Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).decode()
    bad = _run(tmp_path, str(path), "--public-key", other)
    assert bad.returncode == 1 and "signature does not verify" in bad.stdout
