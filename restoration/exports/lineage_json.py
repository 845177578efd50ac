"""A self-contained JSON export of an artifact's lineage that an outside auditor can check with
nothing but ``hashlib`` and ``json`` (docs/lineage.md has the script).

Each step carries its canonical record exactly as it was hashed, so
``sha256(canonical_json(step["record"])) == step["record_hash"]``; each artifact names the
record_hash of the step that generated it, which is how the auditor follows the chain.
"""

from __future__ import annotations

from typing import Any

from restoration.exports import ancestor_graph
from restoration.hashing import RECORD_VERSION
from restoration.selectors import LineageGraph

EXPORT_FORMAT = "photo-archive-lineage"
EXPORT_VERSION = 1
HASH_RULE = (
    "record_hash = sha256(json.dumps(record, sort_keys=True, separators=(',', ':'), "
    "ensure_ascii=False, allow_nan=False).encode('utf-8')).hexdigest()"
)


def lineage_export(
    *, graph: LineageGraph | None = None, artifact_id: int | None = None
) -> dict[str, Any]:
    """The ancestor lineage of an artifact (``graph``, or fetched for ``artifact_id``) as plain
    JSON data (see the module docstring).

    Raises ``Artifact.DoesNotExist`` for an unknown id."""
    graph = ancestor_graph(graph, artifact_id)
    step_hash = {step_id: step.record_hash for step_id, step in graph.steps.items()}
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "record_version": RECORD_VERSION,
        "hash_rule": HASH_RULE,
        "artifact": {"id": graph.root.pk, "sha256": graph.root.sha256},
        "artifacts": [
            {
                "id": a.pk,
                "sha256": a.sha256,
                "size": a.size,
                "media_type": a.media_type,
                "width": a.width,
                "height": a.height,
                "generated_by": step_hash.get(a.generated_by_id) if a.generated_by_id else None,
            }
            for a in graph.artifacts.values()
        ],
        "steps": [
            {
                "id": step.pk,
                "operation": step.operation,
                "record_hash": step.record_hash,
                "record": graph.record(step.pk).as_canonical_dict(),
            }
            for step in graph.steps.values()
        ],
    }
