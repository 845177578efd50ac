"""The transparency log (DESIGN.md, "A log that a database administrator cannot rewrite").

Every record hash (steps, catalogue revisions, audit runs) is appended, in order, as a leaf of
a Merkle tree hashed as RFC 9162 says (``restoration.merkle``). Leaves never change. The
archive signs **checkpoints** (origin, tree size, root, time) with Ed25519; a checkpoint
exported outside the database (``manage.py checkpoint export``) lets ``verify`` and the
stand-alone checker (``scripts/check_lineage.py``) prove that the database still holds what it
held then.

Appending is O(log n): the one ``LogHead`` row holds the size and the frontier (roots of the
complete subtrees of the right edge); the append locks it (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite writers are serialised anyway), so leaf indexes are gap-free and in commit
order, and stores the complete subtrees the leaf closes (``LogNode``), from which any inclusion
or consistency proof reads O(log n) hashes. Call ``log_append`` inside the transaction that
writes the record: a rolled-back record leaves no leaf, a committed one always has one.

Leaf kinds are registered (``register_record_kind``) by whoever owns the records (this module
registers steps and audit runs; the catalogue registers its revisions), so the lineage core
checks catalogue revisions without importing the catalogue.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from restoration import merkle
from restoration.hashing import canonical_json, canonical_time
from restoration.models import AuditRun, Checkpoint, LogHead, LogLeaf, LogNode, Step

if TYPE_CHECKING:
    # What a cursor takes as a query parameter, as the stubs spell it (no runtime name).
    from django.db.backends.utils import _SQLType as SQLParam

CHECKPOINT_FORMAT = "photo-archive-checkpoint/1"

# kind -> function(ids) -> {id: current record hash} (missing ids: the record is gone)
RecordHashes = Callable[[list[int]], dict[int, str]]
_RECORD_KINDS: dict[str, RecordHashes] = {}


def register_record_kind(kind: str, current_hashes: RecordHashes) -> None:
    _RECORD_KINDS[kind] = current_hashes


def record_kinds() -> dict[str, RecordHashes]:
    return dict(_RECORD_KINDS)


# --- append ----------------------------------------------------------------------------------


_HEAD = LogHead._meta.db_table
_LEAF = LogLeaf._meta.db_table
_NODE = LogNode._meta.db_table


def _claim_index(cursor: Any) -> tuple[int, Any]:
    """Take the next leaf index: one ``UPDATE ... RETURNING`` that locks the head row until
    the transaction ends (concurrent appends queue here, so indexes are gap-free and in commit
    order) and returns the frontier as it was."""
    sql = f"UPDATE {_HEAD} SET size = size + 1 WHERE id = 1 RETURNING size, frontier"
    cursor.execute(sql)
    row = cursor.fetchone()
    if row is None:
        try:
            with transaction.atomic():
                LogHead.objects.create(pk=1, size=0, frontier=[])
        except IntegrityError:
            pass  # another writer made it first
        cursor.execute(sql)
        row = cursor.fetchone()
    size, frontier = row
    return int(size) - 1, json.loads(frontier) if isinstance(frontier, str) else frontier


def log_append(*, kind: str, record_id: int, record_hash: str) -> int:
    """Append one record hash to the log, in the caller's transaction; returns its index.

    Two round trips on PostgreSQL (claim the index; insert the leaf and the subtrees it
    completes and store the new frontier, in one statement), raw SQL throughout: the ORM's
    overhead would be most of the cost of an append."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("log_append must run inside the transaction that writes the record")
    leaf_hash = merkle.leaf_hash(merkle.leaf_data(kind, record_id, record_hash))
    json_field = LogHead._meta.get_field("frontier")
    time_field = LogLeaf._meta.get_field("appended_at")
    with connection.cursor() as cursor:
        index, stored = _claim_index(cursor)
        frontier = [(level, bytes.fromhex(h)) for level, h in stored]
        frontier, completed = merkle.frontier_append(frontier, index, leaf_hash)
        leaf_sql = (
            f'INSERT INTO {_LEAF} ("index", kind, record_id, record_hash, leaf_hash, appended_at)'
            " VALUES (%s, %s, %s, %s, %s, %s)"
        )
        leaf_params: list[SQLParam] = [
            index,
            kind,
            record_id,
            record_hash,
            leaf_hash.hex(),
            time_field.get_db_prep_value(dt.datetime.now(dt.UTC), connection),
        ]
        node_sql = ""
        node_params: list[SQLParam] = []
        if completed:
            node_sql = f'INSERT INTO {_NODE} (level, "index", hash) VALUES ' + ", ".join(
                ["(%s, %s, %s)"] * len(completed)
            )
            for level, node_index, h in completed:
                node_params += [level, node_index, h.hex()]
        head_sql = f"UPDATE {_HEAD} SET frontier = %s WHERE id = 1"
        head_params: list[SQLParam] = [
            json_field.get_db_prep_value([[lv, h.hex()] for lv, h in frontier], connection)
        ]
        if connection.vendor == "postgresql":
            ctes = [f"leaf AS ({leaf_sql})"] + ([f"nodes AS ({node_sql})"] if node_sql else [])
            cursor.execute(
                f"WITH {', '.join(ctes)} {head_sql}", leaf_params + node_params + head_params
            )
        else:
            cursor.execute(leaf_sql, leaf_params)
            if node_sql:
                cursor.execute(node_sql, node_params)
            cursor.execute(head_sql, head_params)
    return index


def log_size() -> int:
    head = LogHead.objects.filter(pk=1).first()
    return head.size if head else 0


def log_root(size: int | None = None) -> tuple[int, bytes]:
    """The current (size, root), or the root of the first ``size`` leaves."""
    head = LogHead.objects.filter(pk=1).first()
    if head is None:
        return 0, merkle.EMPTY_ROOT
    if size is None or size == head.size:
        return head.size, merkle.frontier_root([(lv, bytes.fromhex(h)) for lv, h in head.frontier])
    if size == 0:
        return 0, merkle.EMPTY_ROOT
    return size, _with_subtrees(lambda get: merkle._mth(0, size, get))


# --- proofs ----------------------------------------------------------------------------------


def _fetch_subtrees(keys: Iterable[merkle.Subtree]) -> dict[merkle.Subtree, bytes]:
    """The stored hashes of ``keys`` in one raw query (building the ORM's OR of ~2 log n
    conditions cost more than running it): leaves from ``LogLeaf``, inner nodes from
    ``LogNode``, by their unique indexes."""
    keys = set(keys)
    by_level: dict[int, list[int]] = {}
    for level, index in keys:
        by_level.setdefault(level, []).append(index)
    parts: list[str] = []
    params: list[int] = []
    for level, indexes in sorted(by_level.items()):
        marks = ", ".join(["%s"] * len(indexes))
        if level == 0:
            parts.append(
                f'SELECT 0, "index", leaf_hash FROM {LogLeaf._meta.db_table} '
                f'WHERE "index" IN ({marks})'
            )
        else:
            parts.append(
                f'SELECT level, "index", hash FROM {LogNode._meta.db_table} '
                f'WHERE level = %s AND "index" IN ({marks})'
            )
            params.append(level)
        params += indexes
    found: dict[merkle.Subtree, bytes] = {}
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            for level, index, h in cursor.fetchall():
                found[(int(level), int(index))] = bytes.fromhex(h)
    missing = keys - found.keys()
    if missing:
        raise LogDamaged(f"the log lacks stored subtree(s) {sorted(missing)[:5]}")
    return found


def _with_subtrees(compute: Callable[[merkle.Getter], Any]) -> Any:
    nodes = _fetch_subtrees(merkle.subtrees_needed(compute))
    return compute(nodes.__getitem__)


class LogDamaged(Exception):
    """The stored log cannot answer (a leaf or node row is missing)."""


def inclusion_proof(index: int, size: int) -> list[str]:
    return [h.hex() for h in _with_subtrees(lambda g: merkle.inclusion_proof(index, size, g))]


def consistency_proof(old_size: int, new_size: int) -> list[str]:
    return [
        h.hex() for h in _with_subtrees(lambda g: merkle.consistency_proof(old_size, new_size, g))
    ]


def leaf_of(kind: str, record_id: int) -> LogLeaf | None:
    return LogLeaf.objects.filter(kind=kind, record_id=record_id).first()


def step_proof(step_id: int, checkpoint: Checkpoint | None = None) -> dict[str, Any] | None:
    """An inclusion proof of a step's record against ``checkpoint`` (default: the latest that
    covers it); None when the step has no leaf or no checkpoint covers it yet."""
    return record_proof("step", step_id, checkpoint)


def record_proof(
    kind: str, record_id: int, checkpoint: Checkpoint | None = None
) -> dict[str, Any] | None:
    """An inclusion proof of any logged record (``step``, ``revision``, ``audit``) against
    ``checkpoint`` (default: the latest that covers it); None when the record has no leaf or
    no checkpoint covers it yet."""
    leaf = leaf_of(kind, record_id)
    if leaf is None:
        return None
    if checkpoint is None:
        checkpoint = Checkpoint.objects.filter(tree_size__gt=leaf.index).first()
    if checkpoint is None or checkpoint.tree_size <= leaf.index:
        return None
    return {
        "kind": leaf.kind,
        "record_id": leaf.record_id,
        "record_hash": leaf.record_hash,
        "leaf_index": leaf.index,
        "leaf_hash": leaf.leaf_hash,
        "tree_size": checkpoint.tree_size,
        "audit_path": inclusion_proof(leaf.index, checkpoint.tree_size),
        "checkpoint": checkpoint_dict(checkpoint),
    }


# --- signing ---------------------------------------------------------------------------------


def _key_path() -> Path:
    path = str(settings.ARCHIVE_CHECKPOINT_KEY or "")
    if path:
        return Path(path).expanduser()
    return Path(settings.ARCHIVE_DATA_DIR) / "keys" / "checkpoint-ed25519.pem"


def signing_key() -> Any:
    """The archive's Ed25519 checkpoint key (PEM, PKCS#8), made on first use (mode 0600)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = _key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key_raw(key: Any | None = None) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = key or signing_key()
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def log_origin() -> str:
    return str(settings.ARCHIVE_LOG_ORIGIN or "photo-archive")


def checkpoint_body(origin: str, tree_size: int, root_hex: str, signed_at: str) -> bytes:
    """What is signed (a C2SP signed-note style text): four lines, each ending in a newline."""
    root_b64 = base64.b64encode(bytes.fromhex(root_hex)).decode()
    return f"{origin}\n{tree_size}\n{root_b64}\n{signed_at}\n".encode()


def checkpoint_make(*, reason: str = "") -> Checkpoint:
    """Sign the log as it is now (a new checkpoint only when the log grew)."""
    with transaction.atomic():
        size, root = log_root()
        latest = Checkpoint.objects.first()
        if latest is not None and latest.tree_size == size and latest.root == root.hex():
            return latest
        key = signing_key()
        pub = public_key_raw(key)
        now = dt.datetime.now(dt.UTC)
        body = checkpoint_body(log_origin(), size, root.hex(), canonical_time(now))
        checkpoint = Checkpoint(
            tree_size=size,
            root=root.hex(),
            signed_at=now,
            origin=log_origin(),
            key_id=hashlib.sha256(pub).hexdigest(),
            public_key=base64.b64encode(pub).decode(),
            signature=base64.b64encode(key.sign(body)).decode(),
            reason=reason[:100],
        )
        checkpoint.save()
    return checkpoint


def checkpoint_make_quietly(*, reason: str = "") -> Checkpoint | None:
    """``checkpoint_make`` for automatic callers (after a job): a signing failure must not fail
    the job; the next checkpoint covers its records."""
    try:
        return checkpoint_make(reason=reason)
    except Exception:  # noqa: BLE001 - logged by the caller's logger if it has one
        return None


def checkpoint_dict(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "origin": checkpoint.origin,
        "tree_size": checkpoint.tree_size,
        "root": checkpoint.root,
        "signed_at": canonical_time(checkpoint.signed_at),
        "key_id": checkpoint.key_id,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
    }


def checkpoint_signature_ok(data: dict[str, Any], public_key_b64: str | None = None) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        pub = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(public_key_b64 or data["public_key"])
        )
        body = checkpoint_body(
            data["origin"], int(data["tree_size"]), data["root"], data["signed_at"]
        )
        pub.verify(base64.b64decode(data["signature"]), body)
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return False
    return True


# --- export ----------------------------------------------------------------------------------


def exported_checkpoint_path() -> Path:
    return Path(settings.ARCHIVE_DATA_DIR) / "checkpoints" / "latest.json"


def checkpoint_export(checkpoint: Checkpoint, *, with_leaves: bool = True) -> dict[str, Any]:
    """A checkpoint as published outside the database; ``leaves`` (kind, id, record hash of
    each leaf, in order) lets ``verify`` name exactly which record a rewrite changed."""
    data = checkpoint_dict(checkpoint)
    if with_leaves:
        data["leaves"] = [
            [kind, rid, rhash]
            for kind, rid, rhash in LogLeaf.objects.filter(index__lt=checkpoint.tree_size)
            .order_by("index")
            .values_list("kind", "record_id", "record_hash")
        ]
    return data


def checkpoint_write(data: dict[str, Any], path: Path | None = None) -> Path:
    path = path or exported_checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(json.dumps(data, indent=1).encode())
    tmp.replace(path)
    return path


def checkpoint_read(path: Path | None = None) -> dict[str, Any] | None:
    path = path or exported_checkpoint_path()
    if not path.exists():
        return None
    result: dict[str, Any] = json.loads(path.read_bytes())
    return result


# --- what verify asks ------------------------------------------------------------------------


@dataclass
class LogProblem:
    kind: str
    message: str
    where: dict[str, Any]


def log_check(published: dict[str, Any] | None) -> list[LogProblem]:
    """Check the stored log and the records it lists.

    - every leaf's hash is recomputed from its (kind, id, record hash), indexes are gap-free,
      the head matches the leaves;
    - every logged record still exists (``leaf_removed`` / ``audit_run_deleted``) and still has
      the logged hash (``record_rewritten``), whatever its own hash check says;
    - with a published checkpoint: its signature, then its root against the stored leaves
      (``log_rewritten``), and with its leaf list, the record each changed leaf held."""
    problems: list[LogProblem] = []
    leaves = list(
        LogLeaf.objects.order_by("index").values_list(
            "index", "kind", "record_id", "record_hash", "leaf_hash"
        )
    )
    hashes: list[bytes] = []
    by_kind: dict[str, dict[int, tuple[int, str]]] = {}
    for position, (index, kind, rid, rhash, lhash) in enumerate(leaves):
        if index != position:
            problems.append(
                LogProblem(
                    "leaf_removed",
                    f"transparency log: leaf {position} is missing (the next leaf is {index})",
                    {"leaf": position},
                )
            )
            break
        expected = merkle.leaf_hash(merkle.leaf_data(kind, rid, rhash))
        if expected.hex() != lhash:
            problems.append(
                LogProblem(
                    "log_rewritten",
                    f"transparency log: leaf {index} ({kind} {rid}) does not hash to its "
                    "stored leaf hash",
                    {"leaf": index},
                )
            )
        hashes.append(expected)
        by_kind.setdefault(kind, {})[rid] = (index, rhash)
    size, root = log_root()
    if size != len(leaves) or (leaves and root != merkle.tree_root(hashes)):
        problems.append(
            LogProblem(
                "log_rewritten",
                f"transparency log: its head (size {size}) does not match its {len(leaves)} leaves",
                {},
            )
        )
    for kind, entries in by_kind.items():
        current_of = _RECORD_KINDS.get(kind)
        if current_of is None:
            continue
        ids = list(entries)
        current: dict[int, str] = {}
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            current.update(current_of(ids[start : start + 500]))
        for rid, (index, rhash) in sorted(entries.items()):
            now = current.get(rid)
            if now is None:
                what = "audit_run_deleted" if kind == "audit" else "leaf_removed"
                problems.append(
                    LogProblem(
                        what,
                        f"{kind} {rid} is in the transparency log (leaf {index}) but no longer "
                        "in the database: it was deleted",
                        {kind if kind != "audit" else "audit_run": rid, "leaf": index},
                    )
                )
            elif now != rhash:
                problems.append(
                    LogProblem(
                        "record_rewritten",
                        f"{kind} {rid}: its record hash is {now}, but the transparency log "
                        f"(leaf {index}) holds {rhash}: the record was rewritten after it was "
                        "logged",
                        {kind: rid, "leaf": index, "expected": rhash, "actual": now},
                    )
                )
    if published is not None:
        problems += _published_check(published, leaves, hashes)
    return problems


def leaves_check(
    kind: str, records: dict[int, str], published: dict[str, Any] | None
) -> list[LogProblem]:
    """Check some records (``{id: current record hash}``, e.g. the steps of one lineage) against
    the log, and each one's leaf against a checkpoint: the published one (``published``, read
    from outside the database; its signature is checked with this archive's key) when it covers
    the leaf, else the latest signed checkpoint that does. A record missing from the log is
    ``leaf_removed``; a record whose hash differs from its leaf, or a leaf that is not included
    under the checkpoint's root (the log was rewritten around it), is ``record_rewritten`` /
    ``log_rewritten``."""
    problems: list[LogProblem] = []
    if not records:
        return problems
    leaves = {
        leaf.record_id: leaf
        for leaf in LogLeaf.objects.filter(kind=kind, record_id__in=list(records))
    }
    usable = published
    if published is not None and not checkpoint_signature_ok(
        published, base64.b64encode(public_key_raw()).decode()
    ):
        problems.append(
            LogProblem(
                "checkpoint_invalid",
                "the published checkpoint's signature does not verify with this archive's key",
                {},
            )
        )
        usable = None
    published_leaves = (usable or {}).get("leaves") or []
    for rid, rhash in sorted(records.items()):
        leaf = leaves.get(rid)
        where: dict[str, Any] = {kind: rid}
        if leaf is None:
            problems.append(
                LogProblem(
                    "leaf_removed",
                    f"{kind} {rid} is not in the transparency log: its leaf was removed (or "
                    "the record was written around the log)",
                    where,
                )
            )
            continue
        where["leaf"] = leaf.index
        own_leaf = merkle.leaf_hash(merkle.leaf_data(kind, rid, rhash))
        if leaf.record_hash != rhash:
            problems.append(
                LogProblem(
                    "record_rewritten",
                    f"{kind} {rid}: its record hash is {rhash}, but the transparency log "
                    f"(leaf {leaf.index}) holds {leaf.record_hash}: the record was rewritten "
                    "after it was logged",
                    {**where, "expected": leaf.record_hash, "actual": rhash},
                )
            )
            continue
        if leaf.leaf_hash != own_leaf.hex():
            problems.append(
                LogProblem(
                    "log_rewritten",
                    f"transparency log: leaf {leaf.index} ({kind} {rid}) does not hash to its "
                    "stored leaf hash",
                    where,
                )
            )
            continue
        if usable is not None and leaf.index < int(usable.get("tree_size", 0)):
            checkpoint, source = usable, "the published checkpoint"
        else:
            row = Checkpoint.objects.filter(tree_size__gt=leaf.index).first()
            if row is None:
                continue  # logged after the last checkpoint: the log's own check is all
            checkpoint, source = checkpoint_dict(row), f"signed checkpoint {row.tree_size}"
            if not checkpoint_signature_ok(checkpoint, base64.b64encode(public_key_raw()).decode()):
                problems.append(
                    LogProblem(
                        "checkpoint_invalid",
                        f"{source}: its signature does not verify with this archive's key",
                        {"tree_size": row.tree_size},
                    )
                )
                continue
        size = int(checkpoint["tree_size"])
        if source == "the published checkpoint" and leaf.index < len(published_leaves):
            entry = list(published_leaves[leaf.index])
            if entry != [kind, rid, rhash]:
                problems.append(
                    LogProblem(
                        "record_rewritten",
                        f"{kind} {rid}: leaf {leaf.index} of {source} is {entry[0]} "
                        f"{entry[1]} with record hash {entry[2]}; the database now holds "
                        f"{rhash}: the record and its leaf were rewritten",
                        {**where, "expected": entry[2], "actual": rhash},
                    )
                )
                continue
        try:
            path = [bytes.fromhex(h) for h in inclusion_proof(leaf.index, size)]
        except LogDamaged:
            path = []
        if not merkle.verify_inclusion(
            leaf.index, size, own_leaf, path, bytes.fromhex(checkpoint["root"])
        ):
            problems.append(
                LogProblem(
                    "log_rewritten",
                    f"{kind} {rid} (leaf {leaf.index}) is not included in {source} (size "
                    f"{size}, root {checkpoint['root']}): the log was rewritten",
                    {**where, "tree_size": size},
                )
            )
    return problems


def _published_check(
    published: dict[str, Any], leaves: list[tuple[Any, ...]], hashes: list[bytes]
) -> list[LogProblem]:
    problems: list[LogProblem] = []
    size = int(published.get("tree_size", -1))
    ours = base64.b64encode(public_key_raw()).decode()
    if not checkpoint_signature_ok(published, ours):
        return [
            LogProblem(
                "checkpoint_invalid",
                "the published checkpoint's signature does not verify with this archive's key",
                {},
            )
        ]
    if size > len(hashes):
        problems.append(
            LogProblem(
                "leaf_removed",
                f"the published checkpoint covers {size} records, the log now holds only "
                f"{len(hashes)}: records were removed",
                {"tree_size": size},
            )
        )
    elif merkle.tree_root(hashes[:size]).hex() != published["root"]:
        problems.append(
            LogProblem(
                "log_rewritten",
                f"the first {size} records of the log no longer hash to the published "
                f"checkpoint's root {published['root']}: the log was rewritten",
                {"tree_size": size},
            )
        )
    for index, entry in enumerate(published.get("leaves") or []):
        kind, rid, rhash = entry
        if index >= len(leaves):
            problems.append(
                LogProblem(
                    "leaf_removed",
                    f"{kind} {rid} (leaf {index} of the published checkpoint) is no longer in "
                    "the log",
                    {kind if kind != "audit" else "audit_run": rid, "leaf": index},
                )
            )
            continue
        _, now_kind, now_rid, now_hash, _ = leaves[index]
        if (now_kind, now_rid) != (kind, rid):
            problems.append(
                LogProblem(
                    "leaf_removed",
                    f"leaf {index} of the published checkpoint was {kind} {rid}; the log now "
                    f"holds {now_kind} {now_rid} there: a leaf was removed",
                    {kind if kind != "audit" else "audit_run": rid, "leaf": index},
                )
            )
        elif now_hash != rhash:
            problems.append(
                LogProblem(
                    "record_rewritten",
                    f"{kind} {rid}: the published checkpoint holds record hash {rhash} (leaf "
                    f"{index}), the database now {now_hash}: the record was rewritten and its "
                    "hash recomputed",
                    {kind: rid, "leaf": index, "expected": rhash, "actual": now_hash},
                )
            )
    return problems


# --- the lineage core's own record kinds -----------------------------------------------------


def audit_run_hash(run: AuditRun) -> str:
    record = {
        "type": "audit_run",
        "started_at": canonical_time(run.started_at),
        "ended_at": canonical_time(run.ended_at),
        "scope": run.scope,
        "artifact": run.artifact_id,
        "user": run.user_id,
        "ok": run.ok,
        "checked": run.checked,
        "problems": run.problems,
    }
    return hashlib.sha256(canonical_json(record)).hexdigest()


def _step_hashes(ids: list[int]) -> dict[int, str]:
    return dict(Step.objects.filter(pk__in=ids).values_list("pk", "record_hash"))


def _audit_hashes(ids: list[int]) -> dict[int, str]:
    return {run.pk: audit_run_hash(run) for run in AuditRun.objects.filter(pk__in=ids)}


register_record_kind("step", _step_hashes)
register_record_kind("audit", _audit_hashes)
