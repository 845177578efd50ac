from django.apps import AppConfig


class RestorationConfig(AppConfig):
    name = "restoration"
    verbose_name = "Restoration and lineage"

    def ready(self) -> None:
        from django.conf import settings

        from restoration import imagefile

        # imagefile is Django-free; the process-wide decode budget comes from the settings.
        imagefile.DECODES.limit_bytes = int(settings.ARCHIVE_DECODE_MEMORY_MB) * 2**20
        # Every new artifact is indexed by face after its transaction commits (issue 22): a
        # signal, because ingest lives in the lineage core, which does not import the jobs.
        from django.db.models.signals import post_save

        from restoration.models import Artifact

        post_save.connect(_index_faces_later, sender=Artifact, dispatch_uid="faces_index")


def _index_faces_later(sender: object, instance: object, created: bool, **kwargs: object) -> None:
    from django.conf import settings
    from django.db import transaction

    if not created or not settings.ARCHIVE_FACE_INDEX:
        return
    from restoration.jobs import faces_enqueue

    pk = int(instance.pk)  # type: ignore[attr-defined]
    transaction.on_commit(lambda: faces_enqueue(pk))
