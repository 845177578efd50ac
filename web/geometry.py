"""Where a pixel of an ancestor lands in a descendant, from the recorded geometry of the steps
between them (crops, rotations, resampling), so that a comparison shows both images aligned
instead of stretched. Affine maps in continuous pixel coordinates, ``[[a, b, c], [d, e, f]]``
taking (x, y) of the input to (a x + b y + c, d x + e y + f) of the output."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from restoration.selectors import LineageGraph

Matrix = tuple[tuple[float, float, float], tuple[float, float, float]]
IDENTITY: Matrix = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


def compose(second: Matrix, first: Matrix) -> Matrix:
    """``second`` after ``first``."""
    (a, b, c), (d, e, f) = second
    (g, h, i), (j, k, m) = first
    return (
        (a * g + b * j, a * h + b * k, a * i + b * m + c),
        (d * g + e * j, d * h + e * k, d * i + e * m + f),
    )


def step_matrix(
    operation: str, params: dict[str, Any], size_in: tuple[int, int], size_out: tuple[int, int]
) -> Matrix:
    """One step's map from its input's pixels to its output's."""
    (w, h), (ow, oh) = size_in, size_out
    if operation == "crop" and isinstance(params.get("rect"), dict):
        rect = params["rect"]
        return ((1.0, 0.0, -float(rect["x"])), (0.0, 1.0, -float(rect["y"])))
    if operation == "rotate" and "angle" in params:
        # As cv2.getRotationMatrix2D (counter-clockwise), about the centre, with the canvas
        # growth of `expand` read from the recorded output size.
        theta = math.radians(float(params["angle"]))
        cos, sin = math.cos(theta), math.sin(theta)
        cx, cy = w / 2.0, h / 2.0
        return (
            (cos, sin, ow / 2.0 - cos * cx - sin * cy),
            (-sin, cos, oh / 2.0 + sin * cx - cos * cy),
        )
    if (w, h) != (ow, oh) and w and h:  # upscale, sr, any resampling: scale the whole frame
        return ((ow / w, 0.0, 0.0), (0.0, oh / h, 0.0))
    return IDENTITY


def alignment(graph: LineageGraph, before_id: int, after_id: int) -> Matrix | None:
    """The map from ``before`` to ``after`` along the image inputs of the steps between them,
    or None when ``before`` is not on that chain (e.g. a reference or a mask)."""
    matrix = IDENTITY
    current = graph.artifacts.get(after_id)
    seen: set[int] = set()
    while current is not None and current.pk != before_id:
        if current.pk in seen or current.generated_by_id is None:
            return None
        seen.add(current.pk)
        step = graph.steps.get(current.generated_by_id)
        parts = graph.parts.get(current.generated_by_id)
        if step is None or parts is None:
            return None
        source_link = next((i for i in parts.inputs if i.role == "image"), None)
        source = graph.artifacts.get(source_link.artifact_id) if source_link else None
        if source is None:
            return None
        m = step_matrix(
            step.operation,
            step.parameters or {},
            (source.width, source.height),
            (current.width, current.height),
        )
        matrix = compose(matrix, m)
        current = source
    return matrix if current is not None else None


def css_matrix(matrix: Matrix) -> str:
    """CSS ``matrix(a, b, c, d, e, f)`` of an affine map."""
    (a, c, e), (b, d, f) = matrix
    return "matrix(" + ", ".join(f"{v:.6g}" for v in (a, b, c, d, e, f)) + ")"
