"""Revisions of catalogue records: every write through ``archive.services`` records who, when,
the record before and after, in the same transaction, and appends the revision's hash to the
transparency log (``restoration.ledger``). Reads (``revisions_of``, ``latest_numbers``) serve
the API, the pages, the evidence snapshots and ``verify``.

A record's state (``record_state``) is its concrete fields by name (foreign keys as ids, dates
as ISO strings), a citation's target as ``{"type", "id"}``, a photo's figures and a figure's
names; ``created_at``/``updated_at`` and derived columns are left out."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import Max, Model

from archive.models import (
    Citation,
    FaceIdentification,
    Figure,
    Film,
    Note,
    Photo,
    ReferenceImage,
    Revision,
    Source,
)
from restoration.hashing import canonical_json, canonical_time
from restoration.ledger import log_append, register_record_kind
from restoration.users import User, recorded_user

RECORD_TYPES: dict[str, type[Model]] = {
    "figure": Figure,
    "photo": Photo,
    "source": Source,
    "citation": Citation,
    "reference": ReferenceImage,
    "note": Note,
    "film": Film,
    "face": FaceIdentification,
}
_TYPE_OF = {model: name for name, model in RECORD_TYPES.items()}
_SKIPPED = {"created_at", "updated_at", "target_type", "target_id"}


def record_type(instance: Model) -> str:
    return _TYPE_OF[type(instance)]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return canonical_time(value) if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return value


def record_state(instance: Model) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        # Derived columns (date bounds, search keys) follow the fields they derive from; a
        # non-editable relation (a photo's master) is part of the record.
        if field.name in _SKIPPED or (not field.editable and not field.is_relation):
            continue
        state[field.name] = _plain(getattr(instance, field.attname))
    if isinstance(instance, Citation):
        target_type = instance.target_type  # None, with no query, when target_type_id is
        target_model = target_type.model_class() if target_type is not None else None
        state["target"] = (
            {"type": _TYPE_OF.get(target_model, str(target_model)), "id": instance.target_id}
            if target_model is not None
            else None
        )
    if isinstance(instance, Photo | Film) and instance.pk:
        state["figures"] = sorted(instance.figures.values_list("pk", flat=True))
    if isinstance(instance, Figure) and instance.pk:
        state["names"] = [
            {"name": n, "language": lang, "kind": k}
            for n, lang, k in instance.names.order_by("id").values_list("name", "language", "kind")
        ]
    return state


def revision_hash(revision: Revision) -> str:
    record = {
        "type": "revision",
        "record_type": revision.record_type,
        "record_id": revision.record_id,
        "number": revision.number,
        "action": revision.action,
        "at": canonical_time(revision.at),
        "actor": revision.actor,
        "before": revision.before,
        "after": revision.after,
    }
    return hashlib.sha256(canonical_json(record)).hexdigest()


def revision_record(
    *,
    instance: Model,
    action: str,
    before: dict[str, Any] | None,
    user: User = None,
    record_id: int | None = None,
) -> Revision:
    """Record one write of ``instance`` (call it in the write's transaction, after the write;
    for a delete, with ``record_id`` and after the row is gone)."""
    kind = record_type(instance)
    rid = record_id if record_id is not None else instance.pk
    after = None if action == Revision.Action.DELETE else record_state(instance)
    last = (
        Revision.objects.filter(record_type=kind, record_id=rid).aggregate(n=Max("number"))["n"]
        or 0
    )
    revision = Revision(
        record_type=kind,
        record_id=rid,
        number=last + 1,
        action=action,
        at=dt.datetime.now(dt.UTC),
        user=recorded_user(user),
        actor=user.get_username() if user is not None and user.is_authenticated else "",
        before=before,
        after=after,
    )
    revision.record_hash = revision_hash(revision)
    revision.save()
    log_append(kind="revision", record_id=revision.pk, record_hash=revision.record_hash)
    return revision


def revisions_of(kind: str, record_id: int) -> list[Revision]:
    return list(
        Revision.objects.filter(record_type=kind, record_id=record_id)
        .order_by("number")
        .select_related("user")
    )


def latest_numbers(kind: str, ids: Iterable[int]) -> dict[int, int]:
    """The latest revision number of each record (absent: none yet)."""
    rows = (
        Revision.objects.filter(record_type=kind, record_id__in=list(ids))
        .values("record_id")
        .annotate(n=Max("number"))
    )
    return {row["record_id"]: row["n"] for row in rows}


def revision_dict(revision: Revision) -> dict[str, Any]:
    return {
        "id": revision.pk,
        "record_type": revision.record_type,
        "record_id": revision.record_id,
        "number": revision.number,
        "action": revision.action,
        "at": revision.at.isoformat(),
        "actor": revision.actor,
        "before": revision.before,
        "after": revision.after,
        "changed": sorted(
            k
            for k in set(revision.before or {}) | set(revision.after or {})
            if (revision.before or {}).get(k) != (revision.after or {}).get(k)
        ),
        "record_hash": revision.record_hash,
    }


def _current_hashes(ids: list[int]) -> dict[int, str]:
    return {r.pk: revision_hash(r) for r in Revision.objects.filter(pk__in=ids)}


register_record_kind("revision", _current_hashes)


def catalogue_check() -> list[tuple[str, str, dict[str, Any]]]:
    """``verify --all``'s check of the catalogue against its logged revisions: each record's
    state must be what its last revision says (the revisions themselves are checked against
    the transparency log). A photo whose master differs is ``master_repointed``; any other
    difference, or a record gone without a delete revision, is ``catalogue_unrevised``.
    Records with no revision (catalogued before revisions existed) are skipped."""
    problems: list[tuple[str, str, dict[str, Any]]] = []
    latest: dict[tuple[str, int], Revision] = {}
    for revision in Revision.objects.order_by("record_type", "record_id", "number").iterator(
        chunk_size=2000
    ):
        latest[(revision.record_type, revision.record_id)] = revision
    by_type: dict[str, dict[int, Revision]] = {}
    for (kind, rid), revision in latest.items():
        by_type.setdefault(kind, {})[rid] = revision
    for kind, revisions in by_type.items():
        model = RECORD_TYPES.get(kind)
        if model is None:
            continue
        ids = list(revisions)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = {r.pk: r for r in model._default_manager.filter(pk__in=chunk)}
            for rid in chunk:
                revision = revisions[rid]
                row = rows.get(rid)
                where = {"record": f"{kind} {rid}", "revision": revision.number}
                if row is None:
                    if revision.action != Revision.Action.DELETE:
                        problems.append(
                            (
                                "catalogue_unrevised",
                                f"{kind} {rid} is gone, but no revision records its deletion",
                                where,
                            )
                        )
                    continue
                if revision.action == Revision.Action.DELETE:
                    continue
                state = record_state(row)
                after = revision.after or {}
                if kind in ("photo", "film") and state.get("master") != after.get("master"):
                    problems.append(
                        (
                            "master_repointed",
                            f"{kind} {rid}: its master is artifact {state.get('master')}, but its "
                            f"last logged revision ({revision.number}) names artifact "
                            f"{after.get('master')}: the master was re-pointed",
                            {
                                **where,
                                "expected": after.get("master"),
                                "actual": state.get("master"),
                            },
                        )
                    )
                    continue
                changed = sorted(k for k in set(state) | set(after) if state.get(k) != after.get(k))
                if changed:
                    problems.append(
                        (
                            "catalogue_unrevised",
                            f"{kind} {rid}: {', '.join(changed)} changed without a revision "
                            f"(last revision {revision.number})",
                            {**where, "fields": changed},
                        )
                    )
    return problems
