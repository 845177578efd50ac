"""Issue 11, item 4: exports that carry the research (C2PA evidence assertion, inputTo
reference ingredients, CreativeWork identity, XMP in JPEG and PNG; PROV master identity,
citations and sources as used entities, the JSON-LD context served by the archive)."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from PIL import Image

from archive import services
from restoration.exports.c2pa import artifact_export_c2pa, c2pa_read
from restoration.exports.prov import lineage_prov
from tests.conftest import image_bytes
from tests.restoration.lineage_support import derive
from tests.restoration.test_c2pa import _flip, signing, signing_dir  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def researched():
    user = get_user_model().objects.create_user(username="cat", password="pw-cat-1")
    photo = services.photo_ingest(
        stream=io.BytesIO(image_bytes("PNG", seed=5)),
        filename="scan.png",
        title="Lu Xun, Xiamen 1926",
        user=user,
        metadata={
            "accession_number": "ACC-17",
            "repository": "Lu Xun Museum",
            "rights_statement": "http://rightsstatements.org/vocab/NoC-US/1.0/",
            "photographer": "Studio A",
            "carrier": "print",
        },
    ).photo
    source = services.source_create(
        user=user, title="Interview with Zhou Haiying", kind="interview"
    )
    citation = services.citation_create(
        user=user,
        source=source,
        locator="p. 12",
        claim="the collar was dark blue",
        quote="dark blue",
    )
    period = services.photo_ingest(
        stream=io.BytesIO(image_bytes("PNG", seed=6)), filename="p.png", title="period"
    ).photo
    reference = services.reference_create(
        user=user, artifact=period.master, title="Period colour photo", kind="period_colour"
    )
    made = derive(
        photo.master,
        seed=7,
        size=(64, 48),
        operation="colorize_hints",
        citation_ids=[citation.pk],
        reference_ids=[reference.pk],
    )
    # the catalogue is corrected afterwards: the exports still tell what the step relied on
    services.citation_update(citation=citation, user=user, claim="BRIGHT RED silk")
    return {"photo": photo, "made": made, "citation": citation, "reference": reference}


@pytest.mark.parametrize("fmt,media_type", [("jpeg", "image/jpeg"), ("png", "image/png")])
def test_c2pa_carries_the_evidence_and_the_identity(signing, researched, fmt, media_type):  # noqa: F811
    data = artifact_export_c2pa(artifact_id=researched["made"].pk, fmt=fmt)
    read = c2pa_read(data=data, media_type=media_type, trust_anchors=signing / "ca.pem")
    assert read["state"] == "Trusted", read["results"]
    manifest = read["manifest"]
    labels = {a["label"]: a["data"] for a in manifest["assertions"]}
    [step] = labels["org.photo-archive.evidence"]["steps"]
    assert step["record_hash"] == researched["made"].generated_by.record_hash
    assert step["citations"][0]["claim"] == "the collar was dark blue"
    assert step["citations"][0]["source"]["title"] == "Interview with Zhou Haiying"
    assert step["references"][0]["title"] == "Period colour photo"
    work = labels["stds.schema-org.CreativeWork"]
    assert work["name"] == "Lu Xun, Xiamen 1926"
    assert work["identifier"] == "ACC-17"
    assert work["provider"]["name"] == "Lu Xun Museum"
    assert "rightsstatements.org" in work["copyrightNotice"]
    actions = next(v for k, v in labels.items() if k.startswith("c2pa.actions"))["actions"]
    hinted = next(a for a in actions if a["parameters"].get("operation") == "colorize_hints")
    assert "the collar was dark blue" in hinted["parameters"]["description"]
    assert hinted["parameters"]["evidence"]["citations"] == [
        {"id": researched["citation"].pk, "revision": 1}
    ]
    inputs = [i for i in manifest["ingredients"] if i["relationship"] == "inputTo"]
    assert [i["title"] for i in inputs] == ["Period colour photo"]
    assert "BRIGHT RED" not in json.dumps(manifest)
    # XMP inside the file itself
    image = Image.open(io.BytesIO(data))
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    xmp = xmp.decode() if isinstance(xmp, bytes) else xmp
    assert "Lu Xun, Xiamen 1926" in xmp and "Lu Xun Museum" in xmp
    assert "rightsstatements.org" in xmp
    assert "DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/" in xmp
    tampered = c2pa_read(
        data=_flip(data, 0.97 if fmt == "jpeg" else 0.6),
        media_type=media_type,
        trust_anchors=signing / "ca.pem",
    )
    assert tampered["state"] == "Invalid"


def test_prov_carries_identity_evidence_and_a_local_context(researched, client):
    made = researched["made"]
    data = json.loads(lineage_prov(artifact_id=made.pk, fmt="json"))
    master = data["entity"][f"artifact:{researched['photo'].master_id}"]
    assert master["pa:title"] == "Lu Xun, Xiamen 1926"
    assert master["pa:accessionNumber"] == "ACC-17"
    assert master["pa:repository"] == "Lu Xun Museum"
    citations = [e for k, e in data["entity"].items() if k.startswith("citation:")]
    assert [c["pa:claim"] for c in citations] == ["the collar was dark blue"]
    sources = [e for k, e in data["entity"].items() if k.startswith("source:")]
    assert [s["pa:title"] for s in sources] == ["Interview with Zhou Haiying"]
    roles = {
        u["prov:role"]
        for u in data["used"].values()
        if u["prov:activity"] == f"step:{made.generated_by_id}"
    }
    assert {"citation", "source", "reference"} <= {
        r if isinstance(r, str) else r["$"] for r in roles
    }
    jsonld = lineage_prov(artifact_id=made.pk, fmt="jsonld")
    assert "openprovenance.org" not in jsonld
    assert "/api/v1/prov/context.jsonld" in jsonld
    response = client.get("/api/v1/prov/context.jsonld")
    assert response.status_code == 200
    assert "@context" in response.json()
