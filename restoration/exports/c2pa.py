"""C2PA Content Credentials: an artifact exported as JPEG or PNG with a signed manifest that
describes its whole lineage.

- The master scan the image descends from is the ``parentOf`` ingredient (the builder's EDIT
  intent adds the ``c2pa.opened`` action that points at it).
- Reference images a step relied on are ``componentOf`` ingredients, linked from that step's
  action through ``ingredientIds``.
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
LINEAGE_LABEL = "org.photo-archive.lineage"


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


def _action(step: Step, ingredient_ids: list[str]) -> dict[str, Any]:
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


def _manifest(graph: LineageGraph, title: str) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "photo-archive", "version": PROJECT_VERSION}],
        "title": title,
        "assertions": [
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
    signer = _signer()
    try:
        context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
        builder = c2pa.Builder(_manifest(graph, f"artifact-{root.pk}.{fmt}"), context=context)
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
            labels = _add_references(builder, graph, step, added)
            builder.add_action(_action(step, labels))
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
    builder: c2pa.Builder, graph: LineageGraph, step: Step, added: set[str]
) -> list[str]:
    """Reference images a step relied on become ingredients (once each); returns their labels."""
    labels = []
    parts = graph.parts[step.pk]
    refs = [
        (f"reference-{r.pk}", r.artifact, r.title or f"reference image {r.pk}")
        for r in parts.references
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
            _ingredient(builder, artifact, title=title, relationship="componentOf", label=label)
            added.add(label)
        labels.append(label)
    return labels


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
