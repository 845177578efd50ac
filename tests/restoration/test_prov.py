from __future__ import annotations

import io
import json

import prov
import pytest

from archive.models import Citation, ReferenceImage, Source
from restoration.exports.prov import lineage_prov, prov_counts
from restoration.models import ModelWeights
from restoration.selectors import lineage_ancestors
from tests.restoration.lineage_support import derive, master

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The ``user`` fixture hashes a password; the default hasher costs ~0.5 s per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def lineage(user):
    scan = master(1)
    other = master(2)
    weights = ModelWeights.objects.create(
        name="ddcolor", sha256="ab" * 32, architecture="DDColor", purpose="colorize", path="/x"
    )
    source = Source.objects.create(title="Interview with X, 1987")
    citation = Citation.objects.create(
        source=source, locator="p. 12", quote="the collar was dark blue"
    )
    reference = ReferenceImage.objects.create(artifact=other, title="Period colour photo")
    denoised = derive(scan, 3, user=user)
    final = derive(
        [("image", denoised), ("reference", other)],
        4,
        operation="colorize",
        kind="ai",
        weights=weights,
        user=user,
        on_behalf_of="Museum X",
        citation_ids=[citation.pk],
        reference_ids=[reference.pk],
        rationale="colour from the cited interview",
    )
    return final


@pytest.mark.parametrize("fmt", ["json", "provn", "jsonld"])
def test_prov_round_trip_counts_match_the_lineage(lineage, fmt):
    graph = lineage_ancestors(artifact_id=lineage.pk)
    text = lineage_prov(artifact_id=lineage.pk, fmt=fmt)
    doc = prov.read(io.StringIO(text), format=fmt)
    counts = prov_counts(doc.get_records())
    # 4 artifacts + 1 model weights + 1 citation + its source + 1 reference image
    assert counts["Entity"] == len(graph.artifacts) + 4 == 8
    assert counts["Activity"] == len(graph.steps) == 4  # two ingests, denoise, colorize
    assert counts["Agent"] == 3  # the software, the restorer, the principal
    assert (
        counts["Usage"] == 1 + 2 + 4
    )  # denoise: image; colorize: image, reference + model, citation, source, reference image
    assert counts["Generation"] == 4
    assert counts["Derivation"] == 1 + 2 + 1  # + the citation from its source
    assert counts["Association"] == 4 + 2  # software for every step, the user for two
    assert counts["Delegation"] == 1
    if fmt == "json":
        data = json.loads(text)
        activity = data["activity"][f"step:{lineage.generated_by_id}"]
        assert activity["pa:operation"] == "colorize"
        assert json.loads(activity["pa:parameters"]) == lineage.generated_by.parameters
        assert activity["pa:recordHash"] == lineage.generated_by.record_hash


def test_unknown_format_is_refused(lineage):
    with pytest.raises(ValueError):
        lineage_prov(artifact_id=lineage.pk, fmt="xml")


def test_provn_names_the_relations(lineage):
    text = lineage_prov(artifact_id=lineage.pk, fmt="provn")
    for word in (
        "entity(artifact:",
        "activity(step:",
        "used(step:",
        "wasGeneratedBy(artifact:",
        "wasDerivedFrom(artifact:",
        "wasAssociatedWith(step:",
        "actedOnBehalfOf(user:",
    ):
        assert word in text
