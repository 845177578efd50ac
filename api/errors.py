"""One JSON error shape for every 4xx the API gives, whatever raised it.

    {"status": 400, "code": "invalid", "message": "title: This field is required.",
     "fields": {"title": ["This field is required."]}}

``fields`` maps a field (nested like ``steps[0].params.strength``) to its messages and is
empty when the error is not about a field. Errors that services raise on purpose (a rejected
image, an engine parameter error, a Django validation error, a protected row) become the right
4xx here, so bad input never surfaces as a 500. So do Django's own request limits (too many
fields or files: 400, body too big: 413), JSON nested too deep (400) and a full disk (507).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from api.parsers import is_json_recursion, max_depth, too_deep
from restoration.engine import BadInputError, ParamError, UnavailableError
from restoration.imagefile import ImageRejected
from restoration.storage import StorageFull, is_disk_full


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the archive."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the upload limit."
    default_code = "too_large"


class RequestRefused(exceptions.APIException):
    """A request the server will not read (Django's limits on fields and files)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request is malformed or over a limit."
    default_code = "bad_request"


class DecodesBusy(exceptions.APIException):
    """Other large images hold this server's decode budget (``imagefile.DECODES``): nothing is
    wrong with the request, it is worth sending again shortly."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "the server is busy decoding other large images; try again shortly"
    default_code = "busy"


class InsufficientStorage(exceptions.APIException):
    status_code = status.HTTP_507_INSUFFICIENT_STORAGE
    default_detail = "storage is full; nothing was stored, try again later"
    default_code = "storage_full"


class Unprocessable(exceptions.APIException):
    """Well-formed but cannot be done here, e.g. an operation whose weights are not registered."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be carried out on this installation."
    default_code = "unavailable"


# restoration.manual.ManualStepRejected codes -> the request field they are about.
_MANUAL_FIELDS = {
    "no_rationale": "rationale",
    "unknown_artifact": "input",
    "unknown_citation": "citations",
    "unknown_reference_image": "references",
    "unchanged": "image",
}

# Image refusals that are about metadata, not the file itself, carry no "image" field.
_METADATA_CODES = {"unknown_field", "invalid_field"}


def translate(exc: Exception) -> Exception:
    """Map the domain errors the services raise on purpose to DRF exceptions."""
    limit = _request_limit(exc)
    if limit is not None:
        return limit
    if is_disk_full(exc):
        message = str(exc) if isinstance(exc, StorageFull) else None
        return InsufficientStorage(message)
    if isinstance(exc, RecursionError) and is_json_recursion(exc):
        return too_deep(max_depth())
    if isinstance(exc, Http404):
        return exceptions.NotFound("not found (or not visible to you)")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, ImageRejected):
        if exc.code == "too_large":
            return PayloadTooLarge(str(exc), code="too_large")
        if exc.code == "busy":
            return DecodesBusy(str(exc))
        if exc.code in _METADATA_CODES:
            return exceptions.ValidationError({"non_field_errors": [str(exc)]}, code=exc.code)
        return exceptions.ValidationError({"image": [str(exc)]}, code=exc.code)
    if type(exc).__name__ == "ManualStepRejected":  # restoration.manual, imported lazily
        code = getattr(exc, "code", "invalid")
        field = _MANUAL_FIELDS.get(code, "non_field_errors")
        return exceptions.ValidationError({field: [str(exc)]}, code=code)
    if type(exc).__name__ == "JobNotCancellable":
        return Conflict(str(exc), code="not_cancellable")
    if isinstance(exc, ParamError):
        return exceptions.ValidationError({exc.field: [exc.message]}, code="invalid_param")
    if isinstance(exc, UnavailableError):
        return Unprocessable(str(exc))
    if isinstance(exc, BadInputError):
        return exceptions.ValidationError({"non_field_errors": [str(exc)]}, code="bad_input")
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    if isinstance(exc, ProtectedError | RestrictedError):
        return Conflict(
            "this record is still referenced (by a restoration step, a citation or another "
            "record) and cannot be deleted"
        )
    return exc


def _request_limit(exc: Exception) -> exceptions.APIException | None:
    """Django's own request limits (``DATA_UPLOAD_MAX_*``), raised while the body is parsed."""
    if isinstance(exc, TooManyFieldsSent):
        return RequestRefused(
            f"too many fields in the request (at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS})",
            code="too_many_fields",
        )
    if isinstance(exc, TooManyFilesSent):
        return RequestRefused(
            f"too many files in the request (at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES})",
            code="too_many_files",
        )
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(
            "the request body is over the limit of "
            f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes for data other than uploaded files",
            code="too_large",
        )
    return None


def error_response(exc: BaseException) -> JsonResponse | None:
    """The JSON error shape for an exception raised outside a DRF view (Django's error
    handlers call this for ``/api/`` paths); None when it is not an error this module maps."""
    if not isinstance(exc, Exception):
        return None
    translated = translate(exc)
    if not isinstance(translated, exceptions.APIException):
        return None
    code = translated.status_code
    detail = translated.detail
    data = detail if isinstance(translated, exceptions.ValidationError) else {"detail": detail}
    return JsonResponse(error_body(translated, code, data), status=code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let it be a 500 with a traceback in the log
    response.data = error_body(exc, response.status_code, response.data)
    return response


def error_body(exc: Exception, status_code: int, data: Any) -> dict[str, Any]:
    fields: dict[str, list[str]] = {}
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(data, dict):
            _flatten(data, "", fields)
        else:
            fields["non_field_errors"] = [str(m) for m in _as_list(data)]
        message = "; ".join(
            msg if name == "non_field_errors" else f"{name}: {msg}"
            for name, msgs in fields.items()
            for msg in msgs[:1]
        )
        code = _first_code(exc) or "invalid"
    else:
        detail = data.get("detail", "") if isinstance(data, dict) else data
        message = str(detail)
        code = str(
            getattr(getattr(exc, "detail", None), "code", None)
            or getattr(exc, "default_code", "error")
        )
    return {
        "status": status_code,
        "code": str(code),
        "message": message or "error",
        "fields": fields,
    }


def _flatten(data: Any, prefix: str, out: dict[str, list[str]]) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            # ListField reports errors by index in a dict: {0: [...]}
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit() and prefix):
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            _flatten(value, name, out)
    elif isinstance(data, list) and any(isinstance(v, dict | list) for v in data):
        for index, value in enumerate(data):
            if value:
                _flatten(value, f"{prefix}[{index}]", out)
    else:
        out.setdefault(prefix or "non_field_errors", []).extend(str(m) for m in _as_list(data))


def _as_list(data: Any) -> list[Any]:
    return data if isinstance(data, list) else [data]


def _first_code(exc: exceptions.ValidationError) -> str | None:
    codes = exc.get_codes()
    while isinstance(codes, dict | list):
        if not codes:
            return None
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return codes
