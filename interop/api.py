"""``GET /api/v1/photos/{id}/bag/``: a zipped BagIt bag of the photo's lineage (what the caller
may see), built in a temporary directory and streamed from a temporary file."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from api.base import AnyMediaRenderer, ApiViewMixin
from interop.bags import bag_export, bag_zip, photo_for_bag


class PhotoBagView(ApiViewMixin, APIView):
    # JSON first, so errors (404, 401) are JSON and documented as such; the zip is a FileResponse.
    renderer_classes = [JSONRenderer, AnyMediaRenderer]

    @extend_schema(
        summary="A BagIt bag (zip) of the photo's whole lineage",
        description="Master, every derivative the caller may see, lineage JSON, PROV, C2PA "
        "exports, the catalogue record (JSON and Dublin Core), evidence snapshots, the "
        "transparency-log checkpoint and inclusion proofs; SHA-256 manifests.",
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        photo = photo_for_bag(pk, request.user)
        if photo is None:
            raise exceptions.NotFound(f"no photo {pk}")
        tmp_root = Path(settings.ARCHIVE_DATA_DIR) / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=tmp_root, prefix="bag-"))
        try:
            bag_dir = work / f"photo-{photo.pk}-bag"
            bag_export(photo=photo, dest=bag_dir, user=request.user, url=request.build_absolute_uri)
            zipped = bag_zip(bag_dir, work / "bag.zip")
            handle = open(zipped, "rb")  # noqa: SIM115  (closed by FileResponse)
        finally:
            shutil.rmtree(work, ignore_errors=True)  # the open handle keeps the zip readable
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=f"photo-{photo.pk}-bag.zip",
            content_type="application/zip",
        )
        response["Content-Length"] = str(os.fstat(handle.fileno()).st_size)
        return response
