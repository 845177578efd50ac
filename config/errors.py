"""Error answers for what escapes the views: JSON under ``/api/`` (the shape of api/errors.py),
pages elsewhere, and a 507 for a full disk in either.

DRF views answer their own errors (api.errors.exception_handler); these cover the rest:
exceptions raised while Django itself reads a request (its DATA_UPLOAD_* limits), and page
views that meet a full disk.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from api.errors import error_response
from restoration.storage import StorageFull, is_disk_full
from web.views.common import storage_full_page

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def disk_full_response(request: HttpRequest, exc: Exception) -> HttpResponse:
    """507: JSON under /api/, the page elsewhere."""
    response = error_response(exc) if _is_api(request) else None
    if response is not None:
        return response
    return storage_full_page(request, str(exc) if isinstance(exc, StorageFull) else "")


class DiskFullMiddleware:
    """A page view that meets a full disk answers the 507 page, not a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return disk_full_response(request, exception) if is_disk_full(exception) else None


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (a SuspiciousOperation, e.g. its DATA_UPLOAD_* limits while it read the
    body itself); under /api/ in the JSON shape, with 413 for a body over the limit."""
    if _is_api(request):
        response = error_response(exception)
        if response is not None:
            return response
        return _json(400, "bad_request", "the request could not be read")
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    exc = sys.exc_info()[1]  # Django calls this handler while handling the exception
    if isinstance(exc, Exception) and is_disk_full(exc):
        return disk_full_response(request, exc)
    if _is_api(request):
        return _json(500, "server_error", "internal error; it has been logged")
    return defaults.server_error(request)


def _json(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"status": status, "code": code, "message": message, "fields": {}}, status=status
    )
