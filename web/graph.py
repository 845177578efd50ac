"""Layout of a lineage DAG as an inline SVG: one row per generation, masters at the top.

No graph library: lineages are small, and a layered layout (each node one row below its
deepest parent) reads well for chains, merges (reference images, masks) and fan-outs.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from web.lineage import PageLineage

STEP_W, STEP_H = 168, 46
ART_W, ART_H = 120, 40
COL_W, ROW_H = 190, 78
PAD = 12


@dataclass(frozen=True)
class Node:
    kind: str  # "step" or "artifact"
    id: int
    x: int
    y: int
    w: int
    h: int
    label: str
    sublabel: str
    css: str

    @property
    def cx(self) -> int:
        return self.x + self.w // 2

    @property
    def bottom(self) -> int:
        return self.y + self.h


@dataclass(frozen=True)
class EdgePath:
    d: str
    role: str


@dataclass(frozen=True)
class GraphLayout:
    nodes: list[Node]
    edges: list[EdgePath]
    width: int
    height: int


def layout(lineage: PageLineage) -> GraphLayout:
    graph = lineage.graph
    depth: dict[tuple[str, int], int] = {}
    # Steps are in id order, a topological order: inputs always existed before a step.
    for step in graph.steps.values():
        parts = graph.parts.get(step.pk)
        inputs = parts.inputs if parts else []
        d = 1 + max((depth.get(("artifact", i.artifact_id), 0) for i in inputs), default=-1)
        depth[("step", step.pk)] = d
        for out in parts.outputs if parts else []:
            depth[("artifact", out.artifact_id)] = max(
                depth.get(("artifact", out.artifact_id), 0), d + 1
            )
    for artifact_id in graph.artifacts:
        depth.setdefault(("artifact", artifact_id), 0)

    rows: dict[int, list[tuple[str, int]]] = {}
    for key, d in sorted(depth.items(), key=lambda kv: (kv[1], kv[0][1], kv[0][0])):
        rows.setdefault(d, []).append(key)
    widest = max((len(r) for r in rows.values()), default=1)
    width = PAD * 2 + widest * COL_W
    nodes: dict[tuple[str, int], Node] = {}
    for d, keys in rows.items():
        offset = (width - len(keys) * COL_W) // 2
        for col, (kind, pk) in enumerate(keys):
            nodes[(kind, pk)] = _node(
                lineage, kind, pk, offset + col * COL_W + (COL_W - _w(kind)) // 2, PAD + d * ROW_H
            )
    edges = []
    for step_id, parts in graph.parts.items():
        if ("step", step_id) not in nodes:
            continue
        step_node = nodes[("step", step_id)]
        for i in parts.inputs:
            src = nodes.get(("artifact", i.artifact_id))
            if src is not None:
                edges.append(EdgePath(_curve(src, step_node), i.role))
        for o in parts.outputs:
            dst = nodes.get(("artifact", o.artifact_id))
            if dst is not None:
                edges.append(EdgePath(_curve(step_node, dst), o.role))
    height = PAD * 2 + (max(rows, default=0) + 1) * ROW_H
    return GraphLayout(nodes=list(nodes.values()), edges=edges, width=width, height=height)


def _w(kind: str) -> int:
    return STEP_W if kind == "step" else ART_W


def _node(lineage: PageLineage, kind: str, pk: int, x: int, y: int) -> Node:
    graph = lineage.graph
    if kind == "step":
        step = graph.steps[pk]
        model = f" · {step.weights.name}" if step.weights_id and step.weights else ""
        if step.kind == "ingest":  # the scan's own file name says more than "ingest" twice
            model = f" · {step.parameters.get('original_filename', '')}".rstrip(" ·")
        return Node(
            kind,
            pk,
            x,
            y,
            STEP_W,
            STEP_H,
            label=step.operation[:22],
            sublabel=f"{step.get_kind_display()}{model}"[:28],
            css=f"step-node kind-{step.kind}",
        )
    artifact = graph.artifacts[pk]
    current = " current" if pk == graph.root_id else ""
    sub = _("master") if lineage.is_master(artifact) else artifact.role
    return Node(
        kind,
        pk,
        x,
        y,
        ART_W,
        ART_H,
        label=f"#{pk} {artifact.sha256[:8]}",
        sublabel=f"{sub} {artifact.width}×{artifact.height}",
        css=f"art-node{current}",
    )


def _curve(src: Node, dst: Node) -> str:
    x1, y1, x2, y2 = src.cx, src.bottom, dst.cx, dst.y
    mid = (y1 + y2) / 2
    return f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}"
