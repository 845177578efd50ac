from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = "Catalogue"

    def ready(self) -> None:
        from archive.roles import roles_after_migrate

        post_migrate.connect(roles_after_migrate, dispatch_uid="archive-roles")
