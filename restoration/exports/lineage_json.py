"""A self-contained JSON export of an artifact's lineage that an outside auditor can check with
nothing but ``hashlib`` and ``json`` (docs/lineage.md has the script).

Each step carries its canonical record exactly as it was hashed, so
``sha256(canonical_json(step["record"])) == step["record_hash"]``; each artifact names the
record_hash of the step that generated it, which is how the auditor follows the chain.

With a ``checkpoint`` (issue 11), the export also carries that signed checkpoint of the
transparency log and, for each step in the log, its inclusion proof (``log_proof``): the
stand-alone checker (``scripts/check_lineage.py``) then proves, with the archive's public key
and no database, that every record is the one the archive logged. A step whose evidence the
reader may not see (``withhold`` says so) keeps its record hash and proof, its record is
``{"withheld": true}``: the inclusion still verifies and nothing hidden is named.
"""

from __future__ import annotations

from collections.abc import Callable
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
    *,
    graph: LineageGraph | None = None,
    artifact_id: int | None = None,
    checkpoint: Any = None,
    withhold: Callable[[Any], bool] | None = None,
) -> dict[str, Any]:
    """The ancestor lineage of an artifact (``graph``, or fetched for ``artifact_id``) as plain
    JSON data (see the module docstring).

    Raises ``Artifact.DoesNotExist`` for an unknown id."""
    graph = ancestor_graph(graph, artifact_id)
    step_hash = {step_id: step.record_hash for step_id, step in graph.steps.items()}
    data: dict[str, Any] = {  # the JSON document, as returned
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
                "record": (
                    {"withheld": True}
                    if withhold is not None and withhold(step)
                    else graph.record(step.pk).as_canonical_dict()
                ),
            }
            for step in graph.steps.values()
        ],
    }
    if checkpoint is not None:
        from restoration import ledger
        from restoration.models import LogLeaf

        data["checkpoint"] = ledger.checkpoint_dict(checkpoint)
        leaves = {
            leaf.record_id: leaf
            for leaf in LogLeaf.objects.filter(
                kind="step", record_id__in=list(graph.steps), index__lt=checkpoint.tree_size
            )
        }
        for entry in data["steps"]:
            leaf = leaves.get(entry["id"])
            if leaf is not None:
                entry["log_proof"] = {
                    "leaf_index": leaf.index,
                    "tree_size": checkpoint.tree_size,
                    "audit_path": ledger.inclusion_proof(leaf.index, checkpoint.tree_size),
                }
    return data
