"""Who acts and who is recorded.

``User`` is whoever a write or a read acts as: ``request.user`` (a user, or ``AnonymousUser``)
or ``None`` for the system (a management command, a job without a requester). The access layer
re-exports it as ``access.visibility.User``; the lineage core, which may not import the access
layer, takes it from here. ``recorded_user`` narrows it to what a foreign key to
AUTH_USER_MODEL (a step's, a revision's, a job's ``user``) holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

if TYPE_CHECKING:
    # The model AUTH_USER_MODEL names (Django's own: config.settings leaves it unset); the
    # django-stubs plugin types every foreign key to AUTH_USER_MODEL as this class.
    from django.contrib.auth.models import User as UserModel

User = AbstractBaseUser | AnonymousUser | None


def recorded_user(user: User) -> UserModel | None:
    """The user a row records: a saved user, else ``None`` (the system, an anonymous user)."""
    if isinstance(user, get_user_model()) and user.pk:
        return user
    return None
