"""EDTF dates (Library of Congress Extended Date/Time Format) with sortable bounds.

One place owns the rule: a stored EDTF string is validated here and its bounds derived here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from edtf import parse_edtf, struct_time_to_date
from edtf.parser.edtf_exceptions import EDTFParseException


@dataclass(frozen=True)
class EdtfBounds:
    lower: dt.date | None
    upper: dt.date | None


def edtf_bounds(value: str) -> EdtfBounds:
    """Validate an EDTF string and return its earliest and latest possible days.

    Empty means unknown. Open-ended intervals (``1920/..``) get no bound on the open side.
    """
    value = (value or "").strip()
    if not value:
        return EdtfBounds(None, None)
    try:
        parsed = parse_edtf(value)
        lower = _safe_date(parsed.lower_strict)
        upper = _safe_date(parsed.upper_strict)
    except (EDTFParseException, ValueError, OverflowError) as exc:
        raise ValidationError(
            f"{value!r} is not a valid EDTF date (examples: 1927-04-28, 1925~, 192X, "
            f"1920/1930, 1898?): {exc}",
            code="invalid_edtf",
        ) from exc
    if lower and upper and lower > upper:
        raise ValidationError(f"{value!r}: the interval ends before it starts", code="invalid_edtf")
    return EdtfBounds(lower, upper)


def _safe_date(getter) -> dt.date | None:  # type: ignore[no-untyped-def]
    struct = getter()
    if struct is None:
        return None
    date = struct_time_to_date(struct)
    # The edtf package uses far-off sentinels for open ends; those are not real bounds.
    if date.year <= 1 or date.year >= 9999:
        return None
    return date


def validate_edtf(value: str) -> None:
    edtf_bounds(value)
