"""Reads of the catalogue. Visibility of restricted records is decided here, in one place,
for the API and the pages alike."""

from __future__ import annotations

from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

VIEW_RESTRICTED = "archive.view_restricted"


def can_view_restricted(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_perm(VIEW_RESTRICTED))


def can_view_catalogue(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Anonymous users see nothing unless ARCHIVE_PUBLIC_CATALOGUE opens the catalogue."""
    if user is not None and user.is_authenticated:
        return True
    return bool(settings.ARCHIVE_PUBLIC_CATALOGUE)


def visible(queryset: QuerySet[M], user: AbstractBaseUser | AnonymousUser | None) -> QuerySet[M]:
    """Restrict a catalogue queryset to what ``user`` may see."""
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    return queryset.filter(restricted=False)
