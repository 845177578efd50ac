"""Parameter specifications and strict validation.

Validation is idempotent: `validate(validate(p)) == validate(p)`, so a caller may store the
normalised params and an operation may validate again before running without changing them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from .types import ParamError

ParamType = Literal["int", "float", "bool", "str", "model", "artifact", "hints", "rect"]

_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_HINTS = 10_000
MAX_STROKE_POINTS = 10_000
MAX_HINT_RADIUS = 256


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: ParamType
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        schema = _TYPE_SCHEMAS[self.type]()
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = self.default
        if self.description:
            schema["description"] = self.description
        return schema

    def normalise(self, value: Any) -> Any:
        checker = _CHECKERS[self.type]
        value = checker(self, value)
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ParamError(self.name, f"must be one of {allowed}, got {value!r}")
        return value


def validate_params(specs: Sequence[ParamSpec], params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return params with defaults filled in; raise ParamError naming the first bad field."""
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise ParamError("params", f"must be an object, got {type(params).__name__}")
    known = {spec.name for spec in specs}
    unknown = sorted(str(k) for k in params if k not in known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise ParamError(unknown[0], f"unknown parameter (allowed: {allowed})")
    out: dict[str, Any] = {}
    for spec in specs:
        if spec.name in params and params[spec.name] is not None:
            out[spec.name] = spec.normalise(params[spec.name])
        elif spec.required:
            raise ParamError(spec.name, "is required")
        elif spec.default is not None:
            out[spec.name] = spec.normalise(spec.default)
    return out


def params_json_schema(specs: Sequence[ParamSpec]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {spec.name: spec.json_schema() for spec in specs},
        "required": [spec.name for spec in specs if spec.required],
        "additionalProperties": False,
    }


def _range_check(spec: ParamSpec, value: float) -> None:
    lo, hi = spec.minimum, spec.maximum
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ParamError(spec.name, f"must be in [{_fmt(lo)}, {_fmt(hi)}], got {value!r}")


def _fmt(bound: float | None) -> str:
    if bound is None:
        return "-inf"
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _check_int(spec: ParamSpec, value: Any) -> int:
    # bool is an int subclass in Python: refuse it so `true` is not silently 1.
    if isinstance(value, bool):
        raise ParamError(spec.name, f"must be an integer, got a boolean {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ParamError(spec.name, f"must be an integer, got {type(value).__name__} {value!r}")
    _range_check(spec, value)
    return value


def _check_float(spec: ParamSpec, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamError(spec.name, f"must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ParamError(spec.name, f"must be finite, got {value!r}")
    _range_check(spec, value)
    return value


def _check_bool(spec: ParamSpec, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParamError(spec.name, f"must be true or false, got {value!r}")
    return value


def _check_str(spec: ParamSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise ParamError(spec.name, f"must be a string, got {type(value).__name__}")
    return value


def _check_id(spec: ParamSpec, value: Any) -> int | str:
    """Model and artifact references: a registered name or a numeric / string id."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ParamError(spec.name, f"must be a name or id (string or integer), got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise ParamError(spec.name, "must not be empty")
    if isinstance(value, int) and value < 0:
        raise ParamError(spec.name, f"must be a non-negative id, got {value}")
    return value


def _check_rect(spec: ParamSpec, value: Any) -> dict[str, int]:
    if isinstance(value, list | tuple) and len(value) == 4:
        value = dict(zip(("x", "y", "width", "height"), value, strict=True))
    if not isinstance(value, Mapping):
        raise ParamError(spec.name, "must be {x, y, width, height} or [x, y, width, height]")
    extra = set(value) - {"x", "y", "width", "height"}
    if extra:
        raise ParamError(
            spec.name, f"unknown key {sorted(extra)[0]!r} (allowed: x, y, width, height)"
        )
    rect: dict[str, int] = {}
    for key, low in (("x", 0), ("y", 0), ("width", 1), ("height", 1)):
        item = value.get(key)
        if isinstance(item, bool) or not isinstance(item, int):
            raise ParamError(f"{spec.name}.{key}", f"must be an integer >= {low}, got {item!r}")
        if item < low:
            raise ParamError(f"{spec.name}.{key}", f"must be >= {low}, got {item}")
        rect[key] = item
    return rect


def _check_point(name: str, value: Any) -> list[int]:
    if isinstance(value, Mapping):
        value = [value.get("x"), value.get("y")]
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ParamError(name, f"must be [x, y] or {{x, y}}, got {value!r}")
    point = []
    for axis, item in zip("xy", value, strict=True):
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise ParamError(f"{name}.{axis}", f"must be a non-negative integer, got {item!r}")
        point.append(item)
    return point


def _check_color(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _COLOR_RE.match(value):
        raise ParamError(name, f"must be a colour '#rrggbb', got {value!r}")
    return value.lower()


def _check_hint(name: str, value: Any) -> dict[str, Any]:
    """One hint: a point {x, y, color, radius?, citation?} or a stroke {points, color, ...}."""
    if isinstance(value, list | tuple):
        # A stroke given as a bare list of points: every point carries the colour.
        if not value or not isinstance(value[0], Mapping) or "color" not in value[0]:
            raise ParamError(name, "a stroke given as a list needs points with a 'color'")
        first = value[0]
        value = {
            "points": list(value),
            "color": first["color"],
            **{k: first[k] for k in ("radius", "citation") if k in first},
        }
    if not isinstance(value, Mapping):
        raise ParamError(name, f"must be an object, got {type(value).__name__}")
    is_stroke = "points" in value
    allowed = (
        {"points", "color", "radius", "citation"}
        if is_stroke
        else {"x", "y", "color", "radius", "citation"}
    )
    extra = set(value) - allowed
    if extra:
        raise ParamError(
            name, f"unknown key {sorted(extra)[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )
    hint: dict[str, Any] = {}
    if is_stroke:
        points = value["points"]
        if not isinstance(points, list | tuple) or not points or len(points) > MAX_STROKE_POINTS:
            raise ParamError(f"{name}.points", f"must be a list of 1..{MAX_STROKE_POINTS} points")
        hint["points"] = [_check_point(f"{name}.points[{i}]", p) for i, p in enumerate(points)]
    else:
        x, y = _check_point(name, [value.get("x"), value.get("y")])
        hint["x"], hint["y"] = x, y
    hint["color"] = _check_color(f"{name}.color", value.get("color"))
    radius = value.get("radius", 2)
    if (
        isinstance(radius, bool)
        or not isinstance(radius, int)
        or not 0 <= radius <= MAX_HINT_RADIUS
    ):
        raise ParamError(
            f"{name}.radius", f"must be an integer in [0, {MAX_HINT_RADIUS}], got {radius!r}"
        )
    hint["radius"] = radius
    citation = value.get("citation")
    if citation is not None:
        if isinstance(citation, bool) or not isinstance(citation, int | str):
            raise ParamError(f"{name}.citation", f"must be a citation id, got {citation!r}")
        hint["citation"] = citation
    return hint


def _check_hints(spec: ParamSpec, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        raise ParamError(spec.name, f"must be a list of hints, got {type(value).__name__}")
    if not value:
        raise ParamError(spec.name, "needs at least one hint")
    if len(value) > MAX_HINTS:
        raise ParamError(spec.name, f"at most {MAX_HINTS} hints, got {len(value)}")
    return [_check_hint(f"{spec.name}[{i}]", item) for i, item in enumerate(value)]


_CHECKERS = {
    "int": _check_int,
    "float": _check_float,
    "bool": _check_bool,
    "str": _check_str,
    "model": _check_id,
    "artifact": _check_id,
    "hints": _check_hints,
    "rect": _check_rect,
}

_POINT_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "integer", "minimum": 0},
    "minItems": 2,
    "maxItems": 2,
}
_HINT_COMMON: dict[str, Any] = {
    "color": {"type": "string", "pattern": _COLOR_RE.pattern},
    "radius": {"type": "integer", "minimum": 0, "maximum": MAX_HINT_RADIUS, "default": 2},
    "citation": {"type": ["integer", "string"]},
}


def _hints_schema() -> dict[str, Any]:
    point = {
        "type": "object",
        "properties": {
            "x": {"type": "integer", "minimum": 0},
            "y": {"type": "integer", "minimum": 0},
            **_HINT_COMMON,
        },
        "required": ["x", "y", "color"],
        "additionalProperties": False,
    }
    stroke = {
        "type": "object",
        "properties": {
            "points": {"type": "array", "items": _POINT_SCHEMA, "minItems": 1},
            **_HINT_COMMON,
        },
        "required": ["points", "color"],
        "additionalProperties": False,
    }
    return {
        "type": "array",
        "minItems": 1,
        "items": {"oneOf": [point, stroke, {"type": "array", "items": point}]},
    }


_TYPE_SCHEMAS: dict[str, Any] = {
    "int": lambda: {"type": "integer"},
    "float": lambda: {"type": "number"},
    "bool": lambda: {"type": "boolean"},
    "str": lambda: {"type": "string"},
    "model": lambda: {"type": ["string", "integer"], "format": "model"},
    "artifact": lambda: {"type": ["string", "integer"], "format": "artifact"},
    "hints": _hints_schema,
    "rect": lambda: {
        "type": "object",
        "properties": {k: {"type": "integer", "minimum": 0} for k in ("x", "y", "width", "height")},
        "required": ["x", "y", "width", "height"],
        "additionalProperties": False,
    },
}


MAX_FPS = Fraction(1000)


# --- frame rates and structured values (films and the portrait animation) ------------------


def parse_fps(value: Any, field_name: str = "fps") -> Fraction:
    """A frame rate from a number (24, 23.976) or a string ("24", "24000/1001", "25.0")."""
    if isinstance(value, bool):
        raise ParamError(field_name, f"must be a number or 'num/den', got {value!r}")
    try:
        if isinstance(value, int):
            fps = Fraction(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError
            fps = Fraction(str(value)).limit_denominator(1001)
        elif isinstance(value, str) and value.strip():
            fps = Fraction(value.strip())
        elif isinstance(value, Fraction):
            fps = value
        else:
            raise ValueError
    except (ValueError, ZeroDivisionError):
        raise ParamError(
            field_name, f"must be a number or 'num/den' (e.g. 24 or '24000/1001'), got {value!r}"
        ) from None
    if not 0 < fps <= MAX_FPS:
        raise ParamError(field_name, f"must be in (0, {MAX_FPS}], got {fps}")
    if fps.denominator > 100_000:
        raise ParamError(field_name, f"denominator too large in {fps}")
    return fps


def fps_str(fps: Fraction) -> str:
    return str(fps.numerator) if fps.denominator == 1 else f"{fps.numerator}/{fps.denominator}"


@dataclass(frozen=True)
class FpsParam(ParamSpec):
    """A frame rate: a number or "num/den"; normalised to the string of the reduced fraction
    ("24", "24000/1001"), which is JSON-safe, exact and idempotent."""

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": ["number", "string"],
            "pattern": r"^\s*\d+(\.\d+)?(\s*/\s*\d+)?\s*$",
            "description": self.description,
        }
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def normalise(self, value: Any) -> Any:
        return fps_str(parse_fps(value, self.name))


@dataclass(frozen=True)
class JsonParam(ParamSpec):
    """A structured parameter checked by ``checker`` (which raises ParamError and returns the
    normalised value) and described by ``schema``."""

    checker: Callable[[str, Any], Any] | None = None
    schema: Mapping[str, Any] | None = None

    def json_schema(self) -> dict[str, Any]:
        schema = dict(self.schema or {})
        if self.description:
            schema["description"] = self.description
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def normalise(self, value: Any) -> Any:
        assert self.checker is not None
        return self.checker(self.name, value)
