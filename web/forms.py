"""Forms of the pages. The workbench submits the API's ``steps`` as JSON (``pipeline_json``);
without JavaScript its form is one ``{op, params}`` row with a JSON parameters box, parsed here
into the same ``steps``; ``job_create`` validates either."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_ROWS = 20


@dataclass
class PipelineRow:
    op: str = ""
    params_text: str = "{}"
    errors: list[str] = field(default_factory=list)


@dataclass
class PipelineSubmission:
    rows: list[PipelineRow]
    steps: list[dict[str, Any]]
    seed: int | str
    on_behalf_of: str
    errors: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors and not any(r.errors for r in self.rows)


def parse_pipeline(data: QueryDict) -> PipelineSubmission:
    try:
        count = max(1, min(int(data.get("step_count", "1")), MAX_ROWS))
    except ValueError:
        count = 1
    rows: list[PipelineRow] = []
    steps: list[dict[str, Any]] = []
    for i in range(count):
        op = data.get(f"step-{i}-op", "").strip()
        text = data.get(f"step-{i}-params", "").strip() or "{}"
        row = PipelineRow(op=op, params_text=text)
        rows.append(row)
        if not op:
            row.errors.append(_("Choose an operation."))
            continue
        try:
            params = json.loads(text)
        except json.JSONDecodeError as exc:
            row.errors.append(_("Parameters are not valid JSON: %(error)s") % {"error": exc.msg})
            continue
        except RecursionError:  # e.g. 100,000 nested brackets: a form error, not a 500
            row.errors.append(_("Parameters are nested too deeply."))
            continue
        if not isinstance(params, dict):
            row.errors.append(_('Parameters must be a JSON object, e.g. {"strength": 10}.'))
            continue
        steps.append({"op": op, "params": params})
    seed_text = data.get("seed", "0").strip() or "0"
    submission = PipelineSubmission(
        rows=rows,
        steps=steps,
        seed=int(seed_text) if seed_text.isdigit() else seed_text,
        on_behalf_of=data.get("on_behalf_of", "").strip()[:300],
    )
    if not isinstance(submission.seed, int):
        submission.errors.append(_("The seed must be a whole number."))
    return submission


class ManualStepForm(forms.Form):
    # A plain FileField: the manual-step service validates the image itself, with precise
    # messages (16-bit TIFFs, pixel budget) that Django's ImageField would pre-empt.
    image = forms.FileField(
        label=gettext_lazy("Retouched image"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
        help_text=gettext_lazy(
            "The file exported from your editing tool (PNG or TIFF keeps it lossless)."
        ),
    )
    rationale = forms.CharField(
        label=gettext_lazy("Rationale"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("What was retouched, and why."),
        max_length=10_000,
    )
    tool = forms.CharField(
        label=gettext_lazy("Tool"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("e.g. GIMP 2.10, Photoshop 25"),
    )
    on_behalf_of = forms.CharField(
        label=gettext_lazy("On behalf of"), required=False, max_length=300
    )
    citations = forms.MultipleChoiceField(
        label=gettext_lazy("Citations relied on"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    references = forms.MultipleChoiceField(
        label=gettext_lazy("Reference images consulted"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(
        self,
        *args: Any,
        citations: list[tuple[int, str]],
        references: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, choices in (("citations", citations), ("references", references)):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)  # declared above as MultipleChoiceField
            field.choices = [(str(pk), label) for pk, label in choices]
