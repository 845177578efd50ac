"""BagIt packages (RFC 8493, ``bagit``) of a photo's whole lineage, and their import.

A bag holds, under ``data/``: ``objects/<sha256>.<ext>`` (the master and every derivative the
exporter may see), ``lineage.json`` (every artifact and every step record with its
``record_hash``: the hashed record itself, see docs/lineage.md), ``prov/<artifact>.json``
(W3C PROV-JSON), ``c2pa/<artifact>.jpg`` (Content Credentials; absent without signing
material, and bag-info says so), ``record/photo.json`` and ``record/dc.xml`` (the catalogue
record; Dublin Core), ``evidence/snapshots.json`` (the evidence each step relied on, as
frozen in its record), ``evidence/files/`` + ``files.json`` (the files of the reference images
the steps consulted), ``evidence/restricted.json`` (which evidence records are restricted at
the exporter) and ``transparency/checkpoint.json`` + ``proofs.json`` (the exporting
archive's signed checkpoint and an inclusion proof of every step record). Manifests and
tag manifests are SHA-256.

``bag_import`` checks everything before it writes anything: the bag validates (every payload
hash, Payload-Oxum), every file's bytes hash to the artifact's sha256 (so a bag whose
manifest was "fixed" after an edit is still caught), every step record hashes to its
``record_hash`` and links only to artifacts and steps present, the checkpoint's signature
holds and every inclusion proof verifies against it; a step that cites evidence holds its
snapshots (record version 2) naming exactly the ids it cites, ``snapshots.json`` agrees with
the records, and every consulted reference file is there and hashes to its snapshot's sha256.
Then, in one transaction, it stores the files, recreates the artifacts and steps with their
original record hashes (appended to this archive's own transparency log), the photo and its
figures, the sources, citations and reference images from the snapshots (restricted where
they were; a reference file is ingested here, its ingest step saying where it came from), and
a ``BagImport`` row saying where they came from, with an ``ImportedEvidence`` row per record
and per step link: an imported step's record names the exporter's ids, its link rows this
archive's rows, and ``verify`` re-hashes it with the recorded ids (``recorded_ids``), so it
keeps its original hash. A refused bag writes nothing and names the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import bagit
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from access.visibility import User
from archive.models import Figure, Photo
from interop.dublincore import dc_xml, photo_dc
from interop.models import BagImport, ImportedEvidence
from restoration.engine.identity import worst_verdict
from restoration.hashing import canonical_json
from restoration.models import Artifact, ModelWeights, Step, StepInput, StepOutput
from restoration.selectors import lineage_descendants
from restoration.storage import delete_object, object_key, open_stream, store_object

logger = logging.getLogger(__name__)

BAG_FORMAT = "photo-archive-bag/1"
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
    "image/webp": "webp",
    "video/x-matroska": "mkv",
    "video/mp4": "mp4",
}
PHOTO_FIELDS = (
    "title",
    "description",
    "date",
    "place",
    "photographer",
    "repository",
    "accession_number",
    "carrier",
    "physical_description",
    "rights_statement",
    "restricted",
)


class BagRefused(Exception):
    """The bag cannot be imported; the message names why. Nothing was written."""


# --- export ------------------------------------------------------------------------------------


def _visible_ids(ids: Iterable[int], user: Any, everything: bool) -> set[int]:
    from access.visibility import visible_artifacts

    ids = list(ids)
    if everything:
        return set(ids)
    return set(
        visible_artifacts(Artifact.objects.filter(pk__in=ids), user).values_list("pk", flat=True)
    )


def photo_for_bag(photo_id: int, user: Any, *, everything: bool = False) -> Photo | None:
    from access.visibility import visible_photos

    photos = Photo.objects.select_related("master")
    if not everything:
        photos = visible_photos(photos, user)
    return photos.filter(pk=photo_id).first()


def bag_export(
    *,
    photo: Photo,
    dest: Path,
    user: Any = None,
    everything: bool = False,
    url: Any = None,
    sign_checkpoint: bool = False,
) -> bagit.Bag:
    """Write the bag of ``photo``'s lineage into the new directory ``dest``. ``everything``:
    the archive's own export (the management command); otherwise what ``user`` may see.
    ``sign_checkpoint``: sign a checkpoint when none covers the steps yet (the command does;
    a GET never writes, so its bag then carries no transparency part)."""
    from restoration.exports.lineage_json import lineage_export
    from restoration.exports.prov import lineage_prov

    url = url or (lambda path: f"{settings.ARCHIVE_BASE_URL.rstrip('/')}{path}")
    dest.mkdir(parents=True)
    graph = lineage_descendants(artifact_id=photo.master_id)
    ids = _visible_ids(graph.artifacts, user, everything) | {photo.master_id}
    artifacts: dict[str, dict[str, Any]] = {}
    steps: dict[str, dict[str, Any]] = {}
    for artifact_id in sorted(ids):
        exported = lineage_export(artifact_id=artifact_id)
        for entry in exported["artifacts"]:
            artifacts.setdefault(entry["sha256"], entry)
        for step in exported["steps"]:
            steps.setdefault(step["record_hash"], step)
    rows = {a.sha256: a for a in Artifact.objects.filter(sha256__in=list(artifacts))}
    (dest / "objects").mkdir()
    for sha, entry in artifacts.items():
        row = rows[sha]
        entry.update(
            role=row.role,
            mode=row.mode,
            bit_depth=row.bit_depth,
            has_icc_profile=row.has_icc_profile,
            info=row.info,
            file=f"objects/{sha}.{EXTENSIONS.get(row.media_type, 'bin')}",
        )
        with open_stream(object_key(sha)) as src, open(dest / entry["file"], "wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
    artifact_entries = sorted(artifacts.values(), key=lambda a: a["id"])
    step_entries = sorted(steps.values(), key=lambda s: s["id"])
    lineage = {
        "format": BAG_FORMAT,
        "photo": photo.pk,
        "master": photo.master.sha256,
        "approved": _approved_sha256(photo),
        "artifacts": artifact_entries,
        "steps": step_entries,
    }
    (dest / "lineage.json").write_bytes(json.dumps(lineage, indent=1, ensure_ascii=False).encode())
    (dest / "prov").mkdir()
    for entry in artifact_entries:
        if entry["id"] in ids:
            (dest / "prov" / f"{entry['id']}.json").write_text(
                lineage_prov(artifact_id=entry["id"], fmt="json")
            )
    c2pa_note = _c2pa_exports(dest, [e for e in artifact_entries if e["id"] in ids])
    _catalogue_record(dest, photo, user, everything, url)
    evidence = {
        s["record_hash"]: s["record"].get("evidence")
        for s in step_entries
        if any((s["record"].get("evidence") or {}).values())
    }
    (dest / "evidence").mkdir()
    (dest / "evidence" / "snapshots.json").write_text(json.dumps(evidence, indent=1))
    _evidence_files(dest, evidence, user, everything)
    origin = _transparency(dest, [s["id"] for s in step_entries], sign=sign_checkpoint)
    info = {
        "Source-Organization": settings.ARCHIVE_ORGANIZATION,
        "External-Identifier": f"photo/{photo.pk}",
        "External-Description": photo.title[:200],
        "Bag-Software-Agent": "photo-archive interop (bagit-python)",
        "Bag-Group-Identifier": BAG_FORMAT,
        "Archive-Log-Origin": origin or "none",
        "C2PA-Exports": c2pa_note,
    }
    return bagit.make_bag(str(dest), info, processes=1, checksums=["sha256"])


def _evidence_files(dest: Path, evidence: dict[str, Any], user: Any, everything: bool) -> None:
    """The files of the reference images the steps consulted (by the sha256 their snapshots
    name), with what the receiving archive needs to record them: ``evidence/files.json``."""
    shas = {r["sha256"] for ev in evidence.values() for r in (ev or {}).get("references", [])}
    rows = {a.sha256: a for a in Artifact.objects.filter(sha256__in=shas)}
    visible = _visible_ids([a.pk for a in rows.values()], user, everything)
    index: dict[str, dict[str, Any]] = {}
    (dest / "evidence" / "files").mkdir()
    for sha in sorted(shas):
        row = rows.get(sha)
        if row is None or row.pk not in visible:
            continue  # a file this reader may not see: the import will say it is missing
        name = f"files/{sha}.{EXTENSIONS.get(row.media_type, 'bin')}"
        with open_stream(object_key(sha)) as src, open(dest / "evidence" / name, "wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
        index[sha] = {"file": name, "media_type": row.media_type, "size": row.size}
    (dest / "evidence" / "files.json").write_text(json.dumps(index, indent=1))
    _evidence_restricted(dest, evidence)


def _evidence_restricted(dest: Path, evidence: dict[str, Any]) -> None:
    """Which of the evidence records are restricted here now (not part of any snapshot): the
    receiving archive recreates them restricted, so nothing hidden here is public there."""
    from archive.models import Citation, ReferenceImage, Source

    snaps = [ev or {} for ev in evidence.values()]
    citations = {c["id"] for ev in snaps for c in ev.get("citations", [])}
    sources = {c["source"]["id"] for ev in snaps for c in ev.get("citations", [])}
    references = {r["id"] for ev in snaps for r in ev.get("references", [])}
    restricted = {
        "sources": sorted(
            Source.objects.filter(pk__in=sources, restricted=True).values_list("pk", flat=True)
        ),
        "citations": sorted(
            Citation.objects.filter(pk__in=citations, restricted=True).values_list("pk", flat=True)
        ),
        "references": sorted(
            ReferenceImage.objects.filter(pk__in=references, restricted=True).values_list(
                "pk", flat=True
            )
        ),
    }
    (dest / "evidence" / "restricted.json").write_text(json.dumps(restricted, indent=1))


def _c2pa_exports(dest: Path, entries: list[dict[str, Any]]) -> str:
    from restoration.exports.c2pa import artifact_export_c2pa

    (dest / "c2pa").mkdir()
    made = 0
    for entry in entries:
        if not str(entry["media_type"]).startswith("image/"):
            continue
        try:
            data = artifact_export_c2pa(artifact_id=entry["id"], fmt="jpeg")
        except Exception as exc:  # no signing material here: say so in bag-info
            return f"none ({type(exc).__name__}: {exc})"[:300]
        (dest / "c2pa" / f"{entry['id']}.jpg").write_bytes(data)
        made += 1
    return f"{made} signed JPEG(s)"


def _approved_sha256(photo: Photo) -> str | None:
    approved = photo.approved_artifact  # None, with no query, when approved_artifact_id is
    return approved.sha256 if approved is not None else None


def _catalogue_record(dest: Path, photo: Photo, user: Any, everything: bool, url: Any) -> None:
    from access.visibility import visible_figures

    linked = photo.figures.all()
    figures = list(linked if everything else visible_figures(linked, user))
    record = {f: getattr(photo, f) for f in PHOTO_FIELDS}
    record |= {
        "id": photo.pk,
        "exif": photo.exif,
        "master": photo.master.sha256,
        "approved": _approved_sha256(photo),
        "approved_note": photo.approved_note,
        "figures": [
            {"name": f.name, "wikidata_id": f.wikidata_id, "birth_date": f.birth_date}
            for f in figures
        ],
    }
    (dest / "record").mkdir()
    (dest / "record" / "photo.json").write_text(
        json.dumps(record, indent=1, ensure_ascii=False, default=str)
    )
    (dest / "record" / "dc.xml").write_bytes(dc_xml(photo_dc(photo, figures, url)))


def _transparency(dest: Path, step_ids: list[int], *, sign: bool) -> str | None:
    """The log's checkpoint covering every step, with an inclusion proof of each. With ``sign``
    a checkpoint is made when none covers them yet (publishing is what checkpoints are for);
    without, such a bag has no transparency part (the next job's checkpoint will cover it)."""
    try:
        from restoration import ledger
        from restoration.models import Checkpoint, LogLeaf
    except ImportError:  # an archive without the transparency log
        return None
    leaves = list(LogLeaf.objects.filter(kind="step", record_id__in=step_ids))
    if len(leaves) != len(step_ids):
        return None  # steps from before the log: nothing to prove them against
    needed = max((leaf.index for leaf in leaves), default=-1) + 1
    checkpoint = Checkpoint.objects.filter(tree_size__gte=needed).first()
    if checkpoint is None:
        if not sign:
            return None
        checkpoint = ledger.checkpoint_make(reason="bag export")
    proofs = {}
    for step_id in step_ids:
        proof = ledger.step_proof(step_id, checkpoint)
        if proof is not None:
            proofs[proof["record_hash"]] = proof
    (dest / "transparency").mkdir()
    (dest / "transparency" / "checkpoint.json").write_text(
        json.dumps(ledger.checkpoint_dict(checkpoint), indent=1)
    )
    (dest / "transparency" / "proofs.json").write_text(json.dumps(proofs, indent=1))
    return checkpoint.origin


def bag_zip(bag_dir: Path, out: Path) -> Path:
    """Zip a bag with its directory as the top-level folder (as bags are usually shipped)."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(bag_dir.rglob("*")):
            if path.is_file():
                zf.write(path, f"{bag_dir.name}/{path.relative_to(bag_dir).as_posix()}")
    return out


# --- import ------------------------------------------------------------------------------------


def _unpacked(source: Path, work: Path) -> Path:
    if source.is_dir():
        return source
    if not zipfile.is_zipfile(source):
        raise BagRefused(f"{source.name} is neither a bag directory nor a zip file")
    with zipfile.ZipFile(source) as zf:
        for name in zf.namelist():
            target = (work / name).resolve()
            if not str(target).startswith(str(work.resolve())):
                raise BagRefused(f"the zip names a path outside the bag: {name!r}")
        zf.extractall(work)
    tops = [p for p in work.iterdir() if p.is_dir()]
    if (work / "bagit.txt").is_file():
        return work
    if len(tops) == 1 and (tops[0] / "bagit.txt").is_file():
        return tops[0]
    raise BagRefused("the zip holds no bag (no bagit.txt at its top)")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bag_check(root: Path) -> dict[str, Any]:
    """Everything ``bag_import`` checks before writing; returns the parsed bag, or raises
    ``BagRefused`` naming the first problem."""
    try:
        bag = bagit.Bag(str(root))
        bag.validate(processes=1)
    except bagit.BagValidationError as exc:
        details = "; ".join(str(d) for d in (exc.details or [])[:5])
        raise BagRefused(
            f"the bag does not validate: {exc.message}{': ' + details if details else ''}"
        ) from exc
    except bagit.BagError as exc:
        raise BagRefused(f"not a valid bag: {exc}") from exc
    data = root / "data"
    try:
        lineage = json.loads((data / "lineage.json").read_text())
        record = json.loads((data / "record" / "photo.json").read_text())
    except (OSError, ValueError) as exc:
        raise BagRefused(f"the bag lacks a readable lineage or catalogue record: {exc}") from exc
    if lineage.get("format") != BAG_FORMAT:
        raise BagRefused(f"unknown bag format {lineage.get('format')!r} (expected {BAG_FORMAT})")
    artifacts = {a["sha256"]: a for a in lineage["artifacts"]}
    for sha, entry in artifacts.items():
        path = (data / entry["file"]).resolve()
        if not str(path).startswith(str(data.resolve())) or not path.is_file():
            raise BagRefused(f"artifact {sha[:12]}: its file {entry['file']} is missing")
        actual = _sha256_file(path)
        if actual != sha:
            raise BagRefused(
                f"artifact {sha[:12]}: the file {entry['file']} hashes to {actual[:12]}, not to "
                "its content address (the file was changed)"
            )
    steps = {s["record_hash"]: s for s in lineage["steps"]}
    for rhash, step in steps.items():
        actual = hashlib.sha256(canonical_json(step["record"])).hexdigest()
        if actual != rhash:
            raise BagRefused(
                f"step {step.get('id')} ({step.get('operation')}): its record hashes to "
                f"{actual[:12]}, not to its record_hash {rhash[:12]} (the record was edited)"
            )
        rec = step["record"]
        for link in rec["inputs"]:
            if link["sha256"] not in artifacts:
                raise BagRefused(
                    f"step {step['id']}: input {link['sha256'][:12]} is not in the bag"
                )
            if link["step"] is not None and link["step"] not in steps:
                raise BagRefused(
                    f"step {step['id']}: the step that made its input is not in the bag"
                )
            made_by = artifacts[link["sha256"]].get("generated_by")
            if made_by != link["step"]:
                raise BagRefused(
                    f"step {step['id']}: input {link['sha256'][:12]} has another maker"
                )
        for link in rec["outputs"]:
            if link["sha256"] not in artifacts:
                raise BagRefused(
                    f"step {step['id']}: output {link['sha256'][:12]} is not in the bag"
                )
    for sha, entry in artifacts.items():
        if entry.get("generated_by") and entry["generated_by"] not in steps:
            raise BagRefused(f"artifact {sha[:12]}: the step that made it is not in the bag")
    if lineage["master"] not in artifacts or record.get("master") != lineage["master"]:
        raise BagRefused("the catalogue record's master scan is not the bag's master")
    evidence_files = _check_evidence(data, steps, artifacts)
    checkpoint = _check_transparency(data, steps)
    return {
        "evidence_files": evidence_files,
        "bag": bag,
        "lineage": lineage,
        "record": record,
        "artifacts": artifacts,
        "steps": steps,
        "checkpoint": checkpoint,
    }


def _check_evidence(
    data: Path, steps: dict[str, dict[str, Any]], artifacts: dict[str, dict[str, Any]]
) -> dict[str, Path]:
    """Every step that relied on evidence carries its snapshots in its hashed record (record
    version 2), naming exactly the ids the record lists; the bag's ``evidence/snapshots.json``
    agrees with the records; every consulted reference image's file is in the bag and hashes
    to the sha256 its snapshot names. Returns the reference files by sha256."""
    try:
        snapshots = json.loads((data / "evidence" / "snapshots.json").read_text())
        index = json.loads((data / "evidence" / "files.json").read_text())
    except FileNotFoundError:
        snapshots, index = {}, {}
    except (OSError, ValueError) as exc:
        raise BagRefused(f"the bag's evidence snapshots are unreadable: {exc}") from exc
    files: dict[str, Path] = {}
    for rhash, step in steps.items():
        rec = step["record"]
        cited, consulted = rec.get("citations") or [], rec.get("references") or []
        if not cited and not consulted:
            if rhash in snapshots:
                raise BagRefused(
                    f"step {step['id']}: evidence snapshots for a step that cited none"
                )
            continue
        label = f"step {step['id']} ({step['operation']})"
        if int(rec.get("record_version", 1)) < 2 or not isinstance(rec.get("evidence"), dict):
            raise BagRefused(
                f"{label} relied on evidence (citations {cited}, references {consulted}) but its "
                "record (version 1) holds no snapshot of it, so the evidence cannot be recreated"
            )
        ev = rec["evidence"]
        if sorted(c["id"] for c in ev.get("citations", [])) != sorted(cited) or sorted(
            r["id"] for r in ev.get("references", [])
        ) != sorted(consulted):
            raise BagRefused(f"{label}: its evidence snapshots do not match the ids it cites")
        if snapshots.get(rhash) != ev:
            raise BagRefused(
                f"{label}: evidence/snapshots.json differs from the snapshots in its hashed "
                "record (a snapshot was edited)"
            )
        for ref in ev.get("references", []):
            sha = ref["sha256"]
            if sha in files or sha in artifacts:
                continue
            entry = index.get(sha)
            path = (data / "evidence" / entry["file"]).resolve() if entry else None
            if path is None or not str(path).startswith(str(data.resolve())) or not path.is_file():
                raise BagRefused(
                    f"{label}: the file of reference image {ref['id']} ({sha[:12]}) is not in "
                    "the bag"
                )
            actual = _sha256_file(path)
            if actual != sha:
                raise BagRefused(
                    f"{label}: the file of reference image {ref['id']} hashes to {actual[:12]}, "
                    f"not to {sha[:12]} (the file was changed)"
                )
            files[sha] = path
    for rhash in snapshots:
        if rhash not in steps:
            raise BagRefused(f"evidence snapshots for a step not in the bag ({rhash[:12]})")
    return files


def _restricted_evidence(data: Path) -> dict[str, set[int]]:
    """The exporter's restricted evidence records; a bag without the list (or an unreadable
    one) has all its evidence recreated restricted: hiding too much can be undone."""
    try:
        listed = json.loads((data / "evidence" / "restricted.json").read_text())
        return {k: {int(i) for i in listed[k]} for k in ("sources", "citations", "references")}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _check_transparency(data: Path, steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not (data / "transparency" / "checkpoint.json").is_file():
        return {}
    from restoration import merkle
    from restoration.ledger import checkpoint_signature_ok

    checkpoint = json.loads((data / "transparency" / "checkpoint.json").read_text())
    proofs = json.loads((data / "transparency" / "proofs.json").read_text())
    if not checkpoint_signature_ok(checkpoint):
        raise BagRefused("the transparency-log checkpoint's signature does not verify")
    root = bytes.fromhex(checkpoint["root"])
    for rhash, step in steps.items():
        proof = proofs.get(rhash)
        if proof is None:
            raise BagRefused(f"step {step['id']}: no inclusion proof in the bag")
        leaf = merkle.leaf_hash(merkle.leaf_data("step", int(step["id"]), rhash))
        ok = int(proof["tree_size"]) == int(checkpoint["tree_size"]) and merkle.verify_inclusion(
            int(proof["leaf_index"]),
            int(checkpoint["tree_size"]),
            leaf,
            [bytes.fromhex(h) for h in proof["audit_path"]],
            root,
        )
        if not ok:
            raise BagRefused(
                f"step {step['id']}: its inclusion proof does not verify against the checkpoint"
            )
    return checkpoint


def bag_import(*, source: Path, user: User = None) -> BagImport:
    tmp_root = Path(settings.ARCHIVE_DATA_DIR) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="bag-") as work:
        root = _unpacked(Path(source), Path(work))
        checked = bag_check(root)
        return _write(root, checked, user)


def _write(root: Path, checked: dict[str, Any], user: Any) -> BagImport:
    from restoration.ledger import log_append

    artifacts, steps, lineage = checked["artifacts"], checked["steps"], checked["lineage"]
    if Artifact.objects.filter(sha256=lineage["master"]).exists():
        raise BagRefused(
            f"the master scan {lineage['master'][:12]} is already in this archive; nothing imported"
        )
    stored: list[str] = []
    try:
        for sha, entry in artifacts.items():
            with open(root / "data" / entry["file"], "rb") as fh:
                if store_object(sha, fh).created:
                    stored.append(sha)
        with transaction.atomic():
            made: dict[str, Step] = {}
            rows: dict[str, Artifact] = {
                a.sha256: a for a in Artifact.objects.filter(sha256__in=list(artifacts))
            }
            created_artifacts: list[int] = []
            for rhash, entry in sorted(steps.items(), key=lambda kv: kv[1]["id"]):
                rec = entry["record"]
                step = _step_from_record(rec, rhash)
                step.save()
                made[rhash] = step
                for link in rec["inputs"]:
                    StepInput(
                        step=step,
                        artifact=rows[link["sha256"]],
                        role=link["role"],
                        position=link["position"],
                    ).save()
                for link in rec["outputs"]:
                    artifact = rows.get(link["sha256"])
                    if artifact is None:
                        artifact = _artifact(artifacts[link["sha256"]], made)
                        rows[link["sha256"]] = artifact
                        created_artifacts.append(artifact.pk)
                    StepOutput(step=step, artifact=artifact, role=link["role"]).save()
                log_append(kind="step", record_id=step.pk, record_hash=step.record_hash)
            photo = _photo(checked["record"], rows, user)
            origin = checked["bag"].info.get("Source-Organization", "") or "another archive"
            mapping = _evidence(
                steps,
                made,
                rows,
                checked["evidence_files"],
                user,
                origin,
                stored,
                _restricted_evidence(root / "data"),
            )
            bag_import = BagImport.objects.create(
                imported_by=user if getattr(user, "is_authenticated", False) else None,
                bag_name=root.name,
                source_organization=checked["bag"].info.get("Source-Organization", ""),
                origin=checked["bag"].info.get("Archive-Log-Origin", ""),
                external_identifier=checked["bag"].info.get("External-Identifier", ""),
                bagging_date=checked["bag"].info.get("Bagging-Date", ""),
                payload_oxum=checked["bag"].info.get("Payload-Oxum", ""),
                manifest_sha256=_sha256_file(root / "manifest-sha256.txt"),
                bag_info={k: v for k, v in checked["bag"].info.items() if isinstance(v, str)},
                photo=photo,
                artifacts_created=created_artifacts,
                steps_created=[s.pk for s in made.values()],
                record_hashes=sorted(made),
                checkpoint=checked["checkpoint"],
            )
            for row in mapping:
                row.bag_import = bag_import
            ImportedEvidence.objects.bulk_create(mapping)
            return bag_import
    except ValidationError as exc:
        for sha in stored:
            if not Artifact.objects.filter(sha256=sha).exists():
                delete_object(object_key(sha))
        raise BagRefused(f"the bag's catalogue records do not validate here: {exc}") from exc
    except BaseException:
        for sha in stored:  # never leave orphan files behind a refused or failed import
            if not Artifact.objects.filter(sha256=sha).exists():
                delete_object(object_key(sha))
        raise


def _latest(snapshots: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Each record's snapshot at its latest revision among the steps (what it is recreated as)."""
    latest: dict[int, dict[str, Any]] = {}
    for snap in snapshots:
        held = latest.get(snap["id"])
        if held is None or (snap.get("revision") or 0) > (held.get("revision") or 0):
            latest[snap["id"]] = snap
    return latest


def _evidence(
    steps: dict[str, dict[str, Any]],
    made: dict[str, Step],
    rows: dict[str, Artifact],
    files: dict[str, Path],
    user: Any,
    origin: str,
    stored: list[str],
    restricted: dict[str, set[int]],
) -> list[ImportedEvidence]:
    """Recreate the sources, citations and reference images the steps relied on (from the
    snapshots in their hashed records), link each step to them, and return the unsaved rows
    that say where each came from. The steps' records keep the exporter's ids: ``verify``
    reads them back through these rows (``recorded_ids``)."""
    from archive.models import Citation, Revision, Source
    from archive.models import ReferenceImage as Reference
    from archive.revisions import revision_record
    from restoration.models import StepCitation, StepReference
    from restoration.services import artifact_ingest

    evidence = [s["record"].get("evidence") or {} for s in steps.values()]
    cited = _latest(c for ev in evidence for c in ev.get("citations", []))
    consulted = _latest(r for ev in evidence for r in ev.get("references", []))
    sources = _latest(c["source"] for c in cited.values())
    mapping: list[ImportedEvidence] = []

    def note(kind: str, snap: dict[str, Any]) -> str:
        return (
            f"Imported from {origin}: {kind} {snap['id']} at revision {snap.get('revision') or 0}."
        )

    def created(instance: Any, kind: str, snap: dict[str, Any]) -> Any:
        # Restricted when it was restricted there, and when the bag does not say.
        instance.restricted = snap["id"] in restricted.get(f"{kind}s", {snap["id"]})
        instance.full_clean()
        instance.save()
        revision_record(instance=instance, action=Revision.Action.CREATE, before=None, user=user)
        mapping.append(
            ImportedEvidence(
                kind=kind,
                origin_id=snap["id"],
                origin_revision=snap.get("revision") or 0,
                local_id=instance.pk,
            )
        )
        return instance

    local_sources = {
        sid: created(
            Source(
                kind=snap.get("kind") or Source.Kind.OTHER,
                title=snap.get("title") or f"source {sid}",
                author=snap.get("author") or "",
                date=snap.get("date") or "",
                repository=snap.get("repository") or "",
                notes=note("source", snap),
            ),
            ImportedEvidence.Kind.SOURCE,
            snap,
        )
        for sid, snap in sorted(sources.items())
    }
    local_citations = {
        cid: created(
            Citation(
                source=local_sources[snap["source"]["id"]],
                locator=snap.get("locator") or "",
                quote=snap.get("quote") or "",
                claim=snap.get("claim") or "",
                confidence=snap.get("confidence") or Citation.Confidence.PROBABLE,
            ),
            ImportedEvidence.Kind.CITATION,
            snap,
        )
        for cid, snap in sorted(cited.items())
    }
    local_references = {}
    for rid, snap in sorted(consulted.items()):
        artifact = (
            rows.get(snap["sha256"]) or Artifact.objects.filter(sha256=snap["sha256"]).first()
        )
        if artifact is None:
            with open(files[snap["sha256"]], "rb") as fh:
                result = artifact_ingest(
                    stream=fh,
                    filename=files[snap["sha256"]].name,
                    user=user if getattr(user, "is_authenticated", False) else None,
                    parameters={"purpose": "reference", "imported_from": origin},
                )
            artifact = result.artifact
            stored.append(artifact.sha256)
        local_references[rid] = created(
            Reference(
                artifact=artifact,
                kind=snap.get("kind") or Reference.Kind.OTHER,
                title=snap.get("title") or "",
                description=(snap.get("description") or "") + "\n\n" + note("reference", snap),
            ),
            ImportedEvidence.Kind.REFERENCE,
            snap,
        )
    for rhash, entry in steps.items():
        step, ev = made[rhash], entry["record"].get("evidence") or {}
        for snap in ev.get("citations", []):
            StepCitation(step=step, citation=local_citations[snap["id"]]).save()
            mapping.append(
                ImportedEvidence(
                    step=step,
                    kind=ImportedEvidence.Kind.CITATION,
                    origin_id=snap["id"],
                    origin_revision=snap.get("revision") or 0,
                    local_id=local_citations[snap["id"]].pk,
                )
            )
            mapping.append(  # the source: not hashed as an id, but shown with the snapshot
                ImportedEvidence(
                    step=step,
                    kind=ImportedEvidence.Kind.SOURCE,
                    origin_id=snap["source"]["id"],
                    origin_revision=snap["source"].get("revision") or 0,
                    local_id=local_sources[snap["source"]["id"]].pk,
                )
            )
        for snap in ev.get("references", []):
            StepReference(step=step, reference=local_references[snap["id"]]).save()
            mapping.append(
                ImportedEvidence(
                    step=step,
                    kind=ImportedEvidence.Kind.REFERENCE,
                    origin_id=snap["id"],
                    origin_revision=snap.get("revision") or 0,
                    local_id=local_references[snap["id"]].pk,
                )
            )
    return mapping


def recorded_ids(step_ids: Any) -> dict[int, dict[str, dict[int, int]]]:
    """The exporter's evidence ids of imported steps, for ``verify``
    (``restoration.evidence.register_recorded_ids``)."""
    out: dict[int, dict[str, dict[int, int]]] = {}
    rows = ImportedEvidence.objects.filter(step_id__in=list(step_ids)).values_list(
        "step_id", "kind", "local_id", "origin_id"
    )
    for step_id, kind, local_id, origin_id in rows:
        out.setdefault(step_id, {}).setdefault(f"{kind}s", {})[local_id] = origin_id
    return out


def _recorded_time(value: str) -> dt.datetime:
    """A step record's timestamp: ISO 8601, as its hash (checked before) was computed over."""
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed


def _step_from_record(rec: dict[str, Any], rhash: str) -> Step:
    model = rec.get("model") or {}
    weights = (
        ModelWeights.objects.filter(sha256=model.get("sha256")).first()
        if model.get("sha256")
        else None
    )
    step = Step(
        kind=rec["kind"],
        operation=rec["operation"],
        operation_version=rec["operation_version"],
        parameters=rec["parameters"],
        weights=weights,
        model_sha256=model.get("sha256", ""),
        model_architecture=model.get("architecture", ""),
        software=rec["software"],
        device=rec["device"],
        seed=rec["seed"],
        actor=rec["actor"],
        on_behalf_of=rec["on_behalf_of"],
        started_at=_recorded_time(rec["started_at"]),
        ended_at=_recorded_time(rec["ended_at"]),
        rationale=rec["rationale"],
        run_record=rec["run"],
        change_summary=rec["change_summary"],
        record_version=rec["record_version"],
        evidence=rec.get("evidence") or {},
        identity=rec.get("identity") or {},
        identity_verdict=worst_verdict(rec.get("identity")) or "",
        record_hash=rhash,
    )
    return step


def _artifact(entry: dict[str, Any], made: dict[str, Step]) -> Artifact:
    maker = made.get(entry["generated_by"]) if entry.get("generated_by") else None
    artifact = Artifact(
        sha256=entry["sha256"],
        size=entry["size"],
        media_type=entry["media_type"],
        width=entry["width"],
        height=entry["height"],
        mode=entry.get("mode", ""),
        bit_depth=entry.get("bit_depth", 8),
        has_icc_profile=entry.get("has_icc_profile", False),
        role=entry.get("role", "image"),
        info=entry.get("info") or {},
        generated_by=maker,
    )
    artifact.save()
    return artifact


def _photo(record: dict[str, Any], rows: dict[str, Artifact], user: Any) -> Photo:
    from archive.models import Revision
    from archive.revisions import revision_record

    fields = {f: record[f] for f in PHOTO_FIELDS if f in record}
    photo = Photo(master=rows[record["master"]], exif=record.get("exif") or {}, **fields)
    if record.get("approved") and record["approved"] in rows:
        photo.approved_artifact = rows[record["approved"]]
        photo.approved_note = record.get("approved_note", "")
    photo.full_clean(exclude=["master", "figures", "approved_artifact"])
    photo.save()
    figures = []
    for entry in record.get("figures", []):
        figure = Figure.objects.filter(name=entry["name"]).first()
        if figure is None:
            figure = Figure(name=entry["name"], wikidata_id=entry.get("wikidata_id") or "")
            figure.save()
            revision_record(instance=figure, action=Revision.Action.CREATE, before=None, user=user)
        figures.append(figure)
    photo.figures.set(figures)
    revision_record(instance=photo, action=Revision.Action.CREATE, before=None, user=user)
    return photo
