"""A small catalogue for the page tests, built through the real services (Chinese names,
citations, a restricted photo and figure, a master scan and a classical restoration)."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.contrib.auth.models import Group, User
from PIL import Image

from archive.models import Citation, Figure, Note, Photo, ReferenceImage, Source
from archive.services import figure_create, photo_ingest
from restoration.models import Artifact, ModelWeights
from restoration.services import NewInput, output_from_array, step_record

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
PASSWORD = "pw-restorer-1"


def scan_bytes(seed: int = 0, size: tuple[int, int] = (160, 200)) -> bytes:
    """A corpus scan when the shared corpus is there (real pictures make useful screenshots),
    else a synthetic "portrait" with a scratch."""
    corpus_file = CORPUS / "old_w_scratch_b.png"
    if seed == 0 and corpus_file.is_file():
        return corpus_file.read_bytes()
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    yy, xx = np.mgrid[0:h, 0:w]
    face = ((xx - w / 2) ** 2 / (w / 3.2) ** 2 + (yy - h / 2.4) ** 2 / (h / 3.5) ** 2) < 1
    grey = np.where(face, 170, 90) + rng.normal(0, 12, (h, w))
    grey[:, w // 3] = 250  # a vertical scratch
    img = np.clip(np.stack([grey * 1.05, grey, grey * 0.85], axis=2), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Catalogue:
    restorer: User
    viewer: User
    figure: Figure
    photo: Photo
    restricted_photo: Photo
    restricted_figure: Figure
    citation: Citation
    reference: ReferenceImage


def ensure_roles() -> None:
    """The role groups (archive.roles); post_migrate restores them after a flush as well."""
    from django.contrib.auth.models import Permission

    from archive.roles import roles_ensure

    roles_ensure(Group, Permission)


def make_user(username: str, *groups: str) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def build_catalogue() -> Catalogue:
    ensure_roles()
    restorer = make_user("restorer", "restorer", "auditor")
    viewer = make_user("viewer", "viewer")
    source = Source.objects.create(
        kind=Source.Kind.INTERVIEW, title="Interview with Zhou Haiying", author="X", date="1987"
    )
    figure = figure_create(
        name="Lu Xun",
        birth_date="1881-09-25",
        death_date="1936-10-19",
        biography="Writer. 中国现代文学的奠基人之一。",
        wikidata_id="Q23114",
        names=[
            {"name": "鲁迅", "language": "zh-Hans", "kind": "pen"},
            {"name": "魯迅", "language": "zh-Hant", "kind": "variant"},
            {"name": "周树人", "language": "zh-Hans", "kind": "birth"},
            {"name": "Lu Hsün", "language": "zh-Latn-wadegile", "kind": "romanisation"},
        ],
    )
    citation = Citation.objects.create(
        source=source, locator="p. 12", claim="the collar was dark blue", target=figure
    )
    Note.objects.create(
        title="领口的颜色",
        body="领口是深蓝色的（采访，1987 年，第 12 页）。",
        figure=figure,
        author=restorer,
    )
    result = photo_ingest(
        stream=io.BytesIO(scan_bytes(0)),
        filename="portrait.png",
        title="Portrait in Shanghai",
        user=restorer,
        figure_ids=[figure.pk],
        metadata={
            "accession_number": "ACC-1927-001",
            "date": "1927~",
            "carrier": "print",
            "physical_description": "Silver gelatin print, 9 × 14 cm, creased.",
            "rights_statement": "http://rightsstatements.org/vocab/NoC-US/1.0/",
        },
    )
    assert result.photo is not None
    ref_result = photo_ingest(
        stream=io.BytesIO(scan_bytes(3)), filename="ref.png", title="ref scan", user=restorer
    )
    reference = ReferenceImage.objects.create(
        artifact=ref_result.artifact, figure=figure, kind="costume", title="Period gown"
    )
    restricted_figure = figure_create(
        name="Secret Sitter", restricted=True, names=[{"name": "秘密人物", "language": "zh-Hans"}]
    )
    hidden = photo_ingest(
        stream=io.BytesIO(scan_bytes(7)),
        filename="hidden.png",
        title="Restricted portrait 秘密",
        user=restorer,
        figure_ids=[restricted_figure.pk],
        metadata={"restricted": True, "accession_number": "ACC-SECRET-9"},
    )
    assert hidden.photo is not None
    return Catalogue(
        restorer=restorer,
        viewer=viewer,
        figure=figure,
        photo=result.photo,
        restricted_photo=hidden.photo,
        restricted_figure=restricted_figure,
        citation=citation,
        reference=reference,
    )


def derive(
    source: Artifact,
    *,
    kind: str = "classical",
    operation: str = "denoise",
    weights: ModelWeights | None = None,
    citation_ids: tuple[int, ...] = (),
) -> Artifact:
    """A recorded step whose output brightens the middle of the input (a visible change)."""
    from restoration.imagefile import decode_rgb_or_grey
    from restoration.storage import open_object

    with open_object(source.sha256) as fh:
        arr = decode_rgb_or_grey(fh, max_pixels=10**8)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=2)
    out = arr.astype(np.int16)
    h, w = out.shape[:2]
    shift = source.pk % 7  # a different patch per input, so a chain never repeats its bytes
    out[h // 4 + shift : h // 2 + shift, w // 4 : w // 2] += 40 - 10 * (source.pk % 3)
    output = output_from_array(np.clip(out, 0, 255).astype(np.uint8))
    now = dt.datetime.now(dt.UTC)
    step = step_record(
        kind=kind,
        operation=operation,
        operation_version="1.0",
        parameters={"strength": 7},
        inputs=[NewInput(role="image", artifact=source)],
        outputs=[output],
        started_at=now,
        ended_at=now,
        weights=weights,
        rationale="Repair the face; the collar colour follows the interview.",
        citation_ids=citation_ids,
    )
    return step.produced.get(role="image").artifact


def ai_weights() -> ModelWeights:
    return ModelWeights.objects.create(
        name="GFPGANv1.4",
        sha256="e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad",
        architecture="GFPGAN",
        purpose="face_restore",
        license="permissive",
        path="/nonexistent/GFPGANv1.4.pth",
    )
