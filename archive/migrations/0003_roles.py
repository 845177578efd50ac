"""The role groups of issue 6, with their permissions.

viewer      reads what is not restricted
cataloguer  viewer + edits the catalogue (figures, names, sources, citations, photos, refs, notes)
restorer    viewer + submits jobs (and cancels its own), records manual steps
auditor     viewer + reads restricted records, runs verify (recorded as an AuditRun)
Admins are superusers. Permissions are created here first (they normally appear only after
``post_migrate``), so a fresh database has working groups as soon as ``migrate`` ends.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CATALOGUE = ["figure", "figurename", "source", "citation", "photo", "referenceimage", "note"]
READABLE = {
    "archive": CATALOGUE,
    "restoration": ["artifact", "step", "job", "modelweights", "auditrun"],
}


def _view_perms() -> list[tuple[str, str]]:
    return [(app, f"view_{model}") for app, models in READABLE.items() for model in models]


ROLES: dict[str, list[tuple[str, str]]] = {
    "viewer": _view_perms(),
    "cataloguer": _view_perms()
    + [("archive", f"{action}_{model}") for model in CATALOGUE for action in ("add", "change", "delete")],
    "restorer": _view_perms()
    + [("restoration", "add_job"), ("restoration", "add_step")],
    "auditor": _view_perms() + [("archive", "view_restricted"), ("restoration", "add_auditrun")],
}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = [
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in perms
        ]
        group.permissions.add(*wanted)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0002_initial"),
        ("restoration", "0002_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
