"""``{% record_revisions record user as revs %}``: a catalogue record's revisions as ``user``
may see them (links to hidden records left out, by ``access.visibility``), newest first, for
``templates/web/_revisions.html``."""

from __future__ import annotations

from typing import Any

from django import template

from access.visibility import redact_state
from archive.revisions import RECORD_TYPES, record_type, revision_dict, revisions_of

register = template.Library()


@register.simple_tag
def record_revisions(record: Any, user: Any) -> list[dict[str, Any]]:
    if record is None or type(record) not in RECORD_TYPES.values():
        return []
    out = []
    for revision in reversed(revisions_of(record_type(record), record.pk)):
        data = revision_dict(revision)
        data["at_time"] = revision.at
        before = redact_state(data["before"], user) or {}
        after = redact_state(data["after"], user) or {}
        data["changes"] = [
            {"field": k, "before": before.get(k), "after": after.get(k)}
            for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k) and data["action"] == "update"
        ]
        out.append(data)
    return out


@register.simple_tag
def step_evidence(step: Any, user: Any, lineage: Any = None) -> dict[str, Any]:
    """The evidence a step relied on, as it was then (its hashed snapshots), each with
    ``revised`` when the catalogue record changed since; withheld where ``user`` may not see
    it (``access.visibility.evidence_for``). With ``lineage`` (the page's steps), every step of
    the page is computed at once, in a fixed number of queries, and kept on the lineage."""
    if step is None or getattr(step, "record_version", 1) < 2:
        return {"citations": [], "references": [], "legacy": True}
    steps = [step]
    if lineage is not None:
        cache = getattr(lineage, "_evidence_shown", None)
        if cache is None:
            page_steps = [getattr(s, "step", s) for s in getattr(lineage, "steps", [])]
            cache = _shown_for([s for s in page_steps if s.record_version >= 2], user)
            lineage._evidence_shown = cache
        if step.pk in cache:
            return cache[step.pk]
    return _shown_for(steps, user)[step.pk]


def _shown_for(steps: list[Any], user: Any) -> dict[int, dict[str, Any]]:
    """Status and visibility of the evidence of many steps: all snapshots in one list each,
    asked once, then handed back per step."""
    from access.visibility import evidence_for
    from archive.evidence import evidence_status
    from restoration.evidence import localized

    combined: dict[str, list[dict[str, Any]]] = {"citations": [], "references": []}
    owners: dict[str, list[int]] = {"citations": [], "references": []}
    evidence = localized({s.pk: s.evidence or {} for s in steps})  # imported: rows here
    for s in steps:
        for key in combined:
            items = evidence[s.pk].get(key, [])
            combined[key] += items
            owners[key] += [s.pk] * len(items)
    shown = evidence_for(evidence_status(combined), user)
    out: dict[int, dict[str, Any]] = {
        s.pk: {"citations": [], "references": [], "legacy": False} for s in steps
    }
    for key in combined:
        for owner, item in zip(owners[key], shown[key], strict=True):
            out[owner][key].append(item)
    return out
