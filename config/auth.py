"""The failed-login limit: one home for the rule, whatever the way in.

More than ``ARCHIVE_LOGIN_MAX_FAILURES`` failed logins for one user name from one client
address within ``ARCHIVE_LOGIN_WINDOW_S`` lock that pair out until the window (counted from
the first failure) has passed; a successful login clears the count. The counters live in the
shared cache (settings.CACHES), so every server process sees the same ones.

The authentication backend enforces it for every caller of ``authenticate()`` (the login page,
the admin's login, DRF's basic authentication if it is ever enabled); the login page also says
so, with a 429 and ``Retry-After``, instead of the usual "wrong password".
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _


def _key(request: HttpRequest, username: str) -> str:
    address = request.META.get("REMOTE_ADDR", "")
    # Hashed: user names may hold characters a cache key may not (Memcached, Redis are fine).
    digest = hashlib.sha256(f"{username.casefold()}\x00{address}".encode()).hexdigest()
    return f"login-failures:{digest}"


def locked_for(request: HttpRequest, username: str) -> int:
    """Seconds until this user name may try again from this address; 0 when it may now."""
    key = _key(request, username)
    until = cache.get(f"{key}:until")
    if until is None or (cache.get(key) or 0) < settings.ARCHIVE_LOGIN_MAX_FAILURES:
        return 0
    return max(1, math.ceil(until - time.time()))


def login_failed(request: HttpRequest, username: str) -> None:
    """Count a failure. The ``:until`` entry, written once per window, is what ends it: some
    backends' incr() (the file cache's) rewrites the counter with a fresh expiry."""
    key = _key(request, username)
    window = settings.ARCHIVE_LOGIN_WINDOW_S
    if cache.add(f"{key}:until", time.time() + window, window):
        cache.set(key, 0, window)  # a new window: older failures no longer count
    try:
        cache.incr(key)  # atomic on Redis: parallel guesses all count
    except ValueError:  # the counter expired or was evicted
        cache.set(key, 1, window)


def login_succeeded(request: HttpRequest, username: str) -> None:
    key = _key(request, username)
    cache.delete_many([key, f"{key}:until"])


class RateLimitedModelBackend(ModelBackend):
    """Django's ``ModelBackend`` behind the failed-login limit."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None:
            username = kwargs.get(str(get_user_model().USERNAME_FIELD))
        if request is None or username is None:  # internal callers: nothing to limit by
            return super().authenticate(request, username, password, **kwargs)
        if locked_for(request, username):
            raise PermissionDenied  # authenticate() stops here, trying no other backend
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            login_failed(request, username)
        else:
            login_succeeded(request, username)
        return user


class LoginForm(AuthenticationForm):
    """The login form, saying when the pair is locked out (before checking the password)."""

    locked_for = 0

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and self.request is not None:
            self.locked_for = locked_for(self.request, username)
        if self.locked_for:
            raise ValidationError(
                _("Too many failed attempts. Try again in %(minutes)d minute(s).")
                % {"minutes": math.ceil(self.locked_for / 60)},
                code="locked_out",
            )
        return super().clean()


class LoginView(auth_views.LoginView):
    """The login page: a locked-out attempt is a 429 with the reason on the form."""

    authentication_form = LoginForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if form.locked_for:
            response.status_code = 429
            response["Retry-After"] = str(form.locked_for)
        return response
