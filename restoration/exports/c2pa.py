"""C2PA Content Credentials: an artifact exported as JPEG or PNG with a signed manifest that
describes its whole lineage.

- The master scan the image descends from is the ``parentOf`` ingredient (the builder's EDIT
  intent adds the ``c2pa.opened`` action that points at it).
- Reference images a step relied on (its evidence snapshots, and inputs in the ``reference``
  role) are ``inputTo`` ingredients (consulted, not composited in), linked from that step's
  action through ``ingredientIds``.
- Each action names the evidence it relied on (``parameters.evidence``: citation and
  reference ids at their revisions) with a human-readable ``description``; the
  ``org.photo-archive.evidence`` assertion holds the snapshots themselves (citations with their
  sources, references), exactly as hashed into each step's record (record version 2).
- The master's catalogue identity (title, accession number, repository, rights, photographer)
  is a ``stds.schema-org.CreativeWork`` assertion; the exported JPEG or PNG also carries XMP
  (``dc:title``, ``dc:rights``, ``photoshop:Credit``, ``Iptc4xmpExt:DigitalSourceType``).
- Every non-ingest step of the lineage is one action, in order: a ``c2pa.*`` action name that
  fits the operation, ``softwareAgent`` (operation and version), ``when``, the IPTC
  ``digitalSourceType`` (AI steps: ``compositeWithTrainedAlgorithmicMedia``, i.e. detail a
  trained model generated; classical steps: ``algorithmicallyEnhanced``; manual steps:
  ``humanEdits``) and parameters with the model's sha256, the step parameters and its
  record_hash.
- A ``org.photo-archive.lineage`` assertion lists the record hashes, so the manifest can be
  matched with the JSON lineage export and ``verify``.

Signing is offline (no timestamp authority). ``python manage.py c2pa_init`` makes a development
CA and leaf; production points ``C2PA_CERT_CHAIN``/``C2PA_PRIVATE_KEY`` at real material.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Any, Literal

import c2pa
from django.conf import settings
from django.core.files.storage import default_storage

from restoration import imagefile
from restoration.evidence import catalogue_identity, evidence_used
from restoration.exports import ancestor_graph
from restoration.hashing import RECORD_VERSION
from restoration.models import Artifact, Step
from restoration.selectors import LineageGraph
from restoration.services import PROJECT_VERSION

ExportFormat = Literal["jpeg", "png"]
MEDIA_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png"}
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SOURCE_TYPE_BY_KIND = {
    "ai": IPTC + "compositeWithTrainedAlgorithmicMedia",
    "classical": IPTC + "algorithmicallyEnhanced",
    "manual": IPTC + "humanEdits",
}
ACTION_BY_OPERATION = {
    "denoise": "c2pa.filtered",
    "sharpen": "c2pa.filtered",
    "descratch": "c2pa.edited",
    "clahe": "c2pa.color_adjustments",
    "colorize": "c2pa.color_adjustments",
    "colorize_hints": "c2pa.color_adjustments",
    "color_transfer": "c2pa.color_adjustments",
    "grayscale": "c2pa.color_adjustments",
    "upscale": "c2pa.resized",
    "sr": "c2pa.resized",
    "crop": "c2pa.cropped",
    "rotate": "c2pa.orientation",
    "face_restore": "c2pa.edited",
    "manual_retouch": "c2pa.edited",
}
EVIDENCE_LABEL = "org.photo-archive.evidence"
LINEAGE_LABEL = "org.photo-archive.lineage"
# One assertion per step that checked faces: org.photo-archive.identity.step<id> (issue 22).
IDENTITY_LABEL = "org.photo-archive.identity"


class C2paNotConfigured(RuntimeError):
    """No signing material: run ``python manage.py c2pa_init`` or set C2PA_CERT_CHAIN/KEY."""


# --- signing material -------------------------------------------------------------------------


def signing_material_create(
    *,
    cert_chain: Path,
    private_key: Path,
    trust_anchors: Path,
    organization: str = "Photo archive (development)",
    force: bool = False,
) -> None:
    """A development CA (P-256) and a leaf it signs, as C2PA validators require: the leaf has
    KeyUsage digitalSignature, ExtendedKeyUsage emailProtection, an AuthorityKeyIdentifier and
    an Organization. Writes the chain (leaf + CA), the leaf key (0600) and the CA (the trust
    anchor a reader needs to call the result ``Trusted``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    existing = [p for p in (cert_chain, private_key, trust_anchors) if p.exists()]
    if existing and not force:
        raise FileExistsError(f"signing material already exists: {', '.join(map(str, existing))}")
    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            ]
        )

    def usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"{organization} signing CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(sign=False, ca=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name(f"{organization} content credentials"))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=True, ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    for path in (cert_chain, private_key, trust_anchors):
        path.parent.mkdir(parents=True, exist_ok=True)
    cert_chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    trust_anchors.write_bytes(ca.public_bytes(pem))
    key_bytes = leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(private_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_bytes)


def _signer() -> c2pa.Signer:
    chain, key = Path(settings.C2PA_CERT_CHAIN), Path(settings.C2PA_PRIVATE_KEY)
    if not chain.is_file() or not key.is_file():
        raise C2paNotConfigured(
            f"no C2PA signing material at {chain} / {key}: run `python manage.py c2pa_init` "
            "or set C2PA_CERT_CHAIN and C2PA_PRIVATE_KEY"
        )
    key_pem = key.read_bytes()
    info = c2pa.C2paSignerInfo(_algorithm(key_pem), chain.read_bytes(), key_pem, None)
    return c2pa.Signer.from_info(info)


def _algorithm(key_pem: bytes) -> c2pa.C2paSigningAlg:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(key_pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: c2pa.C2paSigningAlg.ES256, 384: c2pa.C2paSigningAlg.ES384}.get(
            key.curve.key_size, c2pa.C2paSigningAlg.ES512
        )
    if isinstance(key, rsa.RSAPrivateKey):
        return c2pa.C2paSigningAlg.PS256
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return c2pa.C2paSigningAlg.ED25519
    raise C2paNotConfigured(f"unsupported C2PA signing key type {type(key).__name__}")


# --- manifest ---------------------------------------------------------------------------------


def _read(artifact: Artifact) -> bytes:
    with default_storage.open(artifact.storage_key, "rb") as fh:
        return fh.read()


def _ingredient(
    builder: c2pa.Builder, artifact: Artifact, *, title: str, relationship: str, label: str
) -> None:
    # Streamed from storage: a master scan can be a gigabyte TIFF.
    with default_storage.open(artifact.storage_key, "rb") as fh:
        builder.add_ingredient(
            {"title": title, "relationship": relationship, "label": label}, artifact.media_type, fh
        )


def _image_bytes(artifact: Artifact, fmt: ExportFormat) -> tuple[bytes, bool]:
    """The bytes to sign: the artifact itself when it already is in that format, else a
    re-encoding (reported as a ``c2pa.transcoded`` action). Returns (bytes, transcoded)."""
    data = _read(artifact)
    if artifact.media_type == MEDIA_TYPES[fmt]:
        return data, False
    array = imagefile.decode_rgb_or_grey(data, max_pixels=settings.ARCHIVE_MAX_PIXELS)
    if fmt == "png":
        return imagefile.encode_png(array), True
    from PIL import Image

    if array.dtype.itemsize == 2:
        array = (array >> 8).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=95, subsampling=0)
    return buf.getvalue(), True


def _parent(graph: LineageGraph) -> Artifact:
    """The master the image descends from: follow each step's main (``image``) input back."""
    current = graph.root
    while True:
        step = graph.generating_step(current.pk)
        inputs = graph.parts[step.pk].inputs if step is not None else []
        if not inputs:
            return current
        main = sorted(inputs, key=lambda i: (i.role != "image", i.role, i.position))[0]
        current = graph.artifacts[main.artifact_id]


def evidence_description(evidence: dict[str, Any]) -> str:
    """One line a person can read: what the step relied on."""
    parts = []
    for c in evidence.get("citations", []):
        if c.get("withheld"):
            parts.append("a citation you may not see (withheld)")
            continue
        src = c.get("source", {})
        where = ", ".join(x for x in (src.get("title", ""), c.get("locator", "")) if x)
        claim = c.get("claim") or c.get("quote") or "citation"
        parts.append(f"\u201c{claim}\u201d ({where}; {c.get('confidence', '')})")
    for r in evidence.get("references", []):
        if r.get("withheld"):
            parts.append("a reference image you may not see (withheld)")
            continue
        parts.append(f"reference image \u201c{r.get('title') or r.get('sha256', '')[:12]}\u201d")
    return "relied on: " + "; ".join(parts) if parts else ""


def _evidence_ref(evidence: dict[str, Any]) -> dict[str, Any]:
    def ref(item: dict[str, Any]) -> dict[str, Any]:
        if item.get("withheld"):
            return {"withheld": True, "sha256": item["sha256"]}
        return {"id": item["id"], "revision": item.get("revision")}

    return {
        "citations": [ref(c) for c in evidence.get("citations", [])],
        "references": [ref(r) for r in evidence.get("references", [])],
    }


def _action(
    step: Step, ingredient_ids: list[str], evidence: dict[str, Any] | None = None
) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "operation": step.operation,
        "operation_version": step.operation_version,
        "step_id": step.pk,
        "record_hash": step.record_hash,
        "parameters": step.parameters,
    }
    if step.model_sha256:
        parameters["model"] = {"sha256": step.model_sha256, "architecture": step.model_architecture}
    if step.actor:
        parameters["actor"] = step.actor
    if step.rationale:
        parameters["rationale"] = step.rationale
    if ingredient_ids:
        parameters["ingredientIds"] = ingredient_ids
    if evidence and (evidence.get("citations") or evidence.get("references")):
        parameters["evidence"] = _evidence_ref(evidence)
        parameters["description"] = evidence_description(evidence)
    action: dict[str, Any] = {
        "action": ACTION_BY_OPERATION.get(step.operation, "c2pa.edited"),
        "when": step.ended_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "softwareAgent": {
            "name": f"photo-archive {step.operation}",
            "version": step.operation_version,
        },
        "parameters": parameters,
    }
    source_type = SOURCE_TYPE_BY_KIND.get(step.kind)
    if source_type:
        action["digitalSourceType"] = source_type
    return action


def creative_work(identity: dict[str, Any]) -> dict[str, Any] | None:
    """The catalogue identity as a schema.org CreativeWork assertion (None without one)."""
    if not identity:
        return None
    data: dict[str, Any] = {"@context": "https://schema.org", "@type": "CreativeWork"}
    if identity.get("title"):
        data["name"] = identity["title"]
    if identity.get("accession_number"):
        data["identifier"] = identity["accession_number"]
    if identity.get("repository"):
        data["provider"] = {"@type": "Organization", "name": identity["repository"]}
        data["creditText"] = identity["repository"]
    if identity.get("rights"):
        data["copyrightNotice"] = identity["rights"]
        if str(identity["rights"]).startswith("http"):
            data["license"] = identity["rights"]
    if identity.get("photographer"):
        data["author"] = [{"@type": "Person", "name": identity["photographer"]}]
    if identity.get("date"):
        data["dateCreated"] = identity["date"]
    if identity.get("place"):
        data["contentLocation"] = {"@type": "Place", "name": identity["place"]}
    return {"label": "stds.schema-org.CreativeWork", "data": data, "kind": "Json"}


def evidence_assertion(
    graph: LineageGraph, evidence_by_step: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    return {
        "label": EVIDENCE_LABEL,
        "data": {
            "record_version": RECORD_VERSION,
            "steps": [
                {
                    "step": step_id,
                    "record_hash": graph.steps[step_id].record_hash,
                    "record_version": graph.steps[step_id].record_version,
                    "citations": ev.get("citations", []),
                    "references": ev.get("references", []),
                }
                for step_id, ev in evidence_by_step.items()
                if ev.get("citations") or ev.get("references")
            ],
        },
    }


def identity_assertions(graph: LineageGraph) -> list[dict[str, Any]]:
    """Per step whose input showed faces: its identity check as recorded (hashed) in the step,
    so a reader of the file sees which faces stayed the same person and which did not."""
    assertions = []
    for step in graph.steps.values():
        if not isinstance(step.identity, dict) or not step.identity:
            continue
        assertions.append(
            {
                "label": f"{IDENTITY_LABEL}.step{step.pk}",
                "data": {
                    "step": step.pk,
                    "operation": step.operation,
                    "record_hash": step.record_hash,
                    "verdict": step.identity_verdict or None,
                    **step.identity,
                },
            }
        )
    return assertions


def _manifest(
    graph: LineageGraph,
    title: str,
    *,
    identity: dict[str, Any] | None = None,
    evidence_by_step: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    extra = [evidence_assertion(graph, evidence_by_step or {}), *identity_assertions(graph)]
    work = creative_work(identity or {})
    if work is not None:
        extra.append(work)
    return {
        "claim_generator_info": [{"name": "photo-archive", "version": PROJECT_VERSION}],
        "title": title,
        "assertions": extra
        + [
            {
                "label": LINEAGE_LABEL,
                "data": {
                    "record_version": RECORD_VERSION,
                    "artifact": {"id": graph.root.pk, "sha256": graph.root.sha256},
                    "steps": [
                        {"id": s.pk, "operation": s.operation, "record_hash": s.record_hash}
                        for s in graph.steps.values()
                    ],
                },
            }
        ],
    }


def artifact_export_c2pa(
    *,
    graph: LineageGraph | None = None,
    artifact_id: int | None = None,
    fmt: ExportFormat = "jpeg",
    evidence_view: Any = None,
) -> bytes:
    """The artifact (the root of ``graph``, or ``artifact_id``) as a JPEG or PNG file with an
    embedded, signed C2PA manifest describing its lineage. Raises ``Artifact.DoesNotExist``,
    ``ValueError`` (format), ``C2paNotConfigured`` and ``c2pa.C2paError``."""
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"format must be one of {', '.join(MEDIA_TYPES)}, not {fmt!r}")
    graph = ancestor_graph(graph, artifact_id)
    root = graph.root
    image, transcoded = _image_bytes(root, fmt)
    media_type = MEDIA_TYPES[fmt]
    parent = _parent(graph)
    identity = catalogue_identity([parent.pk]).get(parent.pk, {})
    evidence_by_step: dict[int, dict[str, Any]] = {}
    for step in graph.steps.values():
        ev = evidence_used(step, graph.parts[step.pk])
        evidence_by_step[step.pk] = evidence_view(ev) if evidence_view is not None else ev
    image = embed_xmp(image, fmt, xmp_packet(identity, digital_source_type(graph, identity)))
    signer = _signer()
    try:
        context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
        manifest = _manifest(
            graph,
            identity.get("title") or f"artifact-{root.pk}.{fmt}",
            identity=identity,
            evidence_by_step=evidence_by_step,
        )
        builder = c2pa.Builder(manifest, context=context)
        builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        _ingredient(
            builder,
            parent,
            title=f"master scan {parent.sha256[:12]} (artifact {parent.pk})",
            relationship="parentOf",
            label="master",
        )
        added: set[str] = set()
        for step in graph.steps.values():
            if step.kind == "ingest":
                continue
            labels = _add_references(builder, graph, step, added, evidence_by_step[step.pk])
            builder.add_action(_action(step, labels, evidence_by_step[step.pk]))
        if transcoded:
            builder.add_action(
                {
                    "action": "c2pa.transcoded",
                    "softwareAgent": {"name": "photo-archive export", "version": PROJECT_VERSION},
                    "parameters": {"from": root.media_type, "to": media_type},
                }
            )
        dest = io.BytesIO()
        builder.sign(signer, media_type, io.BytesIO(image), dest)
        return dest.getvalue()
    finally:
        signer.close()


def _add_references(
    builder: c2pa.Builder,
    graph: LineageGraph,
    step: Step,
    added: set[str],
    evidence: dict[str, Any] | None = None,
) -> list[str]:
    """Reference images a step relied on become ``inputTo`` ingredients (once each): the file
    named by the step's snapshot (its sha256 then), not whatever the reference points at now.
    Returns their labels."""
    labels = []
    parts = graph.parts[step.pk]
    snapshots = (evidence or {}).get("references", [])
    by_sha = {
        a.sha256: a
        for a in Artifact.objects.filter(
            sha256__in=[r["sha256"] for r in snapshots if not r.get("withheld")]
        )
    }
    refs = [
        (
            f"reference-{r['id']}",
            by_sha[r["sha256"]],
            r.get("title") or f"reference image {r['id']}",
        )
        for r in snapshots
        if not r.get("withheld") and r["sha256"] in by_sha
    ]
    refs += [
        (
            f"artifact-{i.artifact_id}",
            graph.artifacts[i.artifact_id],
            f"reference artifact {i.artifact_id}",
        )
        for i in parts.inputs
        if i.role == "reference"
    ]
    for label, artifact, title in refs:
        if label not in added:
            _ingredient(builder, artifact, title=title, relationship="inputTo", label=label)
            added.add(label)
        labels.append(label)
    return labels


# --- XMP (IPTC) embedded in the exported file -------------------------------------------------

_CARRIER_SOURCE = {
    "print": "print",
    "carte": "print",
    "tintype": "print",
    "daguerreotype": "print",
    "negative": "negativeFilm",
    "glass_plate": "negativeFilm",
    "film": "negativeFilm",
    "slide": "positiveFilm",
    "digital": "digitalCapture",
}


def digital_source_type(graph: LineageGraph, identity: dict[str, Any]) -> str:
    """The IPTC digital source type of the exported image: the strongest kind of step in its
    lineage, or, for an untouched master, how it was digitised (its carrier)."""
    kinds = {s.kind for s in graph.steps.values()}
    if "synthetic" in kinds:
        return IPTC + "trainedAlgorithmicMedia"
    for kind in ("ai", "manual", "classical"):
        if kind in kinds:
            return SOURCE_TYPE_BY_KIND[kind]
    return IPTC + _CARRIER_SOURCE.get(str(identity.get("carrier", "")), "digitalCapture")


def _xml(text: Any) -> str:
    from xml.sax.saxutils import escape

    return escape(str(text), {'"': "&quot;"})


def xmp_packet(identity: dict[str, Any], source_type: str) -> bytes:
    """An XMP packet with the catalogue identity: title, rights, credit, identifier, creator
    and the IPTC digital source type."""
    fields = []
    if identity.get("title"):
        fields.append(
            '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">'
            f"{_xml(identity['title'])}</rdf:li></rdf:Alt></dc:title>"
        )
    if identity.get("rights"):
        fields.append(
            '<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">'
            f"{_xml(identity['rights'])}</rdf:li></rdf:Alt></dc:rights>"
        )
        if str(identity["rights"]).startswith("http"):
            fields.append(
                f"<xmpRights:WebStatement>{_xml(identity['rights'])}</xmpRights:WebStatement>"
            )
    credit = identity.get("repository") or "photo-archive"
    fields.append(f"<photoshop:Credit>{_xml(credit)}</photoshop:Credit>")
    if identity.get("accession_number"):
        fields.append(f"<dc:identifier>{_xml(identity['accession_number'])}</dc:identifier>")
    if identity.get("photographer"):
        fields.append(
            "<dc:creator><rdf:Seq><rdf:li>"
            f"{_xml(identity['photographer'])}</rdf:li></rdf:Seq></dc:creator>"
        )
    fields.append(
        f"<Iptc4xmpExt:DigitalSourceType>{_xml(source_type)}</Iptc4xmpExt:DigitalSourceType>"
    )
    body = "".join(fields)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
        ' xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"'
        ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f"{body}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def embed_xmp(data: bytes, fmt: str, packet: bytes) -> bytes:
    """Insert an XMP packet without touching the image data: a JPEG APP1 segment after the
    SOI (and JFIF APP0), a PNG iTXt chunk after IHDR."""
    import struct
    import zlib

    if fmt == "jpeg":
        if data[:2] != b"\xff\xd8":
            return data
        segment = b"http://ns.adobe.com/xap/1.0/\x00" + packet
        app1 = b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment
        pos = 2
        if data[2:4] == b"\xff\xe0":  # keep JFIF first
            pos = 4 + struct.unpack(">H", data[4:6])[0]
        return data[:pos] + app1 + data[pos:]
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return data
    ihdr_end = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4
    chunk_data = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet
    chunk = (
        struct.pack(">I", len(chunk_data))
        + b"iTXt"
        + chunk_data
        + struct.pack(">I", zlib.crc32(b"iTXt" + chunk_data) & 0xFFFFFFFF)
    )
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def c2pa_signer() -> c2pa.Signer:
    """The archive's C2PA signer (for other exporters, e.g. video): close it after use."""
    return _signer()


# --- reading ----------------------------------------------------------------------------------


def c2pa_read(*, data: bytes, media_type: str, trust_anchors: Path | None = None) -> dict[str, Any]:
    """Read and validate the Content Credentials of a file.

    With ``trust_anchors`` (PEM) the signer's chain is checked against them: our own exports
    read ``Trusted``; without, ``Valid`` (with ``signingCredential.untrusted``). Tampered
    content reads ``Invalid``. Returns ``{"state", "manifest", "results"}``; ``state`` is None
    when the file carries no manifest."""
    config: dict[str, Any] = {}
    if trust_anchors is not None:
        config = {
            "trust": {"trust_anchors": trust_anchors.read_text()},
            "verify": {"verify_trust": True},
        }
    context = c2pa.Context.from_dict(config) if config else c2pa.Context()
    reader = c2pa.Reader.try_create(media_type, io.BytesIO(data), None, context)
    if reader is None:
        return {"state": None, "manifest": None, "results": None}
    with reader:
        return {
            "state": reader.get_validation_state(),
            "manifest": reader.get_active_manifest(),
            "results": reader.get_validation_results(),
            "store": json.loads(reader.json()),
        }
