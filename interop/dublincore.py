"""Dublin Core (the 15 elements) of a catalogued photo: for OAI-PMH and for BagIt."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

NS_OAIDC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
NS_DC = "http://purl.org/dc/elements/1.1/"


def photo_dc(photo: Any, figures: list[Any], url: Any) -> dict[str, list[str]]:
    """``figures``: those the reader may see; ``url`` makes absolute URLs of paths."""

    def some(*values: Any) -> list[str]:
        return [str(v) for v in values if v]

    return {
        "title": some(photo.title),
        "creator": some(photo.photographer),
        "subject": [f.name for f in figures],
        "description": some(photo.description, photo.physical_description),
        "publisher": some(photo.repository),
        "contributor": [],
        "date": some(photo.date),
        "type": ["StillImage", "Image"],
        "format": some(photo.master.media_type),
        "identifier": some(
            url(f"/photos/{photo.pk}/"),
            photo.accession_number and f"accession:{photo.accession_number}",
            f"sha256:{photo.master.sha256}",
        ),
        "source": some(photo.get_carrier_display()),
        "language": [],
        "relation": [url(f"/iiif/photos/{photo.pk}/manifest.json")],
        "coverage": some(photo.place),
        "rights": some(photo.rights_statement),
    }


def dc_xml(fields: dict[str, list[str]]) -> bytes:
    """An ``oai_dc:dc`` document (the same shape OAI-PMH serves), UTF-8."""
    ET.register_namespace("oai_dc", NS_OAIDC)
    ET.register_namespace("dc", NS_DC)
    root = ET.Element(f"{{{NS_OAIDC}}}dc")
    for name, values in fields.items():
        for value in values:
            ET.SubElement(root, f"{{{NS_DC}}}{name}").text = value
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
