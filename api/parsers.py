"""The API's body parsers: DRF's, with Django's memory limit and a JSON nesting limit.

DRF reads JSON and form bodies from the raw stream, so ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (which
Django applies to ``request.body`` and multipart fields) would not bound them: these parsers
read at most that much and raise Django's own ``RequestDataTooBig`` (413 in ``api.errors``).

Python's JSON decoder recurses once per nesting level, so a body of 100,000 ``[`` raises
``RecursionError`` (a 500) and a body just under the interpreter's limit parses into data that
every later recursive walk (serializers, canonical JSON for record hashes) may choke on. No
request the API takes nests deeper than a dozen levels; ``ARCHIVE_JSON_MAX_DEPTH`` bounds it.
"""

from __future__ import annotations

import io
import traceback
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, parsers

DEFAULT_MAX_DEPTH = 32


def max_depth() -> int:
    return int(settings.ARCHIVE_JSON_MAX_DEPTH)


class JSONParser(parsers.JSONParser):
    """``rest_framework.parsers.JSONParser`` with the size limit and the nesting limit
    (400 ``nesting_too_deep``)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        limit = max_depth()
        body = io.BytesIO(read_limited(stream))
        try:
            data = super().parse(body, media_type, parser_context)
        except RecursionError:
            raise too_deep(limit) from None
        if depth_exceeds(data, limit):
            raise too_deep(limit)
        return data


class FormParser(parsers.FormParser):
    """``rest_framework.parsers.FormParser`` with the size limit (``QueryDict`` itself
    enforces ``DATA_UPLOAD_MAX_NUMBER_FIELDS``)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        return super().parse(io.BytesIO(read_limited(stream)), media_type, parser_context)


def read_limited(stream: IO[bytes]) -> bytes:
    """The whole body, or ``RequestDataTooBig`` as soon as it passes the limit."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return stream.read()
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return body


def depth_exceeds(data: Any, limit: int) -> bool:
    """Whether ``data`` nests lists and objects more than ``limit`` deep (iterative: the check
    itself must not recurse)."""
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def is_json_recursion(exc: RecursionError) -> bool:
    """Whether the recursion limit was hit while decoding JSON (in a view that still uses DRF's
    plain parser): then the body was nested too deep, the code is not at fault."""
    return any(
        frame.f_globals.get("__name__", "") in {"json", "json.decoder", "json.scanner"}
        for frame, _line in traceback.walk_tb(exc.__traceback__)
    )


def too_deep(limit: int) -> exceptions.ParseError:
    return exceptions.ParseError(
        f"JSON parse error - nesting too deep (more than {limit} levels)", code="nesting_too_deep"
    )
