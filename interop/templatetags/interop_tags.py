from __future__ import annotations

from typing import Any

from django import template

from interop.models import TileSet

register = template.Library()


@register.simple_tag
def iiif_info_url(artifact: Any) -> str:
    """The artifact's IIIF info.json path when its tiles are ready, else "" (the page then
    shows the plain preview). The page itself was only rendered for a user who may see the
    artifact; the tiles answer to the same check again."""
    if artifact is None:
        return ""
    ready = TileSet.objects.filter(artifact_id=artifact.pk, status=TileSet.Status.READY).exists()
    return f"/iiif/images/{artifact.pk}/info.json" if ready else ""
