"""Small presentation helpers for the page templates."""

from __future__ import annotations

import json
import re
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from restoration import selectors

register = template.Library()

_BCP47 = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


@register.filter
def bcp47(tag: str) -> str:
    """A language tag safe for a ``lang`` attribute (browsers pick CJK fonts from it)."""
    tag = (tag or "").strip()
    return tag if _BCP47.match(tag) else ""


@register.filter
def as_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


@register.simple_tag
def edtf(value: str) -> SafeString:
    """An EDTF date with a plain-language reading next to the stored form."""
    value = (value or "").strip()
    if not value:
        return format_html("{}", "—")
    reading = edtf_reading(value)
    if reading == value:
        return format_html('<span class="edtf">{}</span>', value)
    return format_html('{} <span class="muted mono" title="EDTF">({})</span>', reading, value)


def edtf_reading(value: str) -> str:
    if "/" in value:
        start, _sep, end = value.partition("/")
        return f"{edtf_reading(start) if start not in ('', '..') else '…'} – {edtf_reading(end) if end not in ('', '..') else '…'}"
    core = value.rstrip("~?%")
    if re.fullmatch(r"\d{3}X", core):
        core = _("the %(decade)ss") % {"decade": core[:3] + "0"}
    elif re.fullmatch(r"\d{2}XX", core):
        core = _("the %(century)ss") % {"century": core[:2] + "00"}
    if value.endswith("%"):
        return _("about %(date)s (uncertain)") % {"date": core}
    if value.endswith("~"):
        return _("about %(date)s") % {"date": core}
    if value.endswith("?"):
        return _("%(date)s (uncertain)") % {"date": core}
    return core


@register.filter
def short_sha(value: str, length: int = 12) -> str:
    return (value or "")[:length]


@register.filter
def summary_items(summary: Any) -> list[tuple[str, str]]:
    """A step's change summary (restoration/engine/change.py) as readable pairs; keys this
    page does not know are shown as they are, so a newer summary version still displays."""
    if not isinstance(summary, dict):
        return []
    items: list[tuple[str, str]] = []
    if summary.get("identical"):
        items.append((_("Identical to its input"), _("yes")))
    if summary.get("size_changed"):
        before, after = (
            summary.get("input_size") or ["?", "?"],
            summary.get("output_size") or ["?", "?"],
        )
        items.append((_("Size"), f"{before[0]}×{before[1]} → {after[0]}×{after[1]}"))
    if isinstance(summary.get("mad"), (int, float)):
        items.append(
            (
                _("Mean absolute difference"),
                f"{summary['mad']:.4f} ({summary['mad'] * 255:.1f}/255)",
            )
        )
    if isinstance(summary.get("psnr_db"), (int, float)):
        items.append(("PSNR", f"{summary['psnr_db']:.1f} dB"))
    if isinstance(summary.get("ssim"), (int, float)):
        items.append(("SSIM", f"{summary['ssim']:.3f}"))
    if isinstance(summary.get("changed_fraction"), (int, float)):
        threshold = summary.get("threshold")
        label = _("Pixels changed")
        if isinstance(threshold, (int, float)):
            label = _("Pixels changed by more than %(t)s/255") % {"t": round(threshold * 255)}
        items.append((label, f"{summary['changed_fraction'] * 100:.1f} %"))
    regions = summary.get("regions")
    if isinstance(regions, list):
        items.append((_("Changed regions"), _("%(n)d region(s)") % {"n": len(regions)}))
    known = {
        "version",
        "identical",
        "size_changed",
        "input_size",
        "output_size",
        "analysis_size",
        "mad",
        "psnr_db",
        "ssim",
        "threshold",
        "changed_fraction",
        "regions",
    }
    for key, value in summary.items():
        if key not in known:
            text = (
                json.dumps(value, ensure_ascii=False, sort_keys=True)
                if isinstance(value, (dict, list))
                else str(value)
            )
            items.append((str(key).replace("_", " "), text[:300]))
    return items


@register.filter
def region_boxes(summary: Any) -> list[dict[str, float]]:
    """Changed regions as percentages of the output, to outline them over the heat map."""
    if not isinstance(summary, dict):
        return []
    size = summary.get("output_size") or []
    regions = summary.get("regions") or []
    if len(size) != 2 or not all(isinstance(v, (int, float)) and v > 0 for v in size):
        return []
    width, height = float(size[0]), float(size[1])
    boxes = []
    for region in regions[:20]:
        try:
            boxes.append(
                {
                    "left": 100 * region["x"] / width,
                    "top": 100 * region["y"] / height,
                    "width": 100 * region["width"] / width,
                    "height": 100 * region["height"] / height,
                }
            )
        except (KeyError, TypeError):
            continue
    return boxes


def _lang_parts(tag: str) -> tuple[str, str]:
    """(language, script) of a BCP 47 tag, lower case; Chinese without a script is Hans
    unless its region writes Hant (TW, HK, MO)."""
    parts = [p.lower() for p in (tag or "").replace("_", "-").split("-") if p]
    if not parts:
        return "", ""
    language = parts[0]
    script = next((p for p in parts[1:] if len(p) == 4 and p.isalpha()), "")
    if language == "zh" and not script:
        region = next((p for p in parts[1:] if len(p) == 2), "")
        script = "hant" if region in ("tw", "hk", "mo") else "hans"
    return language, script


def figure_display_name(figure: Any, language: str | None = None) -> str:
    """The figure's name in the interface language, chosen by its names' language tags:
    the same language and script (``zh-Hans`` for 简体中文), a preferred name before others,
    else the catalogue's display name."""
    from django.utils.translation import get_language

    want_lang, want_script = _lang_parts(language or get_language() or "en")
    best: tuple[int, int, int] | None = None
    chosen = ""
    for index, name in enumerate(figure.names.all()):
        lang, script = _lang_parts(name.language)
        if lang != want_lang or (want_script and script and script != want_script):
            continue
        if lang == "en" or want_lang != "zh" or script == want_script:
            rank = (0 if name.kind == "preferred" else 1, 0 if script == want_script else 1, index)
            if best is None or rank < best:
                best, chosen = rank, name.name
    return chosen or figure.name


@register.filter
def display_name(figure: Any) -> str:
    return figure_display_name(figure)


@register.filter
def op_label(name: str) -> str:
    """An operation's name in the interface language (the op value stays in the record)."""
    from web.operations import operation_label

    return operation_label(str(name))


@register.filter
def face_crop_style(box: Any, artifact: Any) -> str:
    """CSS that shows the ``box`` (x0, y0, x1, y1 in the artifact's pixels) of the artifact's
    preview, scaled to fill its element: the preview is the whole image at any scale, so the
    crop is in percentages."""
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
        width, height = float(artifact.width), float(artifact.height)
    except (TypeError, ValueError, AttributeError):
        return ""
    pad = 0.15 * max(x1 - x0, y1 - y0)  # a little of the head and the background
    x0, y0 = max(0.0, x0 - pad), max(0.0, y0 - pad)
    x1, y1 = min(width, x1 + pad), min(height, y1 + pad)
    bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    pos_x = 0.0 if bw >= width else 100 * x0 / (width - bw)
    pos_y = 0.0 if bh >= height else 100 * y0 / (height - bh)
    return (
        f"background-size:{100 * width / bw:.2f}% {100 * height / bh:.2f}%;"
        f"background-position:{pos_x:.2f}% {pos_y:.2f}%;aspect-ratio:{bw / bh:.3f}"
    )


@register.filter
def identity_faces(identity: Any) -> list[dict[str, Any]]:
    return selectors.identity_faces(identity)


@register.filter
def identity_error(identity: Any) -> str:
    return str(selectors.identity_method(identity).get("error") or "")
