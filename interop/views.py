"""IIIF routes: image services (info.json and level-0 tiles) and Presentation manifests.

Visibility is ``access``'s answer, the same as for the artifact files: a restricted record's
manifest, info.json and tiles are 404s to whoever may not see it. Responses carry
``Access-Control-Allow-Origin: *`` so IIIF clients on other sites can read what the archive
shows anonymously (with ``ARCHIVE_PUBLIC_CATALOGUE=1``); browsers never send cookies along
with such cross-site reads, so nothing private leaks that way.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.http import require_GET

from access.visibility import (
    visible_artifact,
    visible_artifacts,
    visible_figures,
    visible_films,
    visible_photos,
)
from archive.models import Figure, Film, Photo
from interop import manifests
from interop.models import TileSet
from interop.tiles import tile_key, tiles_request
from restoration.models import Artifact
from restoration.selectors import lineage_descendants

IIIF_IMAGE_CONTEXT = "http://iiif.io/api/image/3/context.json"
IIIF_PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
REGION = re.compile(r"^(full|\d{1,6},\d{1,6},\d{1,6},\d{1,6})$")
SIZE = re.compile(r"^(max|\d{1,6},\d{1,6})$")


def _json(data: Any, context: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False),
        status=status,
        content_type=f'application/ld+json;profile="{context}"',
    )
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "private, max-age=60"
    return response


def _not_found(message: str) -> HttpResponse:
    return _json({"status": 404, "code": "not_found", "message": message}, IIIF_IMAGE_CONTEXT, 404)


def _absolute(request: HttpRequest):
    return lambda path: request.build_absolute_uri(path)


MAX_ID = 2**63 - 1  # a larger number is no id (PostgreSQL would refuse it: not a 500)


def _ready_tileset(request: HttpRequest, pk: int) -> TileSet | HttpResponse:
    artifact = visible_artifact(pk, request.user) if 0 < pk <= MAX_ID else None
    if artifact is None:
        return _not_found(f"no image {pk}")
    tileset = TileSet.objects.filter(artifact=artifact).first()
    if tileset is None or tileset.status != TileSet.Status.READY:
        # Self-healing: a lost message or a killed worker is sent again from here.
        tileset = tiles_request(artifact.pk)
        if tileset is None:
            return _not_found(f"image {pk} is small enough to be shown whole: no tiles")
        if tileset.status == TileSet.Status.FAILED:
            return _not_found(f"the tiles of image {pk} could not be made: {tileset.error}")
        return _not_found(f"the tiles of image {pk} are being made; try again shortly")
    return tileset


@require_GET
def image_base(request: HttpRequest, pk: int) -> HttpResponse:
    """The image service's base URI redirects to its info.json (Image API 3, section 2)."""
    response = HttpResponse(status=303)
    response["Location"] = request.build_absolute_uri(f"/iiif/images/{pk}/info.json")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def image_info(request: HttpRequest, pk: int) -> HttpResponse:
    found = _ready_tileset(request, pk)
    if isinstance(found, HttpResponse):
        return found
    info = dict(found.info)
    info["@context"] = IIIF_IMAGE_CONTEXT
    info["id"] = request.build_absolute_uri(f"/iiif/images/{pk}")
    info["type"] = "ImageService3"
    info["protocol"] = "http://iiif.io/api/image"
    info["profile"] = "level0"
    return _json(info, IIIF_IMAGE_CONTEXT)


@require_GET
def image_tile(
    request: HttpRequest, pk: int, region: str, size: str, rotation: str, quality: str, fmt: str
) -> HttpResponseBase:
    if not (REGION.match(region) and SIZE.match(size)) or rotation != "0":
        return _not_found("level 0: only the regions and sizes listed in info.json")
    if quality != "default" or fmt != "jpg":
        return _not_found("level 0: only default.jpg")
    found = _ready_tileset(request, pk)
    if isinstance(found, HttpResponse):
        return found
    key = tile_key(found, region, size)
    if key is None or not default_storage.exists(key):
        return _not_found(f"no tile {region}/{size} of image {pk}")
    response = FileResponse(default_storage.open(key, "rb"), content_type="image/jpeg")
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "private, max-age=86400"
    return response


def photo_canvases(photo: Any, user: Any, media: str = "image/") -> list[tuple[str, Artifact]]:
    """The master, the approved restoration, then the other restorations the user may see
    (of the master's kind of media: stills for a photo, videos for a film), oldest first."""
    canvases: list[tuple[str, Artifact]] = [("master", photo.master)]
    graph = lineage_descendants(artifact_id=photo.master_id)
    ids = [pk for pk in graph.artifacts if pk != photo.master_id]
    shown = set(
        visible_artifacts(Artifact.objects.filter(pk__in=ids), user).values_list("pk", flat=True)
    )
    rest = [
        graph.artifacts[pk]
        for pk in ids
        if pk in shown
        and graph.artifacts[pk].role == "image"
        and graph.artifacts[pk].media_type.startswith(media)
    ]
    for artifact in rest:
        artifact.generated_by = graph.steps.get(artifact.generated_by_id or 0)
    approved_id = getattr(photo, "approved_artifact_id", None)
    canvases += [("approved", a) for a in rest if a.pk == approved_id]
    canvases += [("restoration", a) for a in rest if a.pk != approved_id]
    return canvases


@require_GET
def photo_manifest(request: HttpRequest, pk: int) -> HttpResponse:
    photo = (
        visible_photos(Photo.objects.select_related("master"), request.user).filter(pk=pk).first()
        if 0 < pk <= MAX_ID
        else None
    )
    if photo is None:
        return _json(
            {"status": 404, "code": "not_found", "message": f"no photo {pk}"},
            IIIF_PRESENTATION_CONTEXT,
            404,
        )
    figures = list(visible_figures(photo.figures.all(), request.user))
    manifest = manifests.photo_manifest(
        photo=photo,
        figures=figures,
        canvases=photo_canvases(photo, request.user),
        url=_absolute(request),
    )
    return _json(json.loads(manifest.json()), IIIF_PRESENTATION_CONTEXT)


@require_GET
def film_manifest(request: HttpRequest, pk: int) -> HttpResponse:
    film = (
        visible_films(Film.objects.select_related("master"), request.user).filter(pk=pk).first()
        if 0 < pk <= MAX_ID
        else None
    )
    if film is None:
        return _json(
            {"status": 404, "code": "not_found", "message": f"no film {pk}"},
            IIIF_PRESENTATION_CONTEXT,
            404,
        )
    figures = list(visible_figures(film.figures.all(), request.user))
    manifest = manifests.photo_manifest(
        photo=film,
        figures=figures,
        canvases=photo_canvases(film, request.user, media="video/"),
        url=_absolute(request),
        route="films",
    )
    return _json(json.loads(manifest.json()), IIIF_PRESENTATION_CONTEXT)


@require_GET
def figure_collection(request: HttpRequest, pk: int) -> HttpResponse:
    figure = (
        visible_figures(Figure.objects.all(), request.user).filter(pk=pk).first()
        if 0 < pk <= MAX_ID
        else None
    )
    if figure is None:
        return _json(
            {"status": 404, "code": "not_found", "message": f"no figure {pk}"},
            IIIF_PRESENTATION_CONTEXT,
            404,
        )
    photos = visible_photos(figure.photos.all(), request.user).order_by("date_earliest", "id")
    collection = manifests.figure_collection(
        figure=figure, photos=list(photos), url=_absolute(request)
    )
    return _json(json.loads(collection.json()), IIIF_PRESENTATION_CONTEXT)
