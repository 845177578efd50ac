from django.contrib import admin
from django.urls import include, path

from config.auth import LoginView
from config.health import healthz
from web.preferences import set_language_and_remember

# Errors that escape the views: JSON under /api/, pages elsewhere, 507 for a full disk.
handler400 = "config.errors.bad_request"
handler500 = "config.errors.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/", include("api.urls", namespace="api-root")),
    # Django's set_language, also remembering the choice for the user's API requests
    path("i18n/setlang/", set_language_and_remember, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    # The login page with the failed-login limit's message (config/auth.py); the rest as Django's.
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("interop.urls")),  # /iiif/..., /oai (issue 15)
    path("", include("web.urls")),
]
