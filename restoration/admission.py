"""Admission control: a pipeline whose predicted peak memory is over the engine workers' budget
is refused before it is queued, with the step and the figure named.

Each operation predicts its own peak (``Operation.footprint``, calibrated by bench/memory.py)
from the shape its input will have at that point of the pipeline and its parameters; the shape
is carried from step to step (an upscale makes every later step bigger). The worker's memory
limit (``ARCHIVE_WORKER_MEMORY_MB``, enforced with RLIMIT_AS) still stops anything the
prediction misses; admission only makes the common case a clear 400 instead of a failed job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from restoration.models import Artifact, ModelWeights
from restoration.registry import model_ref


def input_shape(artifact: Artifact) -> tuple[int, ...]:
    """The engine array an artifact decodes to; RGB unless known to be grey (the worst case)."""
    return (int(artifact.height or 0), int(artifact.width or 0), 3)


def pipeline_memory_errors(
    *, source: Artifact, pipeline: Sequence[Mapping[str, Any]]
) -> dict[str, list[str]]:
    """``{"steps[i]": [reason]}`` for the first step predicted over budget; {} when it fits."""
    from restoration.engine import EngineError, get_operation

    budget = int(settings.ARCHIVE_WORKER_MEMORY_MB) * 2**20
    shape = input_shape(source)
    for index, spec in enumerate(pipeline):
        try:
            op = get_operation(spec["op"])
        except EngineError:
            return {}  # validation already reported it
        models = {
            name: model_ref(weights)
            for name, pk in ((spec.get("resolved") or {}).get("models") or {}).items()
            if (weights := ModelWeights.objects.filter(pk=pk).first()) is not None
        }
        footprint = op.footprint(shape, spec.get("params") or {}, models)
        if footprint.peak_bytes > budget:
            return {
                f"steps[{index}]": [
                    f"{op.name} on a {shape[1]}x{shape[0]} image would need about "
                    f"{_mib(footprint.peak_bytes)} MiB, over the engine workers' memory budget "
                    f"of {_mib(budget)} MiB (ARCHIVE_WORKER_MEMORY_MB); use a smaller input, "
                    "a crop, or smaller parameters"
                ]
            }
        shape = footprint.output_shape
    return {}


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f}"
