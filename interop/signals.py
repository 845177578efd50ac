"""After an ingest or a restoration commits, ask for the new image's IIIF tiles."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from restoration.models import Artifact


@receiver(post_save, sender=Artifact, dispatch_uid="interop-tiles-after-new-artifact")
def artifact_saved(sender: Any, instance: Artifact, created: bool, **kwargs: Any) -> None:
    from interop.tiles import tiles_request_on_commit, wants_tiles

    if created and wants_tiles(instance):
        tiles_request_on_commit(instance.pk)
