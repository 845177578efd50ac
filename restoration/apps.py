from django.apps import AppConfig


class RestorationConfig(AppConfig):
    name = "restoration"
    verbose_name = "Restoration and lineage"

    def ready(self) -> None:
        from django.conf import settings

        from restoration import imagefile

        # imagefile is Django-free; the process-wide decode budget comes from the settings.
        imagefile.DECODES.limit_bytes = int(settings.ARCHIVE_DECODE_MEMORY_MB) * 2**20
