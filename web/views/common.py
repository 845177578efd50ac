"""Helpers shared by the page views."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from archive.models import Citation
from archive.selectors import can_view_catalogue, visible_citations


def login_required_unless_public(request: HttpRequest) -> HttpResponse | None:
    """Send anonymous visitors to the login page unless the catalogue is public; the
    visibility of each record is still decided by ``archive.selectors``."""
    if can_view_catalogue(request.user):
        return None
    return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)


def citations_prefetch(request: HttpRequest, attr: str = "citations") -> Prefetch:
    """Prefetch only the citations the user may see, as ``visible_citations``."""
    queryset = visible_citations(Citation.objects.select_related("source"), request.user)
    return Prefetch(attr, queryset=queryset, to_attr="visible_citations")


def storage_full_page(request: HttpRequest, reason: str = "") -> HttpResponse:
    """The page for a write the full disk refused (507: nothing of it was kept)."""
    return render(request, "507.html", {"reason": reason}, status=507)
