"""IIIF Presentation API 3 manifests (per photo) and collections (per figure), built with
``iiif-prezi3``. Callers hand in what the user may see (``access`` decides); this module only
describes it. Labels and metadata names are given in English and Simplified Chinese."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import iiif_prezi3 as p

from interop.models import TileSet
from restoration.models import Artifact

# (English, Simplified Chinese)
LABELS: dict[str, tuple[str, str]] = {
    "archive": ("Photo restoration archive", "照片修复档案馆"),
    "master": ("Untouched master scan", "未经改动的原始扫描"),
    "approved": ("Approved restoration", "已批准的修复版本"),
    "restoration": ("Restoration", "修复版本"),
    "ai": ("made with AI", "使用人工智能制作"),
    "synthetic": ("generated media, not a restoration", "生成的媒体，并非修复"),
    "title": ("Title", "标题"),
    "date": ("Date", "日期"),
    "place": ("Place", "地点"),
    "photographer": ("Photographer / studio", "摄影者 / 照相馆"),
    "repository": ("Holding repository", "收藏机构"),
    "accession": ("Accession number", "登录号"),
    "carrier": ("Physical carrier", "载体"),
    "figures": ("Figures shown", "人物"),
    "description": ("Description", "描述"),
    "rights": ("Rights", "权利"),
    "attribution": ("Attribution", "署名"),
    "operation": ("Operation", "操作"),
    "sha256": ("SHA-256", "SHA-256"),
    "prov": ("W3C PROV lineage (PROV-JSON)", "W3C PROV 谱系 (PROV-JSON)"),
    "c2pa": ("Image with C2PA Content Credentials", "带 C2PA 内容凭证的图像"),
    "lineage": ("Lineage back to the master scan (JSON)", "追溯至原始扫描的谱系 (JSON)"),
    "figure_collection": ("Photographs of {name}", "{name} 的照片"),
    "page": ("Catalogue page", "目录页面"),
    "fps": ("Original frame rate", "原始帧率"),
}


def lang(key: str, **fmt: str) -> dict[str, list[str]]:
    en, zh = LABELS[key]
    return {"en": [en.format(**fmt)], "zh-Hans": [zh.format(**fmt)]}


def _value(text: str) -> dict[str, list[str]]:
    return {"none": [text]}


def is_rights_uri(text: str) -> bool:
    return text.startswith(
        (
            "http://creativecommons.org/",
            "https://creativecommons.org/",
            "http://rightsstatements.org/",
            "https://rightsstatements.org/",
        )
    )


def photo_manifest(
    *,
    photo: Any,
    figures: Sequence[Any],
    canvases: Sequence[tuple[str, Artifact]],
    url: Callable[[str], str],
    route: str = "photos",
) -> p.Manifest:
    """``canvases``: (kind, artifact) pairs in order: "master", "approved", "restoration".
    ``url`` makes an absolute URL of a path. A film (``route="films"``) is described the same
    way, its canvases with a duration and a video body."""
    manifest_id = url(f"/iiif/{route}/{photo.pk}/manifest.json")
    label = {"en": [photo.title], "zh-Hans": [photo.title]}
    manifest = p.Manifest(id=manifest_id, label=label)
    metadata = [p.KeyValueString(label=lang("title"), value=_value(photo.title))]
    for key, value in (
        ("date", photo.date),
        ("place", photo.place),
        ("photographer", getattr(photo, "photographer", "") or getattr(photo, "maker", "")),
        ("fps", getattr(photo, "original_fps", "")),
        ("repository", photo.repository),
        ("accession", photo.accession_number),
        ("carrier", photo.get_carrier_display()),
        ("description", photo.description),
    ):
        if value:
            metadata.append(p.KeyValueString(label=lang(key), value=_value(str(value))))
    if figures:
        names = ", ".join(f.name for f in figures)
        metadata.append(p.KeyValueString(label=lang("figures"), value=_value(names)))
    if photo.rights_statement and not is_rights_uri(photo.rights_statement):
        metadata.append(
            p.KeyValueString(label=lang("rights"), value=_value(photo.rights_statement))
        )
    manifest.metadata = metadata
    if photo.rights_statement and is_rights_uri(photo.rights_statement):
        manifest.rights = photo.rights_statement
    maker = getattr(photo, "photographer", "") or getattr(photo, "maker", "")
    credit = " · ".join(x for x in (maker, photo.repository, LABELS["archive"][0]) if x)
    manifest.requiredStatement = p.KeyValueString(label=lang("attribution"), value=_value(credit))
    manifest.provider = [
        p.Provider(
            id=url("/"),
            type="Agent",
            label=lang("archive"),
            homepage=[
                p.Homepage(id=url("/"), type="Text", label=lang("archive"), format="text/html")
            ],
        )
    ]
    manifest.homepage = [
        p.Homepage(
            id=url(f"/{route}/{photo.pk}/"), type="Text", label=lang("page"), format="text/html"
        )
    ]
    manifest.summary = lang("master")
    items = []
    for index, (kind, artifact) in enumerate(canvases, start=1):
        items.append(_canvas(manifest_id, index, kind, artifact, url))
    manifest.items = items
    if canvases:
        first = canvases[0][1]
        manifest.seeAlso = _see_also(first, url)
        manifest.thumbnail = [_thumbnail(first, url)]
    return manifest


def _canvas(
    manifest_id: str, index: int, kind: str, artifact: Artifact, url: Callable[[str], str]
) -> p.Canvas:
    canvas_id = f"{manifest_id.removesuffix('/manifest.json')}/canvas/{index}"
    label = lang(kind)
    if kind != "master":
        step = artifact.generated_by
        op = step.operation if step is not None else ""
        label = {k: [f"{v[0]} #{artifact.pk}{f' ({op})' if op else ''}"] for k, v in label.items()}
        if step is not None and step.kind in ("ai", "synthetic"):  # said in both languages
            marker = lang(step.kind)
            label = {k: [f"{v[0]} · {marker[k][0]}"] for k, v in label.items()}
    canvas = p.Canvas(id=canvas_id, label=label, width=artifact.width, height=artifact.height)
    tileset = TileSet.objects.filter(artifact=artifact, status=TileSet.Status.READY).first()
    service_id = url(f"/iiif/images/{artifact.pk}")
    if artifact.media_type.startswith("video/"):
        canvas.duration = float(artifact.duration or 0.0) or None
        body = _video_body(artifact, url)
    elif tileset is not None:
        body = p.AnnotationBody(
            id=f"{service_id}/full/max/0/default.jpg",
            type="Image",
            format="image/jpeg",
            width=artifact.width,
            height=artifact.height,
            service=[p.ServiceV3(id=service_id, type="ImageService3", profile="level0")],
        )
    else:  # small enough to be shown whole: the stored file itself
        body = p.AnnotationBody(
            id=url(f"/artifacts/{artifact.pk}/file/"),
            type="Image",
            format=artifact.media_type,
            width=artifact.width,
            height=artifact.height,
        )
    annotation = p.Annotation(
        id=f"{canvas_id}/annotation/1", motivation="painting", body=body, target=canvas_id
    )
    canvas.items = [p.AnnotationPage(id=f"{canvas_id}/page/1", items=[annotation])]
    canvas.metadata = [
        p.KeyValueString(label=lang("sha256"), value=_value(artifact.sha256)),
    ]
    if artifact.generated_by is not None:
        canvas.metadata.append(
            p.KeyValueString(label=lang("operation"), value=_value(artifact.generated_by.operation))
        )
    canvas.seeAlso = _see_also(artifact, url)
    canvas.thumbnail = [_thumbnail(artifact, url)]
    return canvas


def _video_body(artifact: Artifact, url: Callable[[str], str]) -> p.AnnotationBody:
    """The H.264 access proxy when one was made (browsers play it), else the stored file."""
    from django.core.files.storage import default_storage

    from restoration.services import proxy_key

    if default_storage.exists(proxy_key(artifact.sha256)):
        target, fmt = url(f"/artifacts/{artifact.pk}/proxy.mp4"), "video/mp4"
    else:
        target, fmt = url(f"/artifacts/{artifact.pk}/file/"), artifact.media_type
    return p.AnnotationBody(
        id=target,
        type="Video",
        format=fmt,
        width=artifact.width,
        height=artifact.height,
        duration=float(artifact.duration or 0.0) or None,
    )


def _thumbnail(artifact: Artifact, url: Callable[[str], str]) -> p.AnnotationBody:
    return p.AnnotationBody(
        id=url(f"/artifacts/{artifact.pk}/preview.jpg"), type="Image", format="image/jpeg"
    )


def _see_also(artifact: Artifact, url: Callable[[str], str]) -> list[p.LinkedResource]:
    base = f"/api/v1/artifacts/{artifact.pk}"
    return [
        p.LinkedResource(
            id=url(f"{base}/prov/?format=json"),
            type="Dataset",
            format="application/json",
            profile="http://www.w3.org/ns/prov#",
            label=lang("prov"),
        ),
        p.LinkedResource(
            id=url(f"{base}/export/?format=jpeg"),
            type="Image",
            format="image/jpeg",
            profile="https://c2pa.org/specifications/",
            label=lang("c2pa"),
        ),
        p.LinkedResource(
            id=url(f"{base}/lineage/"),
            type="Dataset",
            format="application/json",
            label=lang("lineage"),
        ),
    ]


def figure_collection(
    *, figure: Any, photos: Sequence[Any], url: Callable[[str], str]
) -> p.Collection:
    collection = p.Collection(
        id=url(f"/iiif/figures/{figure.pk}/collection.json"),
        label=lang("figure_collection", name=figure.name),
    )
    collection.provider = [p.Provider(id=url("/"), type="Agent", label=lang("archive"))]
    collection.items = [
        p.ManifestRef(
            id=url(f"/iiif/photos/{photo.pk}/manifest.json"),
            type="Manifest",
            label={"en": [photo.title], "zh-Hans": [photo.title]},
        )
        for photo in photos
    ]
    return collection
