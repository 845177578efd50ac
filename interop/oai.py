"""OAI-PMH 2.0 at ``/oai`` (``oaipmh``): the catalogue's photos as Dublin Core, for harvesters.

It answers as an anonymous visitor would be answered (``access`` decides): with
``ARCHIVE_PUBLIC_CATALOGUE=1`` every non-restricted photo, otherwise none (an archive that keeps
its catalogue private does not publish it to aggregators either). A photo that becomes
restricted simply disappears from later harvests (``deletedRecord`` is ``transient``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from oaipmh import common, error
from oaipmh.metadata import MetadataRegistry
from oaipmh.server import BatchingServer, oai_dc_writer

from access.visibility import visible_figures, visible_photos
from archive.models import Figure, Photo
from interop.dublincore import photo_dc

EARLIEST = dt.datetime(2000, 1, 1)
BATCH_SIZE = 50  # records per ListRecords / ListIdentifiers page


class _Catalogue:
    """The IBatchingOAI interface of oaipmh over the visible photos."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.user = AnonymousUser()
        self.host = request.get_host().split(":")[0] or "archive"

    def _photos(self) -> Any:
        return visible_photos(Photo.objects.select_related("master"), self.user).order_by("id")

    def _identifier(self, photo: Photo) -> str:
        return f"oai:{self.host}:photo/{photo.pk}"

    def _header(self, photo: Photo) -> common.Header:
        stamp = photo.updated_at.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
        return common.Header(None, self._identifier(photo), stamp, [], False)

    def _record(self, photo: Photo) -> tuple[common.Header, common.Metadata, None]:
        figures = list(visible_figures(Figure.objects.filter(photos=photo), self.user))
        fields = photo_dc(photo, figures, self.request.build_absolute_uri)
        return self._header(photo), common.Metadata(None, fields), None

    def _window(self, from_: Any, until: Any, cursor: int, batch_size: int) -> list[Photo]:
        photos = self._photos()
        if from_ is not None:
            photos = photos.filter(updated_at__gte=from_.replace(tzinfo=dt.UTC))
        if until is not None:
            if until.hour == until.minute == until.second == 0:  # a day: all of it
                until = until + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
            photos = photos.filter(updated_at__lte=until.replace(tzinfo=dt.UTC))
        return list(photos[cursor : cursor + batch_size + 1])

    def identify(self) -> common.Identify:
        return common.Identify(
            repositoryName="Photo restoration archive",
            baseURL=self.request.build_absolute_uri("/oai"),
            protocolVersion="2.0",
            adminEmails=["archive@localhost"],
            earliestDatestamp=EARLIEST,
            deletedRecord="transient",
            granularity="YYYY-MM-DDThh:mm:ssZ",
            compression=["identity"],
        )

    def listMetadataFormats(self, identifier: str | None = None) -> list[tuple[str, str, str]]:
        if identifier is not None:
            self._photo(identifier)
        return [
            (
                "oai_dc",
                "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
                "http://www.openarchives.org/OAI/2.0/oai_dc/",
            )
        ]

    def listSets(self, cursor: int = 0, batch_size: int = 10) -> list[Any]:
        raise error.NoSetHierarchyError("this repository has no sets")

    def _check(self, metadataPrefix: str, set: str | None) -> None:  # noqa: A002
        if metadataPrefix != "oai_dc":
            raise error.CannotDisseminateFormatError(f"unknown metadataPrefix {metadataPrefix!r}")
        if set is not None:
            raise error.NoSetHierarchyError("this repository has no sets")

    def listIdentifiers(
        self,
        metadataPrefix: str,
        set: str | None = None,  # noqa: A002
        from_: Any = None,
        until: Any = None,
        cursor: int = 0,
        batch_size: int = 10,
    ) -> list[common.Header]:
        self._check(metadataPrefix, set)
        photos = self._window(from_, until, cursor, batch_size)
        if not photos and cursor == 0:
            raise error.NoRecordsMatchError("no photos match")
        return [self._header(p) for p in photos]

    def listRecords(
        self,
        metadataPrefix: str,
        set: str | None = None,  # noqa: A002
        from_: Any = None,
        until: Any = None,
        cursor: int = 0,
        batch_size: int = 10,
    ) -> list[tuple[common.Header, common.Metadata, None]]:
        self._check(metadataPrefix, set)
        photos = self._window(from_, until, cursor, batch_size)
        if not photos and cursor == 0:
            raise error.NoRecordsMatchError("no photos match")
        return [self._record(p) for p in photos]

    def _photo(self, identifier: str) -> Photo:
        prefix = f"oai:{self.host}:photo/"
        tail = identifier.removeprefix(prefix)
        photo = (
            self._photos().filter(pk=int(tail)).first()
            if identifier.startswith(prefix) and tail.isdigit()
            else None
        )
        if photo is None:
            raise error.IdDoesNotExistError(f"no record {identifier}")
        return photo

    def getRecord(
        self, metadataPrefix: str, identifier: str
    ) -> tuple[common.Header, common.Metadata, None]:
        self._check(metadataPrefix, None)
        return self._record(self._photo(identifier))


def _registry() -> MetadataRegistry:
    registry = MetadataRegistry()
    registry.registerWriter("oai_dc", oai_dc_writer)
    return registry


@csrf_exempt
@require_http_methods(["GET", "POST"])
def endpoint(request: HttpRequest) -> HttpResponse:
    params = request.GET if request.method == "GET" else request.POST
    kw = {key: params.get(key) for key in params}
    server = BatchingServer(_Catalogue(request), _registry(), resumption_batch_size=BATCH_SIZE)
    xml = server.handleRequest(kw)
    return HttpResponse(xml, content_type="text/xml; charset=utf-8")
