"""API views: catalogue CRUD, lineage routes, jobs/operations/models; and the JSON 404 for any
other path under /api/ (Django's own 404 page is HTML)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse


def not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    return JsonResponse(
        {
            "status": 404,
            "code": "not_found",
            "message": f"no API route at {request.path}",
            "fields": {},
        },
        status=404,
    )
