from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = "Catalogue"

    def ready(self) -> None:
        from archive.roles import roles_after_migrate

        post_migrate.connect(roles_after_migrate, dispatch_uid="archive-roles")

        # Issue 11: the lineage core snapshots evidence and checks revisions through these.
        from archive import evidence, revisions  # noqa: F401  (registers the revision log kind)
        from restoration.evidence import register_snapshotter

        register_snapshotter(evidence.snapshot)
        from restoration.evidence import register_identity_provider

        register_identity_provider(evidence.master_identities)
        from restoration.audit import register_check

        register_check("catalogue", revisions.catalogue_check)
        from archive.search import connect_signals

        connect_signals()  # folded search keys kept up to date on every save (issue 16)
