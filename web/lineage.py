"""The lineage of an artifact in the shape the pages use.

Graph walking is ``restoration.selectors``' job (a constant number of queries, done once per
request by the view); this adapts its ``LineageGraph`` for templates: which artifacts are
masters, which input a step changed, and the visible citations and references of each step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from access.visibility import User, visible_citations, visible_references
from archive.models import Citation, ReferenceImage
from restoration.models import Artifact, Step
from restoration.selectors import LineageGraph, StepParts


@dataclass
class PageStep:
    """A step with what its panel in the lineage graph shows."""

    step: Step
    parts: StepParts
    citations: list[Citation]
    references: list[ReferenceImage]
    image_input: Artifact | None
    image_output: Artifact | None

    @property
    def pk(self) -> int:
        return self.step.pk


@dataclass
class PageLineage:
    graph: LineageGraph
    steps: list[PageStep]

    @property
    def artifact(self) -> Artifact:
        return self.graph.root

    @property
    def artifacts(self) -> dict[int, Artifact]:
        return self.graph.artifacts

    @cached_property
    def master_ids(self) -> set[int]:
        return {a.pk for a in self.graph.masters}

    @property
    def masters(self) -> list[Artifact]:
        return self.graph.masters

    def is_master(self, artifact: Artifact) -> bool:
        return artifact.pk in self.master_ids

    @property
    def ancestors(self) -> list[Artifact]:
        """Every ancestor except the artifact itself, masters first, then oldest first."""
        others = [a for a in self.artifacts.values() if a.pk != self.artifact.pk]
        return sorted(others, key=lambda a: (not self.is_master(a), a.pk))

    @property
    def transform_steps(self) -> list[PageStep]:
        """The steps that changed pixels (an ingest step only recorded a master)."""
        return [s for s in self.steps if s.step.kind != Step.Kind.INGEST]

    @property
    def ai_steps(self) -> list[PageStep]:
        return [s for s in self.steps if s.step.kind == Step.Kind.AI]


def page_lineage(graph: LineageGraph, user: User) -> PageLineage:
    """The page's view of an ancestor graph the caller fetched for a user who may see it
    (``access.visibility.visible_lineage``).

    Taint keeps hidden citations and references out of a visible artifact's ancestry; they are
    filtered again here, through the same ``access`` rules, so that the page never shows one
    even if the data were inconsistent."""
    citation_ids = {c.pk for parts in graph.parts.values() for c in parts.citations}
    reference_ids = {r.pk for parts in graph.parts.values() for r in parts.references}
    shown_citations = set(
        visible_citations(Citation.objects.filter(pk__in=citation_ids), user).values_list(
            "pk", flat=True
        )
    )
    shown_references = set(
        visible_references(ReferenceImage.objects.filter(pk__in=reference_ids), user).values_list(
            "pk", flat=True
        )
    )
    steps = []
    for step in graph.steps.values():
        parts = graph.parts.get(step.pk, StepParts())
        image_in = next((i for i in parts.inputs if i.role == "image"), None)
        image_out = next((o for o in parts.outputs if o.role == "image"), None)
        steps.append(
            PageStep(
                step=step,
                parts=parts,
                citations=[c for c in parts.citations if c.pk in shown_citations],
                references=[r for r in parts.references if r.pk in shown_references],
                image_input=graph.artifacts.get(image_in.artifact_id) if image_in else None,
                image_output=graph.artifacts.get(image_out.artifact_id) if image_out else None,
            )
        )
    return PageLineage(graph=graph, steps=steps)
