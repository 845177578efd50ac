"""What a person chose in the pages and the API should honour too (issue 22)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Preference(models.Model):
    """The interface language a user last chose in the pages: an API request without an
    Accept-Language header gets it (a burnt-in animation label, messages)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    language = models.CharField(max_length=10, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"
