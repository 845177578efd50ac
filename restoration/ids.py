"""Record ids from untrusted input (JSON bodies, query strings, form fields).

Primary keys are ``BigAutoField``s: PostgreSQL's ``bigint`` and SQLite's ``INTEGER`` hold at most
2**63 - 1, and a larger Python int reaching the database raises (``OverflowError`` on SQLite,
``DataError`` on PostgreSQL), i.e. a 500. Every id read from a request goes through here first.
"""

from __future__ import annotations

from typing import Any

MAX_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(value: Any) -> int | None:
    """A positive id within the database's range, or None when ``value`` is not one.

    Accepts an int or a string of ASCII digits (JSON ids sometimes arrive quoted); refuses
    booleans, floats, zero, negatives and anything beyond ``MAX_ID``."""
    number = _as_int(value)
    return number if number is not None and 0 < number <= MAX_ID else None


def id_problem(value: Any, what: str) -> str:
    """Why ``value`` is not a usable id, for an error message naming the kind of record."""
    number = _as_int(value)
    if number is not None and number > MAX_ID:
        return f"{what} id out of range (at most {MAX_ID}), got {_show(value)}"
    return f"must be a {what} id (a positive integer), got {_show(value)}"


def _show(value: Any) -> str:
    text = f"{value!r}" if not isinstance(value, int) or isinstance(value, bool) else _digits(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _digits(value: int) -> str:
    # repr() of an int over 4300 digits raises ValueError (CVE-2020-10735's limit).
    return str(value) if value.bit_length() <= 4000 else "a number too large to show"


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    # isdecimal() alone accepts other scripts' digits, which int() would then read.
    if not (text.isascii() and text.isdecimal()):
        return None
    significant = text.lstrip("0")
    if len(significant) > _MAX_DIGITS:
        # Out of range whatever it is; converting it could hit Python's 4300-digit limit.
        return MAX_ID + 1
    return int(significant or "0")
