"""DRF's side of the access policy (``access``): reading is decided by ``access.visibility``
(any authenticated user reads what is not restricted, anonymous readers only when
``ARCHIVE_PUBLIC_CATALOGUE`` is on); writing needs the permission a view names in
``write_permissions`` (``access.actions``) or else Django's model permission, which the role
groups grant (migration ``archive.0003_roles``)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from access.visibility import can_view_catalogue

_ACTION_PERM = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


class ArchivePermission(BasePermission):
    """Reads: whoever may see the catalogue. Writes: the view's ``write_permissions`` for the
    action if it names them, else Django's ``<app>.<add|change|delete>_<model>``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS and not getattr(view, "read_needs_write_perms", False):
            return can_view_catalogue(request.user)
        if not (request.user and request.user.is_authenticated):
            return False
        return request.user.has_perms(self.required(request, view))

    @staticmethod
    def required(request: Request, view: Any) -> list[str]:
        action = getattr(view, "action", None)
        explicit = getattr(view, "write_permissions", {})
        if action in explicit:
            return list(explicit[action])
        if None in explicit:
            return list(explicit[None])
        queryset = getattr(view, "queryset", None)
        if queryset is None and not hasattr(view, "get_queryset"):
            return []  # a read-only view without a model: the missing handler answers 405
        model = (queryset if queryset is not None else view.get_queryset()).model
        verb = _ACTION_PERM.get(request.method or "", "change")
        return [f"{model._meta.app_label}.{verb}_{model._meta.model_name}"]
