"""The user's interface language, kept when they choose it in the pages (a wrapper of Django's
``set_language``); api.base applies it to their API requests that send no Accept-Language."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
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
