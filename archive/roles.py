"""The role groups (issue 6) and their permissions: the one definition.

viewer      reads what is not restricted
cataloguer  viewer + edits the catalogue (figures, names, sources, citations, photos, refs, notes)
restorer    viewer + submits jobs (and cancels its own), records manual steps
auditor     viewer + reads restricted records, runs verify (recorded as an AuditRun)
Admins are superusers.

The groups are made by migration ``archive.0003_roles`` and made whole again after every
``migrate`` (post_migrate), so a flushed test database or a newly added permission gets them too.
"""

from __future__ import annotations

from typing import Any

CATALOGUE = [
    "figure",
    "figurename",
    "source",
    "citation",
    "photo",
    "referenceimage",
    "note",
    "film",
]
READABLE = {
    "archive": CATALOGUE,
    "restoration": ["artifact", "step", "job", "modelweights", "auditrun"],
}


def _view_perms() -> list[tuple[str, str]]:
    return [(app, f"view_{model}") for app, models in READABLE.items() for model in models]


ROLES: dict[str, list[tuple[str, str]]] = {
    "viewer": _view_perms(),
    "cataloguer": _view_perms()
    + [
        ("archive", f"{action}_{model}")
        for model in CATALOGUE
        for action in ("add", "change", "delete")
    ],
    "restorer": _view_perms() + [("restoration", "add_job"), ("restoration", "add_step")],
    "auditor": _view_perms() + [("archive", "view_restricted"), ("restoration", "add_auditrun")],
}


def roles_ensure(group_model: Any, permission_model: Any) -> None:
    """Create the groups and give each its permissions (idempotent; models passed in so that
    the migration can use its historical models)."""
    for name, perms in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        # A model added by a later migration (films) has no permission yet when the roles
        # migration runs: post_migrate (``roles_after_migrate``) grants it at the end.
        wanted = [
            permission
            for app, codename in perms
            if (
                permission := permission_model.objects.filter(
                    content_type__app_label=app, codename=codename
                ).first()
            )
            is not None
        ]
        group.permissions.add(*wanted)


def roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    # Runs once per app; wait for the last of ours so that every permission exists.
    if getattr(sender, "label", "") != "restoration" and getattr(sender, "label", "") != "archive":
        return
    if not Permission.objects.filter(content_type__app_label="restoration").exists():
        return
    if not Permission.objects.filter(content_type__app_label="archive").exists():
        return
    roles_ensure(Group, Permission)
