"""EDTF dates (Library of Congress Extended Date/Time Format) with sortable bounds.

One place owns the rule: a stored EDTF string is validated here and its bounds derived here.

Bounds are Python dates, so they span years 1 to 9999:
- an open side (``../1985``, ``1920/..``, ``[..1760-12-03]``) has no bound there (``None``);
- a date whose bound falls outside years 1 to 9999 (``0000``, ``-0050``, ``Y170000002``,
  ``9999-12-31/`` whose unknown end the edtf package puts ten years later) is refused with
  "date out of range" rather than clamped: a clamped bound would sort the record beside dates
  it has nothing to do with, and no photograph is that old.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from edtf import parse_edtf
from edtf.parser.edtf_exceptions import EDTFParseException

# The catalogue's EDTF fields hold at most 100 characters; the parser is recursive, so a longer
# string (from a manifest or an ingest form, before the field's own check) is refused unparsed.
MAX_EDTF_LENGTH = 100
_EXAMPLES = "examples: 1927-04-28, 1925~, 192X, 1920/1930, 1898?, ../1985, 1920/.."


@dataclass(frozen=True)
class EdtfBounds:
    lower: dt.date | None
    upper: dt.date | None


def edtf_bounds(value: str) -> EdtfBounds:
    """Validate an EDTF string and return its earliest and latest possible days.

    Empty means unknown. Raises ``ValidationError`` (code ``invalid_edtf`` or
    ``date_out_of_range``) for anything else that cannot be stored: never another exception.
    """
    value = (value or "").strip()
    if not value:
        return EdtfBounds(None, None)
    if len(value) > MAX_EDTF_LENGTH:
        raise _invalid(value[:20] + "…", f"longer than {MAX_EDTF_LENGTH} characters")
    try:
        parsed = parse_edtf(value)
    except EDTFParseException as exc:
        raise _invalid(value, str(exc)) from exc
    lower = _bound(value, parsed.lower_strict)
    upper = _bound(value, parsed.upper_strict)
    if lower and upper and lower > upper:
        raise ValidationError(f"{value!r}: the interval ends before it starts", code="invalid_edtf")
    return EdtfBounds(lower, upper)


def _bound(value: str, getter: Callable[[], object]) -> dt.date | None:
    try:
        struct = getter()
    except (ValueError, TypeError, ArithmeticError) as exc:
        # The edtf package does date arithmetic (unknown ends, seasons) that can leave the
        # calendar, or compare an open end with a date inside a set.
        raise _out_of_range(value) if _overflowed(exc) else _invalid(value, str(exc)) from exc
    if struct is None or (isinstance(struct, float) and math.isinf(struct)):
        return None  # an open side: no bound
    if not isinstance(struct, time.struct_time):
        raise _invalid(value, f"unexpected bound {struct!r}")
    if not dt.MINYEAR <= struct.tm_year <= dt.MAXYEAR:
        raise _out_of_range(value)
    try:
        return dt.date(struct.tm_year, struct.tm_mon, struct.tm_mday)
    except ValueError as exc:
        raise _invalid(value, str(exc)) from exc


def _overflowed(exc: BaseException) -> bool:
    return isinstance(exc, OverflowError) or "out of range" in str(exc)


def _invalid(value: str, reason: str) -> ValidationError:
    return ValidationError(
        f"{value!r} is not a valid EDTF date ({_EXAMPLES}): {reason}", code="invalid_edtf"
    )


def _out_of_range(value: str) -> ValidationError:
    return ValidationError(
        f"{value!r}: date out of range (dates from year {dt.MINYEAR} to {dt.MAXYEAR} are "
        "supported)",
        code="date_out_of_range",
    )


def validate_edtf(value: str) -> None:
    edtf_bounds(value)
