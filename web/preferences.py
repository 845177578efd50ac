"""The user's interface language, kept when they choose it in the pages (a wrapper of Django's
``set_language``) and applied to their API requests that send no Accept-Language."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.i18n import set_language

from web.models import Preference


def set_language_and_remember(request: HttpRequest) -> HttpResponse:
    response = set_language(request)
    language = request.POST.get("language", "")
    user = getattr(request, "user", None)
    known = {code for code, _name in settings.LANGUAGES}
    if (
        request.method == "POST"
        and language in known
        and user is not None
        and user.is_authenticated
    ):
        Preference.objects.update_or_create(user=user, defaults={"language": language})
    return response


def activate_preferred_language(request: Any) -> None:
    """For an authenticated request without Accept-Language (a script, curl), the language
    the user chose in the pages; with the header, LocaleMiddleware already decided."""
    if request.META.get("HTTP_ACCEPT_LANGUAGE"):
        return
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return
    language = Preference.objects.filter(user=user).values_list("language", flat=True).first() or ""
    if language:
        translation.activate(language)
        request.LANGUAGE_CODE = language
