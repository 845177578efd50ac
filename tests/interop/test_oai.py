"""OAI-PMH: the non-restricted photos as Dublin Core, harvested with oaipmh's own client."""

from __future__ import annotations

import pytest
from django.test import Client
from lxml import etree

from tests.interop.conftest import ingest

pytestmark = pytest.mark.django_db
NS = {
    "oai": "http://www.openarchives.org/OAI/2.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
}


def oai(client: Client, **params: str) -> etree._Element:
    response = client.get("/oai", params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    return etree.fromstring(response.content)


def test_public_photos_are_harvested_as_dublin_core_restricted_never(roles, settings):
    from archive.models import Figure

    settings.ARCHIVE_PUBLIC_CATALOGUE = True
    figure = Figure.objects.create(name="Lu Xun")
    public = ingest(
        roles["restorer"],
        size=(64, 48),
        seed=41,
        title="Lu Xun in Xiamen",
        figure_ids=[figure.pk],
        photographer="Studio A",
        date="1926",
        place="Xiamen",
        rights_statement="http://rightsstatements.org/vocab/NoC-US/1.0/",
    )
    secret = ingest(roles["restorer"], size=(64, 48), seed=42, title="Secret", restricted=True)
    client = Client()
    ident = oai(client, verb="Identify")
    assert ident.findtext(".//oai:repositoryName", namespaces=NS) == "Photo restoration archive"
    records = oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    titles = records.xpath("//dc:title/text()", namespaces=NS)
    assert titles == ["Lu Xun in Xiamen"]
    assert records.xpath("//dc:subject/text()", namespaces=NS) == ["Lu Xun"]
    assert records.xpath("//dc:date/text()", namespaces=NS) == ["1926"]
    assert f"http://testserver/iiif/photos/{public.pk}/manifest.json" in records.xpath(
        "//dc:relation/text()", namespaces=NS
    )
    ident_public = f"oai:testserver:photo/{public.pk}"
    one = oai(client, verb="GetRecord", metadataPrefix="oai_dc", identifier=ident_public)
    assert one.xpath("//dc:creator/text()", namespaces=NS) == ["Studio A"]
    hidden = oai(
        client,
        verb="GetRecord",
        metadataPrefix="oai_dc",
        identifier=f"oai:testserver:photo/{secret.pk}",
    )
    assert hidden.xpath("//oai:error/@code", namespaces=NS) == ["idDoesNotExist"]
    bad = oai(client, verb="ListRecords", metadataPrefix="marc21")
    assert bad.xpath("//oai:error/@code", namespaces=NS) == ["cannotDisseminateFormat"]
    assert oai(client, verb="Nope").xpath("//oai:error/@code", namespaces=NS) == ["badVerb"]
    ids = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": "2000-01-01"})
    assert ids.xpath("//oai:identifier/text()", namespaces=NS) == [ident_public]


def test_a_private_catalogue_publishes_nothing(roles, settings):
    settings.ARCHIVE_PUBLIC_CATALOGUE = False
    ingest(roles["restorer"], size=(64, 48), seed=43, title="Not public")
    records = oai(Client(), verb="ListRecords", metadataPrefix="oai_dc")
    assert records.xpath("//oai:error/@code", namespaces=NS) == ["noRecordsMatch"]


def test_harvest_pages_with_a_resumption_token(roles, settings, monkeypatch):
    settings.ARCHIVE_PUBLIC_CATALOGUE = True
    for i in range(3):
        ingest(roles["restorer"], size=(32, 32), seed=50 + i, title=f"Photo {i}")
    monkeypatch.setattr("interop.oai.BATCH_SIZE", 2)
    client = Client()
    first = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    token = first.findtext(".//oai:resumptionToken", namespaces=NS)
    assert len(first.xpath("//oai:header", namespaces=NS)) == 2 and token
    second = oai(client, verb="ListIdentifiers", resumptionToken=token)
    assert len(second.xpath("//oai:header", namespaces=NS)) == 1
