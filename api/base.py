"""What every API view shares: JSON errors whatever the Accept header, lenient negotiation,
the ``format`` query parameter left to the views that use it (PROV, export), pagination, and
primary keys checked before they reach the database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import translation
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import ArchivePermission

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass  # the stubs' alias, no runtime name

MAX_ID = 2**63 - 1


class _NoFormatOverride:
    URL_FORMAT_OVERRIDE = None


class LenientNegotiation(DefaultContentNegotiation):
    """``?format=`` belongs to the PROV and export routes, not to renderer selection, and an
    unmatched Accept header gets JSON rather than a 406 (errors are JSON in any case)."""

    settings = _NoFormatOverride()  # type: ignore[assignment]

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        try:
            return super().select_renderer(request, renderers, None)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type


class AnyMediaRenderer(BaseRenderer):
    """Lets file routes accept any Accept header; they answer with their own HttpResponse."""

    media_type = "*/*"
    format = "bin"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return JSONRenderer().render(data) if not isinstance(data, bytes) else data


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class ApiViewMixin:
    # Declared as APIView and GenericAPIView declare them, so that a view mixing this in may
    # set its own (an export's renderers, no pagination).
    permission_classes: Sequence[_PermissionClass] = [ArchivePermission]
    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer]
    content_negotiation_class: type[BaseContentNegotiation] = LenientNegotiation
    pagination_class: type[BasePagination] | None = Pagination

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # NUL characters are refused by PostgreSQL; refuse them here as bad input, not a 500.
        for key, value in request.query_params.lists():
            if "\x00" in key or any("\x00" in v for v in value):
                raise exceptions.ValidationError(
                    {key.replace("\x00", ""): ["NUL characters are not allowed"]}
                )
        for name, value in kwargs.items():
            if name in {"pk", "id"} and not _valid_id(value):
                raise exceptions.NotFound()
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        # After authentication: a token client's own language choice (web/preferences.py)
        _activate_preferred_language(request)

    def reread(self, instance: Any) -> Any:
        """A record just written, read back through the view's queryset for its prefetches.

        A writer who cannot see restricted records may still mark one restricted; they get
        back what they wrote (nothing more), not a 404 for their own write."""
        fresh = self.get_queryset().filter(pk=instance.pk).first()  # type: ignore[attr-defined]
        return fresh if fresh is not None else instance

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if isinstance(response, Response) and response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
        return response


def _valid_id(value: Any) -> bool:
    try:
        return 0 < int(value) <= MAX_ID
    except (TypeError, ValueError):
        return False


def _activate_preferred_language(request: Request) -> None:
    """For an authenticated request without Accept-Language (a script, curl), the language the
    user last chose in the pages (``web.models.Preference``, read through the user's
    ``preference`` relation); with the header, LocaleMiddleware already decided."""
    if request.META.get("HTTP_ACCEPT_LANGUAGE"):
        return
    user = request.user
    if user is None or not user.is_authenticated:
        return
    try:
        language = str(user.preference.language)  # web's OneToOne (related_name)
    except ObjectDoesNotExist:
        return
    if language:
        translation.activate(language)
        request.LANGUAGE_CODE = language  # as LocaleMiddleware does
