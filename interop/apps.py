from django.apps import AppConfig


class InteropConfig(AppConfig):
    """IIIF, BagIt, OAI-PMH and S3: the archive world's exchange formats (issue 15)."""

    name = "interop"
    verbose_name = "Interoperability (IIIF, BagIt, OAI-PMH)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from interop import signals  # noqa: F401  (connects the tiling trigger)
        from interop.bags import recorded_ids
        from restoration.evidence import register_recorded_ids

        register_recorded_ids(recorded_ids)  # imported steps verify with their original ids
