"""The operations as the workbench shows them: built from each operation's own parameter
schema (``restoration.engine``), with translated names, descriptions and help, one widget per
parameter, and the choices a model or artifact parameter offers here.

The engine keeps English text (it must not import Django); the msgids below are its strings,
so ``gettext`` translates them. An operation added later without entries here still gets a
form (English text, a widget from its parameter type)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from restoration.engine import list_operations
from restoration.models import ModelWeights
from restoration.registry import engine_env, model_usability

OPERATION_LABELS = {
    "denoise": gettext_noop("Denoise"),
    "descratch": gettext_noop("Remove scratches and dust"),
    "clahe": gettext_noop("Local contrast (CLAHE)"),
    "sharpen": gettext_noop("Sharpen"),
    "upscale": gettext_noop("Upscale (Lanczos)"),
    "sr": gettext_noop("AI super-resolution"),
    "face_restore": gettext_noop("AI face restoration"),
    "colorize": gettext_noop("AI colourisation"),
    "colorize_hints": gettext_noop("Colourise from cited colour hints"),
    "color_transfer": gettext_noop("Colour transfer from a reference"),
    "grayscale": gettext_noop("Greyscale"),
    "crop": gettext_noop("Crop"),
    "rotate": gettext_noop("Rotate"),
    "animate": gettext_noop("Animate the portrait (synthetic: smile, blinks, eye contact)"),
}

# Help for parameters whose engine description is empty or terse (keyed "op.param").
PARAM_HELP = {
    "clahe.clip_limit": gettext_noop(
        "how far contrast may be raised in each tile; higher is stronger"
    ),
    "color_transfer.strength": gettext_noop(
        "0 keeps the scan's colours, 1 takes the reference's fully"
    ),
    "color_transfer.keep_lightness": gettext_noop("transfer colour only, keep the scan's tones"),
    "denoise.patch_size": gettext_noop("side of the patches compared, in pixels"),
    "denoise.search_size": gettext_noop(
        "side of the window searched for similar patches, in pixels"
    ),
    "descratch.inpaint_radius": gettext_noop(
        "how far around each damaged pixel the fill looks, in pixels"
    ),
    "face_restore.max_faces": gettext_noop("at most this many faces are restored"),
    "rotate.angle": gettext_noop("degrees counter-clockwise; drag on the image to set it"),
    "rotate.expand": gettext_noop("enlarge the canvas so that no corner is cut off"),
    "rotate.fill": gettext_noop("what fills the new corners"),
    "sharpen.amount": gettext_noop("strength of the sharpening; 0 changes nothing"),
    "upscale.scale": gettext_noop("factor by which width and height grow"),
    "crop.rect": gettext_noop("drag a rectangle on the image, or type it in input pixels"),
    "colorize_hints.hints": gettext_noop(
        "click on the image to place a colour point, drag to draw a stroke; each may cite a source"
    ),
    "descratch.mask": gettext_noop(
        "a damage mask painted by hand (white = damaged); paint one on the image"
    ),
}

PARAM_LABELS = {
    "strength": gettext_noop("strength"),
    "color_strength": gettext_noop("colour strength"),
    "patch_size": gettext_noop("patch size"),
    "search_size": gettext_noop("search window"),
    "sensitivity": gettext_noop("sensitivity"),
    "polarity": gettext_noop("polarity"),
    "max_width": gettext_noop("widest damage"),
    "min_length": gettext_noop("shortest scratch"),
    "dust": gettext_noop("dust"),
    "dust_max_area": gettext_noop("largest speck"),
    "dilate": gettext_noop("grow mask"),
    "inpaint_radius": gettext_noop("fill radius"),
    "mask": gettext_noop("mask"),
    "detect": gettext_noop("detect automatically"),
    "clip_limit": gettext_noop("clip limit"),
    "grid": gettext_noop("grid"),
    "amount": gettext_noop("amount"),
    "radius": gettext_noop("radius"),
    "threshold": gettext_noop("threshold"),
    "scale": gettext_noop("scale"),
    "model": gettext_noop("model"),
    "tile": gettext_noop("tile size"),
    "fidelity": gettext_noop("fidelity"),
    "min_face": gettext_noop("smallest face"),
    "max_faces": gettext_noop("most faces"),
    "min_score": gettext_noop("lowest confidence"),
    "saturation": gettext_noop("saturation"),
    "hints": gettext_noop("colour hints"),
    "solve_pixels": gettext_noop("solver size"),
    "reference": gettext_noop("reference image"),
    "keep_lightness": gettext_noop("keep lightness"),
    "method": gettext_noop("method"),
    "rect": gettext_noop("rectangle"),
    "angle": gettext_noop("angle"),
    "expand": gettext_noop("expand canvas"),
    "fill": gettext_noop("fill"),
    # animate (issue 12)
    "smile": gettext_noop("smile"),
    "blinks": gettext_noop("blinks"),
    "blink_times": gettext_noop("blink times"),
    "blink_eyes": gettext_noop("blink eyes"),
    "blink_duration": gettext_noop("blink duration"),
    "gaze": gettext_noop("gaze"),
    "nod": gettext_noop("nod"),
    "tilt": gettext_noop("tilt"),
    "duration": gettext_noop("duration"),
    "fps": gettext_noop("frame rate"),
    "loop": gettext_noop("loop"),
    "face": gettext_noop("face"),
    "label": gettext_noop("burnt-in label"),
    "label_text": gettext_noop("label text"),
    "driver": gettext_noop("driver"),
}

CHOICE_LABELS = {
    "bright": gettext_noop("bright"),
    "dark": gettext_noop("dark"),
    "both": gettext_noop("both"),
    "white": gettext_noop("white"),
    "black": gettext_noop("black"),
    "edge": gettext_noop("edge"),
    "lightness": gettext_noop("lightness"),
    "viewer": gettext_noop("at the viewer"),
    "keep": gettext_noop("keep"),
    "left": gettext_noop("left"),
    "right": gettext_noop("right"),
    "up": gettext_noop("up"),
    "down": gettext_noop("down"),
    "landmarks": gettext_noop("landmarks"),
}

# The purpose a model parameter's weights must have (as restoration.jobs checks).
MODEL_PURPOSE = {"sr": "sr", "face_restore": "face_restore", "colorize": "colorize"}


def _tr(text: str) -> str:
    return _(text) if text else ""


def widget_for(spec: Any) -> str:
    """The widget of a parameter: slider, number, checkbox, choice, model, artifact, hints,
    rect or text."""
    if spec.type in ("model", "artifact", "hints", "rect"):
        return str(spec.type)
    if spec.type == "bool":
        return "checkbox"
    if spec.choices is not None:
        return "choice"
    if spec.type in ("int", "float"):
        if spec.minimum is not None and spec.maximum is not None:
            return "slider"
        return "number"
    return "text"


def models_by_purpose() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for weights in ModelWeights.objects.order_by("name"):
        if model_usability(weights) is not None:
            continue
        out.setdefault(weights.purpose, []).append(
            {"value": weights.name, "label": f"{weights.name} ({weights.architecture})"}
        )
    return out


def operation_specs(
    *, artifact_choices: dict[str, list[dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    """Every operation with its parameters as the page's form builder takes them (JSON)."""
    env = engine_env()
    models = models_by_purpose()
    artifact_choices = artifact_choices or {}
    specs = []
    for op in list_operations():
        availability = op.availability(env)
        params = []
        for spec in op.params:
            key = f"{op.name}.{spec.name}"
            help_text = _tr(PARAM_HELP.get(key, "")) or _tr(spec.description)
            entry: dict[str, Any] = {
                "name": spec.name,
                "label": _tr(PARAM_LABELS.get(spec.name, spec.name.replace("_", " "))),
                "type": spec.type,
                "widget": widget_for(spec),
                "default": spec.default,
                "required": spec.required,
                "min": spec.minimum,
                "max": spec.maximum,
                "step": 1 if spec.type == "int" else _step(spec),
                "help": help_text,
            }
            if key == "animate.label_text":  # issue 12: the label in the interface language
                entry["default"] = _tr(spec.default)
            if spec.choices is not None:
                entry["choices"] = [
                    {"value": c, "label": _tr(CHOICE_LABELS.get(str(c), str(c)))}
                    for c in spec.choices
                ]
            if spec.type == "model":
                entry["choices"] = models.get(MODEL_PURPOSE.get(op.name, op.name), [])
            if spec.type == "artifact":
                entry["choices"] = artifact_choices.get(spec.name, [])
            params.append(entry)
        specs.append(
            {
                "name": op.name,
                "label": _tr(OPERATION_LABELS.get(op.name, op.name)),
                "kind": op.kind,
                "description": _tr(op.description),
                "available": availability.ok,
                "reason": availability.reason or "",
                "params": params,
            }
        )
    return specs


def _step(spec: Any) -> float:
    if spec.minimum is None or spec.maximum is None:
        return 0.1
    span = float(spec.maximum) - float(spec.minimum)
    return 0.01 if span <= 2 else 0.1 if span <= 100 else 1.0


def operation_label(name: str) -> str:
    return _tr(OPERATION_LABELS.get(name, name))
