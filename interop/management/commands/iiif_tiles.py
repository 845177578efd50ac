"""manage.py iiif_tiles [ARTIFACT ...] [--missing] [--now]: ask for (or make) IIIF tiles.

Artifacts ingested before tiles existed, or whose tiling failed, get them this way: by default
the requests go to the workers like the ones made after an ingest; ``--now`` tiles in this
process instead (one at a time)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from interop.models import TileSet
from interop.tiles import tiles_make, tiles_request, wants_tiles
from restoration.models import Artifact


class Command(BaseCommand):
    help = "Request or make the IIIF level-0 tiles of large stills."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("artifacts", nargs="*", type=int, help="artifact ids")
        parser.add_argument(
            "--missing", action="store_true", help="every large still without ready tiles"
        )
        parser.add_argument("--now", action="store_true", help="tile here, not in the workers")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = list(options["artifacts"])
        if options["missing"]:
            ready = TileSet.objects.filter(status=TileSet.Status.READY).values("artifact_id")
            candidates = Artifact.objects.filter(media_type__startswith="image/").exclude(
                pk__in=ready
            )
            ids += [a.pk for a in candidates.iterator() if wants_tiles(a)]
        for artifact_id in sorted(set(ids)):
            if options["now"]:
                tileset = tiles_make(artifact_id)
                state = "not needed" if tileset is None else tileset.status
                if tileset is not None and tileset.error:
                    state += f": {tileset.error}"
            else:
                tileset = tiles_request(artifact_id, force=True)
                state = "not needed" if tileset is None else f"requested ({tileset.status})"
            self.stdout.write(f"artifact {artifact_id}: {state}")
