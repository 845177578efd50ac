from __future__ import annotations

import datetime as dt
import json

from restoration.hashing import OutputRef, StepRecord, canonical_json, json_safe

T0 = dt.datetime(2026, 11, 23, 19, 40, tzinfo=dt.UTC)


def record(**overrides) -> StepRecord:
    fields = dict(
        kind="classical",
        operation="denoise",
        operation_version="1.0",
        parameters={"strength": 12.0},
        model_sha256="",
        model_architecture="",
        software={"python": "3.11"},
        device="cpu",
        seed=0,
        actor="restorer",
        on_behalf_of="",
        started_at=T0,
        ended_at=T0,
        rationale="",
        citation_ids=[3, 1],
        reference_ids=[],
        inputs=[],
        outputs=[OutputRef(role="image", sha256="ab" * 32)],
        run_record={},
        change_summary={},
    )
    fields.update(overrides)
    return StepRecord(**fields)


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": "鲁迅"}) == '{"a":"鲁迅","b":1}'.encode()


def test_citation_order_and_duplicates_do_not_change_the_hash():
    assert record(citation_ids=[1, 3]).record_hash() == record(citation_ids=[3, 1, 3]).record_hash()


def test_any_field_changes_the_hash():
    base = record().record_hash()
    assert record(parameters={"strength": 12.5}).record_hash() != base
    assert record(actor="someone else").record_hash() != base
    assert record(ended_at=T0 + dt.timedelta(microseconds=1)).record_hash() != base


def test_json_safe_values_read_back_exactly_as_hashed():
    value = json_safe({"big": 1e17, "nan": float("nan"), "t": (1, 2), "x": 0.1})
    assert value == {"big": 10**17, "nan": None, "t": [1, 2], "x": 0.1}
    # What a database hands back (a JSON text parsed again) hashes the same.
    assert canonical_json(json.loads(canonical_json(value))) == canonical_json(value)
