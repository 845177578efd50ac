"""BagIt: export, validate, round-trip into another archive (its own data dir and database),
tampered bags refused with the reason and nothing written, the API route."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import bagit
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from restoration.hashing import canonical_json
from tests.interop.conftest import derive, ingest, noisy_png

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lineage(roles):
    from archive.models import Figure

    figure = Figure.objects.create(name="Qiu Jin")
    photo = ingest(
        roles["restorer"],
        size=(320, 240),
        seed=31,
        title="Portrait",
        figure_ids=[figure.pk],
        repository="Zhejiang Museum",
        rights_statement="http://rightsstatements.org/vocab/NoC-US/1.0/",
    )
    first = derive(photo.master, roles["restorer"], operation="grayscale")
    second = derive(first, roles["restorer"], operation="clahe")
    return photo, first, second


def export(photo, dest: Path):
    from interop.bags import bag_export

    return bag_export(photo=photo, dest=dest, everything=True, sign_checkpoint=True)


def test_a_bag_made_by_a_get_never_signs_a_checkpoint(lineage, tmp_path):
    """A GET must not write: without a covering checkpoint its bag has no transparency part;
    with one (e.g. after the next job), the proofs are against it."""
    from interop.bags import bag_export
    from restoration import ledger
    from restoration.models import Checkpoint

    photo, _first, _second = lineage
    before = Checkpoint.objects.count()
    bag_export(photo=photo, dest=tmp_path / "unsigned", everything=True)
    assert Checkpoint.objects.count() == before
    assert not (tmp_path / "unsigned" / "data" / "transparency").exists()
    ledger.checkpoint_make(reason="test")
    bag_export(photo=photo, dest=tmp_path / "signed", everything=True)
    assert (tmp_path / "signed" / "data" / "transparency" / "checkpoint.json").is_file()


def test_exported_bag_validates_and_holds_the_whole_lineage(lineage, tmp_path):
    photo, first, second = lineage
    bag = export(photo, tmp_path / "bag")
    bagit.Bag(str(tmp_path / "bag")).validate()  # bagit itself: every hash, Payload-Oxum
    assert "sha256" in bag.algorithms
    data = tmp_path / "bag" / "data"
    names = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()}
    for artifact in (photo.master, first, second):
        assert any(n.startswith(f"objects/{artifact.sha256}") for n in names)
        assert f"prov/{artifact.pk}.json" in names
    assert {
        "lineage.json",
        "record/photo.json",
        "record/dc.xml",
        "evidence/snapshots.json",
    } <= names
    assert {"transparency/checkpoint.json", "transparency/proofs.json"} <= names
    lineage_json = json.loads((data / "lineage.json").read_text())
    assert [s["record"]["operation"] for s in lineage_json["steps"]] == [
        "ingest",
        "grayscale",
        "clahe",
    ]
    proofs = json.loads((data / "transparency" / "proofs.json").read_text())
    assert set(proofs) == {s["record_hash"] for s in lineage_json["steps"]}
    assert b"<dc:title>Portrait</dc:title>" in (data / "record" / "dc.xml").read_bytes()
    assert bag.info["External-Identifier"] == f"photo/{photo.pk}"


def _resave(bag_dir: Path) -> None:
    """An attacker who also rewrites the manifests: bagit alone would accept the bag."""
    bag = bagit.Bag(str(bag_dir))
    bag.save(manifests=True)
    bagit.Bag(str(bag_dir)).validate()


def _counts():
    from archive.models import Photo
    from restoration.models import Artifact, Step

    return Artifact.objects.count(), Step.objects.count(), Photo.objects.count()


def test_tampered_bags_are_refused_with_the_reason_and_nothing_written(lineage, tmp_path):
    from interop.bags import BagRefused, bag_import

    photo, _first, second = lineage
    before = _counts()
    # 1. One flipped byte in a derivative: bagit's own fixity check names the file.
    bag_dir = tmp_path / "flip"
    export(photo, bag_dir)
    target = next((bag_dir / "data" / "objects").glob(f"{second.sha256}.*"))
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    target.write_bytes(bytes(raw))
    with pytest.raises(BagRefused, match=r"does not validate.*" + second.sha256[:12]):
        bag_import(source=bag_dir)
    # 2. The same, with the manifests rewritten to match: the content address catches it.
    _resave(bag_dir)
    with pytest.raises(BagRefused, match="hashes to .* not to its content address"):
        bag_import(source=bag_dir)
    # 3. An edited record (the operator's name), manifests rewritten: the record hash catches it.
    bag_dir = tmp_path / "edit"
    export(photo, bag_dir)
    path = bag_dir / "data" / "lineage.json"
    lineage_json = json.loads(path.read_text())
    lineage_json["steps"][1]["record"]["actor"] = "someone else"
    path.write_text(json.dumps(lineage_json))
    _resave(bag_dir)
    with pytest.raises(BagRefused, match="record was edited"):
        bag_import(source=bag_dir)
    # 4. A proof that does not match the checkpoint.
    bag_dir = tmp_path / "proof"
    export(photo, bag_dir)
    path = bag_dir / "data" / "transparency" / "proofs.json"
    proofs = json.loads(path.read_text())
    first_proof = next(iter(proofs.values()))
    first_proof["leaf_index"] = first_proof["leaf_index"] + 1
    path.write_text(json.dumps(proofs))
    _resave(bag_dir)
    with pytest.raises(BagRefused, match="inclusion proof does not verify"):
        bag_import(source=bag_dir)
    # 5. A sound bag whose master is already here: refused, nothing doubled.
    bag_dir = tmp_path / "sound"
    export(photo, bag_dir)
    with pytest.raises(BagRefused, match="already in this archive"):
        bag_import(source=bag_dir)
    assert _counts() == before


def test_bag_round_trips_into_another_archive_and_verifies_there(lineage, tmp_path):
    """The second archive is another process with its own data dir and SQLite database."""
    from interop.bags import bag_zip

    photo, _first, second = lineage
    export(photo, tmp_path / "bag")
    zipped = bag_zip(tmp_path / "bag", tmp_path / "bag.zip")
    other = tmp_path / "other-archive"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "BROKER_URL", "ARCHIVE_STORAGE")
    }
    env |= {
        "ARCHIVE_DATA_DIR": str(other),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }

    # One process for the whole second archive (each Django start costs seconds): migrate,
    # import the zip with the management command, verify there, try the same bag again.
    script = f"""
import io, json
from django.core.management import call_command
from django.core.management.base import CommandError
call_command("migrate", verbosity=0)
out = io.StringIO()
call_command("import_bag", {str(zipped)!r}, stdout=out)
from restoration.models import Artifact
from restoration.audit import artifact_verify
from interop.models import BagImport
from archive.models import Photo
r = artifact_verify(artifact_id=Artifact.objects.get(sha256={second.sha256!r}).pk)
b = BagImport.objects.get()
p = Photo.objects.get()
try:
    call_command("import_bag", {str(zipped)!r}, stdout=io.StringIO())
    again = "imported twice"
except CommandError as exc:
    again = str(exc)
print(json.dumps({{"out": out.getvalue(), "ok": r["ok"], "checked": r["checked"],
    "problems": r["problems"][:3], "photo": p.title, "figures": [f.name for f in p.figures.all()],
    "org": b.source_organization, "steps": len(b.steps_created),
    "root": b.checkpoint.get("root", ""), "again": again}}))
"""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "imported photo" in result["out"] and "3 steps" in result["out"], result
    assert result["ok"], result
    assert result["checked"] >= 6  # three files and three step records
    assert result["photo"] == "Portrait" and result["figures"] == ["Qiu Jin"]
    assert result["steps"] == 3 and len(result["root"]) == 64
    assert "already in this archive" in result["again"]


def test_api_bag_route_zips_a_valid_bag_and_hides_restricted_photos(lineage, roles, tmp_path):
    photo, *_ = lineage
    secret = ingest(roles["restorer"], size=(200, 150), seed=32, restricted=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=roles['viewer']).key}")
    response = client.get(f"/api/v1/photos/{photo.pk}/bag/")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/zip"
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(tmp_path)
    bagit.Bag(str(tmp_path / f"photo-{photo.pk}-bag")).validate()
    hidden = client.get(f"/api/v1/photos/{secret.pk}/bag/")
    assert hidden.status_code == 404 and hidden.json()["status"] == 404


def test_export_bag_command_with_content_credentials(lineage, tmp_path, settings):
    """With signing material, the bag carries a signed C2PA export of every image, readable
    with the lineage inside; the command writes the bag and its zip."""
    from django.core.management import call_command

    from restoration.exports.c2pa import c2pa_read, signing_material_create

    keys = tmp_path / "c2pa"
    keys.mkdir()
    signing_material_create(
        cert_chain=keys / "chain.pem", private_key=keys / "leaf.key", trust_anchors=keys / "ca.pem"
    )
    settings.C2PA_CERT_CHAIN = keys / "chain.pem"
    settings.C2PA_PRIVATE_KEY = keys / "leaf.key"
    settings.C2PA_TRUST_ANCHORS = keys / "ca.pem"
    photo, _first, second = lineage
    out = io.StringIO()
    call_command("export_bag", str(photo.pk), str(tmp_path / "bag"), "--zip", stdout=out)
    assert "Payload-Oxum" in out.getvalue() and (tmp_path / "bag.zip").is_file()
    bag = bagit.Bag(str(tmp_path / "bag"))
    bag.validate()
    assert bag.info["C2PA-Exports"] == "3 signed JPEG(s)"
    signed = (tmp_path / "bag" / "data" / "c2pa" / f"{second.pk}.jpg").read_bytes()
    report = c2pa_read(data=signed, media_type="image/jpeg", trust_anchors=keys / "ca.pem")
    assert str(report["state"]).endswith("Trusted"), report["state"]  # signed, chain checks


@pytest.fixture
def cited_lineage(roles):
    """A lineage whose restoration cites a citation (of a source edited before) and consults a
    reference image that is not part of the lineage: the evidence must travel in the bag."""
    from archive.services import citation_create, reference_create, source_create, source_update

    user = roles["restorer"]
    photo = ingest(user, size=(160, 120), seed=41, title="Uniform portrait")
    # Records first, so that the ids the steps record here are not the ids the same records
    # get in a fresh archive (the import must map them, not rely on a coincidence).
    other = source_create(user=user, title="An unrelated book")
    for locator in ("p. 1", "p. 2"):
        citation_create(source=other, user=user, locator=locator)
    reference_create(user=user, artifact=photo.master, title="not consulted")
    source = source_create(user=user, title="Interview with the sitter", kind="interview")
    source_update(source=source, user=user, author="Lin Mei")  # revision 2
    citation = citation_create(
        source=source,
        user=user,
        locator="p. 12",
        claim="the collar was dark blue",
        quote="blue",
        restricted=True,  # hidden here: must stay hidden in the receiving archive
    )
    reference = reference_create(
        user=user,
        stream=io.BytesIO(noisy_png(96, 64, 42)),
        filename="period-colour.png",
        title="Period colour photograph",
        kind="period_colour",
    )
    first = derive(
        photo.master,
        user,
        operation="colorize",
        citation_ids=(citation.pk,),
        reference_ids=(reference.pk,),
    )
    second = derive(first, user, operation="clahe", citation_ids=(citation.pk,))
    return photo, first, second, citation, reference


def _other_archive_run(tmp_path: Path, script: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "BROKER_URL", "ARCHIVE_STORAGE")
    }
    env |= {
        "ARCHIVE_DATA_DIR": str(tmp_path / "other-archive"),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_steps_citing_evidence_round_trip_and_verify_with_their_original_hashes(
    cited_lineage, tmp_path
):
    from interop.bags import bag_zip

    photo, first, second, citation, reference = cited_lineage
    hashes = {first.generated_by.record_hash, second.generated_by.record_hash}
    export(photo, tmp_path / "bag")
    files = json.loads((tmp_path / "bag" / "data" / "evidence" / "files.json").read_text())
    assert list(files) == [reference.artifact.sha256]
    zipped = bag_zip(tmp_path / "bag", tmp_path / "bag.zip")
    script = f"""
import io, json
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import Group, User
from archive.models import Citation, Source
# Visible records here whose ids are the ids the steps recorded there: asking about those
# instead of the imported ones would show the restricted citation's snapshot.
here = Source.objects.create(title="a local book")
for i in range({citation.pk}):
    Citation.objects.create(source=here, locator=f"local {{i}}")
call_command("import_bag", {str(zipped)!r}, stdout=io.StringIO())
from restoration.models import Artifact, Step
from restoration.audit import artifact_verify
from restoration.selectors import lineage_ancestors
from interop.models import ImportedEvidence
tip = Artifact.objects.get(sha256={second.sha256!r})
r = artifact_verify(artifact_id=tip.pk)
graph = lineage_ancestors(artifact_id=tip.pk)
steps = [s for s in Step.objects.filter(record_hash__in={sorted(hashes)!r})]
rehashed = sorted(graph.record(s.pk).record_hash() for s in steps)
c = steps[0].citations.get()
ref = Step.objects.get(record_hash={first.generated_by.record_hash!r}).references.get()
from access.visibility import evidence_for
from archive.evidence import evidence_status
from restoration.evidence import localized
reader = User.objects.create_user("v", password="pw-v-1")
reader.groups.add(Group.objects.get(name="viewer"))
used = ref.steps.get()  # hidden from the reader as a whole (it cites a hidden citation);
# what the reader would be shown of its evidence is decided on the rows here, not on the ids
shown = evidence_for(evidence_status(localized({{used.pk: used.evidence}})[used.pk]), reader)
print(json.dumps({{"ok": r["ok"], "shown": shown, "problems": r["problems"][:3], "checked": r["checked"],
  "stored": sorted(s.record_hash for s in steps), "rehashed": rehashed,
  "citation": [c.pk, c.quote, c.claim, c.source.title, c.source.author, c.source.notes],
  "restricted": [c.restricted, c.source.restricted, ref.restricted],
  "reference": [ref.pk, ref.title, ref.kind, ref.artifact.sha256,
     ref.artifact.produced_by.get().step.parameters.get("imported_from")],
  "map": sorted([e.kind, e.origin_id, e.origin_revision, e.step_id is not None]
     for e in ImportedEvidence.objects.all())}}))
"""
    result = _other_archive_run(tmp_path, script)
    assert result["ok"], result["problems"]
    assert result["stored"] == sorted(hashes) == result["rehashed"]  # the original hashes
    c_id, quote, claim, title, author, notes = result["citation"]
    assert (quote, claim, title, author) == (
        "blue",
        "the collar was dark blue",
        "Interview with the sitter",
        "Lin Mei",
    )
    assert f"source {citation.source_id} at revision 2" in notes
    ref_id, ref_title, kind, sha, imported_from = result["reference"]
    assert (ref_title, kind, sha) == (
        "Period colour photograph",
        "period_colour",
        reference.artifact.sha256,
    )
    assert imported_from  # the reference file was ingested there, saying from where
    assert result["restricted"] == [True, False, False]
    # The step's evidence as a viewer there sees it: the reference (public) with the row that
    # stands for it here, the restricted citation withheld, by the hash of its snapshot.
    shown = result["shown"]
    assert "references" in shown, shown
    assert shown["references"][0]["id"] == reference.pk, shown
    assert shown["references"][0]["local_id"] == ref_id and not shown["references"][0]["revised"]
    assert shown["citations"][0].get("withheld") is True, shown["citations"]
    snapshot = first.generated_by.evidence["citations"][0]
    assert shown["citations"][0]["sha256"] == hashlib.sha256(canonical_json(snapshot)).hexdigest()
    assert result["map"] == sorted(
        [
            ["source", citation.source_id, 2, False],
            ["citation", citation.pk, 1, False],
            ["reference", reference.pk, 1, False],
            ["citation", citation.pk, 1, True],
            ["reference", reference.pk, 1, True],
            ["citation", citation.pk, 1, True],
            ["source", citation.source_id, 2, True],
            ["source", citation.source_id, 2, True],
        ]
    )


def test_bags_with_edited_evidence_are_refused(cited_lineage, tmp_path):
    from interop.bags import BagRefused, bag_import

    photo, first, *_rest, reference = cited_lineage
    before = _counts()
    # 1. A snapshot edited inside a step's record: the record hash no longer holds.
    bag_dir = tmp_path / "record"
    export(photo, bag_dir)
    path = bag_dir / "data" / "lineage.json"
    lineage_json = json.loads(path.read_text())
    cited = next(s for s in lineage_json["steps"] if s["record"]["citations"])
    cited["record"]["evidence"]["citations"][0]["claim"] = "the collar was red"
    path.write_text(json.dumps(lineage_json))
    _resave(bag_dir)
    with pytest.raises(BagRefused, match="record was edited"):
        bag_import(source=bag_dir)
    # 2. Only the bag's copy of the snapshots edited: it must agree with the hashed records.
    bag_dir = tmp_path / "copy"
    export(photo, bag_dir)
    path = bag_dir / "data" / "evidence" / "snapshots.json"
    snapshots = json.loads(path.read_text())
    next(iter(snapshots.values()))["citations"][0]["quote"] = "red"
    path.write_text(json.dumps(snapshots))
    _resave(bag_dir)
    with pytest.raises(BagRefused, match="a snapshot was edited"):
        bag_import(source=bag_dir)
    # 3. The reference image's file changed (manifests rewritten): its snapshot's sha256 holds.
    bag_dir = tmp_path / "file"
    export(photo, bag_dir)
    target = next((bag_dir / "data" / "evidence" / "files").iterdir())
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    target.write_bytes(bytes(raw))
    _resave(bag_dir)
    with pytest.raises(BagRefused, match=f"reference image {reference.pk} hashes to"):
        bag_import(source=bag_dir)
    # 4. The reference file left out: refused, naming it.
    target.unlink()
    _resave(bag_dir)
    with pytest.raises(BagRefused, match="is not in the bag"):
        bag_import(source=bag_dir)
    assert _counts() == before
