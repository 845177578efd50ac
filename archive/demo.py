"""A small demo catalogue built from ../shared/corpus (when present). Idempotent.

The corpus scans are anonymous (the public test set of "Bringing Old Photos Back to Life",
Wan et al., CVPR 2020, MIT licence), so the demo links them to no real person: the one real
figure (Lu Xun, with names in several scripts) has no photo attached.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from archive.models import Citation, Figure, Source
from archive.services import citation_create, figure_create, photo_ingest, source_create

CORPUS_SOURCE_TITLE = "Bringing Old Photos Back to Life (test set)"
DEMO_PHOTOS = {
    "old_a.png": ("Faded colour school portrait, girl with glasses", "print", ""),
    "old_b.png": ("Early colour garden portrait", "glass_plate", "191X"),
    "old_c.png": ("Porter in the street, early colour", "glass_plate", "190X/191X"),
    "old_d.png": ("Street scene by the Moulin Rouge, early colour", "glass_plate", "191X"),
    "old_w_scratch_a.png": ("Sepia portrait with cracks and torn corners", "print", ""),
    "old_w_scratch_b.png": (
        "Small grey portrait of a boy, creased across the forehead",
        "print",
        "",
    ),
}


@dataclass(frozen=True)
class DemoSummary:
    photos: int
    figures: int
    models: int
    user_created: str | None


def load_demo(corpus: Path, models: Path) -> DemoSummary:
    with transaction.atomic():
        _lu_xun()
        sitter = Figure.objects.filter(name="Unidentified schoolgirl").first() or figure_create(
            name="Unidentified schoolgirl",
            biography="Sitter of a faded school portrait in the demo corpus; not identified.",
        )
        source = _corpus_source()
    photos = 0
    if corpus.is_dir():
        for filename, (title, carrier, date) in DEMO_PHOTOS.items():
            path = corpus / filename
            if not path.is_file():
                continue
            with path.open("rb") as fh:
                result = photo_ingest(
                    stream=fh,
                    filename=filename,
                    title=title,
                    figure_ids=[sitter.pk] if filename == "old_a.png" else [],
                    metadata={
                        "carrier": carrier,
                        "date": date,
                        "repository": "Demo corpus",
                        "accession_number": f"DEMO-{filename.split('.')[0].upper()}",
                        "rights_statement": "MIT License, Copyright (c) Microsoft Corporation",
                    },
                )
            if result.photo and not result.duplicate:
                citation_create(
                    source=source,
                    locator=filename,
                    claim="provenance of this scan",
                    confidence=Citation.Confidence.CERTAIN,
                    target=result.photo,
                )
            photos += 1
    registered = 0
    if models.is_dir():
        from restoration.registry import models_scan

        registered = sum(1 for o in models_scan(directories=[models]) if o.weights is not None)
    return DemoSummary(
        photos=photos,
        figures=Figure.objects.count(),
        models=registered,
        user_created=_demo_user(),
    )


def _lu_xun() -> Figure:
    existing = Figure.objects.filter(wikidata_id="Q23114").first()
    if existing:
        return existing
    figure = figure_create(
        name="Lu Xun",
        sort_name="Lu Xun",
        birth_date="1881-09-25",
        death_date="1936-10-19",
        wikidata_id="Q23114",
        biography=(
            "Chinese writer and essayist (born Zhou Shuren in Shaoxing, died in Shanghai). "
            "Demo record: no photograph in the demo corpus shows him."
        ),
        names=[
            {"name": "鲁迅", "language": "zh-Hans", "kind": "pen"},
            {"name": "魯迅", "language": "zh-Hant", "kind": "pen"},
            {"name": "周树人", "language": "zh-Hans", "kind": "birth"},
            {"name": "Lǔ Xùn", "language": "zh-Latn-pinyin", "kind": "romanisation"},
        ],
    )
    return figure


def _corpus_source() -> Source:
    return Source.objects.filter(title=CORPUS_SOURCE_TITLE).first() or source_create(
        kind=Source.Kind.ARTICLE,
        title=CORPUS_SOURCE_TITLE,
        author="Z. Wan, B. Zhang, D. Chen, P. Zhang, D. Chen, J. Liao, F. Wen",
        publisher="CVPR",
        date="2020",
        notes="Real old photographs released under the MIT License (Microsoft Corporation).",
    )


def _demo_user() -> str | None:
    """In the embedded development mode only, make a first superuser so the pages can be tried."""
    user_model = get_user_model()
    if not settings.DEBUG or user_model.objects.exists():
        return None
    user_model.objects.create_superuser("demo", "demo@example.org", "demo-password")
    return "demo / demo-password"
