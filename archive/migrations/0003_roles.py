"""The role groups of issue 6, with their permissions (defined in archive/roles.py).

viewer      reads what is not restricted
cataloguer  viewer + edits the catalogue (figures, names, sources, citations, photos, refs, notes)
restorer    viewer + submits jobs (and cancels its own), records manual steps
auditor     viewer + reads restricted records, runs verify (recorded as an AuditRun)
Admins are superusers. Permissions are created here first (they normally appear only after
``post_migrate``), so a fresh database has working groups as soon as ``migrate`` ends.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from archive.roles import ROLES, roles_ensure

def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_ensure(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


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
