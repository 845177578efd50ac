"""The archive at 1,000 / 10,000 / 100,000 figures: search, lists, home page and lineages.

Builds (with bulk inserts) figures with 3 names each (simplified Chinese, pinyin, Wade-Giles)
and as many photos (each showing one figure, EDTF-dated, a master artifact each), a few
sources, citations and notes, 1% of everything restricted, plus lineages of 20 and 1,000 steps;
then, as a ``viewer`` (so the restricted-record filters apply), times each request in-process
through the whole Django stack (middleware, authentication, views, serializers, templates),
with ``/healthz`` (one ``SELECT 1``) measured in the same run as the floor:

  search zh       GET /api/v1/figures/?search=李大釗   (traditional form of a stored name)
  search latin    GET /api/v1/figures/?search=Li Dazhao
  search wade     GET /api/v1/figures/?search=Li Ta-chao
  search box      GET /api/v1/search/?q=Li Ta-chao 1927   (every kind of record, and a year)
  search page     GET /search/?q=李大釗
  figure list     GET /api/v1/figures/
  photo list      GET /api/v1/photos/
  home page       GET /
  lineage 20      GET /api/v1/artifacts/{id}/lineage/   (a chain of 20 steps)
  lineage 1000    GET /api/v1/artifacts/{id}/lineage/   (a chain of 1,000 steps)

For each size it prints median and p95 (ms) and the median's ratio to ``/healthz``. Sizes are
cumulative: the 10,000 archive is the 1,000 one plus 9,000 more of everything.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/archive_scale \\
        .venv/bin/python bench/scale.py [--sizes 1000,10000,100000] [--requests 30] [--keep]

The database named in DATABASE_URL is dropped and created afresh (``--keep`` reuses it and
its data). PostgreSQL only: this is the scale-out configuration the aims are about.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/archive_scale"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
    "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰萍红鹏飞鑫波宁斌浩凯健俊帆帅旭宇辉晨"
    "雪欣婷晶琳瑶怡佳嘉文博志成国庆春梅海燕建新立东学亮德"
)
PLACES = ["Beijing", "Shanghai", "Guangzhou", "Changsha", "Xiamen", "Tianjin", "Wuhan", "Nanjing"]


def setup(db_url: str, keep: bool) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "0")  # no query log growing with every request
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(60))
    os.environ.setdefault("BROKER_URL", "memory")
    if not keep:
        _recreate_database(db_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _recreate_database(db_url: str) -> None:
    import psycopg

    base, name = db_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


@functools.cache
def edtf_bounds(value: str) -> Any:
    """The app's EDTF rule, cached: the few hundred distinct dates of the bench parse once
    (parsing, not inserting, was most of the build time)."""
    from archive.dates import edtf_bounds as bounds

    return bounds(value)


class Builder:
    """Adds figures, photos and the rest with bulk inserts, keys computed as the app would."""

    def __init__(self) -> None:
        self.rng = random.Random(16)
        self.figures = 0

    def grow(self, target: int) -> float:
        t0 = time.perf_counter()
        while self.figures < target:
            n = min(5000, target - self.figures)
            self._batch(self.figures, n)
            self.figures += n
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # visibility map too: index-only counts
        return time.perf_counter() - t0

    def _name(self, i: int) -> str:
        if i == 0:
            return "李大钊"
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN) + self.rng.choice(GIVEN)

    def _batch(self, start: int, n: int) -> None:
        from django.db import transaction
        from pypinyin import Style, lazy_pinyin

        from archive.models import Citation, Figure, FigureName, Note, Photo, Source
        from archive.search import key_of
        from restoration.models import Artifact

        rng = self.rng
        figures, names_of = [], []
        for i in range(start, start + n):
            zh = self._name(i)
            pinyin = " ".join(lazy_pinyin(zh)).title()
            wade = " ".join(lazy_pinyin(zh, style=Style.WADEGILES)).title()
            if i == 0:
                pinyin, wade = "Li Dazhao", "Li Ta-chao"
            names = [(zh, "zh-Hans"), (pinyin, "zh-Latn-pinyin"), (wade, "zh-Latn-wadegile")]
            year = rng.randint(1850, 1930)
            figure = Figure(
                name=pinyin,
                sort_name=pinyin,
                birth_date=str(year),
                birth_earliest=dt.date(year, 1, 1),
                birth_latest=dt.date(year, 12, 31),
                restricted=(i % 100 == 99),
            )
            figure.search_key = key_of("Figure", figure, names=[n for n, _ in names])
            figures.append(figure)
            names_of.append(names)
        with transaction.atomic():
            Figure.objects.bulk_create(figures, batch_size=2000)
            FigureName.objects.bulk_create(
                [
                    FigureName(figure=f, name=name, language=lang, kind="variant")
                    for f, names in zip(figures, names_of, strict=True)
                    for name, lang in names
                ],
                batch_size=5000,
            )
            masters = Artifact.objects.bulk_create(
                [
                    Artifact(
                        sha256=secrets.token_hex(32),
                        size=1000,
                        media_type="image/png",
                        width=64,
                        height=64,
                        mode="RGB",
                    )
                    for _ in range(n)
                ],
                batch_size=5000,
            )
            photos = []
            for k, (figure, master) in enumerate(zip(figures, masters, strict=True)):
                year = rng.randint(1900, 1949)
                date = rng.choice(
                    [str(year), f"{str(year)[:3]}X", f"{year}/{year + 3}", f"{year}-05"]
                )
                bounds = edtf_bounds(date)
                photo = Photo(
                    title=f"Portrait of {figure.name}",
                    place=rng.choice(PLACES),
                    date=date,
                    date_earliest=bounds.lower,
                    date_latest=bounds.upper,
                    accession_number=f"ACC-{start + k:06d}",
                    master=master,
                    restricted=((start + k) % 100 == 42),
                )
                photo.search_key = key_of("Photo", photo)
                photos.append(photo)
            Photo.objects.bulk_create(photos, batch_size=2000)
            Photo.figures.through.objects.bulk_create(
                [
                    Photo.figures.through(photo_id=p.pk, figure_id=f.pk)
                    for p, f in zip(photos, figures, strict=True)
                ],
                batch_size=5000,
            )
            sources = []
            for k in range(max(1, n // 100)):
                source = Source(
                    title=f"Diary volume {start + k}",
                    author=figures[k].name,
                    date=str(rng.randint(1900, 1949)),
                    restricted=(k % 50 == 49),
                )
                bounds = edtf_bounds(source.date)
                source.date_earliest, source.date_latest = bounds.lower, bounds.upper
                source.search_key = key_of("Source", source)
                sources.append(source)
            Source.objects.bulk_create(sources)
            from django.contrib.contenttypes.models import ContentType

            figure_type = ContentType.objects.get_for_model(Figure)
            citations = []
            for k in range(n // 2):
                citation = Citation(
                    source=sources[k % len(sources)],
                    locator=f"p. {k}",
                    claim="born that year",
                    target_type=figure_type,
                    target_id=figures[k].pk,
                    restricted=(k % 100 == 7),
                )
                citation.search_key = key_of("Citation", citation)
                citations.append(citation)
            Citation.objects.bulk_create(citations, batch_size=5000)
            notes = []
            for k in range(n // 10):
                note = Note(
                    title=f"On {figures[k].name}",
                    body="The collar was dark blue: interview, 1987, p. 12",
                    figure=figures[k],
                )
                note.search_key = key_of("Note", note)
                notes.append(note)
            Note.objects.bulk_create(notes, batch_size=5000)


def build_chain(steps: int) -> int:
    """A lineage: a master and ``steps`` classical steps, each on the previous output."""
    from django.db import transaction
    from django.utils import timezone

    from restoration.models import Artifact, Step, StepInput, StepOutput

    now = timezone.now()

    def artifact(step: Step | None) -> Artifact:
        return Artifact(
            sha256=secrets.token_hex(32),
            size=1000,
            media_type="image/png",
            width=64,
            height=64,
            mode="RGB",
            generated_by=step,
        )

    with transaction.atomic():
        ingest = Step.objects.create(
            kind="ingest",
            operation="ingest",
            operation_version="1",
            started_at=now,
            ended_at=now,
            actor="bench",
            record_hash=secrets.token_hex(32),
        )
        master = Artifact.objects.bulk_create([artifact(None)])[0]
        StepOutput.objects.bulk_create([StepOutput(step=ingest, artifact=master, role="image")])
        made = Step.objects.bulk_create(
            [
                Step(
                    kind="classical",
                    operation="denoise",
                    operation_version="1",
                    parameters={"strength": 5},
                    started_at=now,
                    ended_at=now,
                    actor="bench",
                    record_hash=secrets.token_hex(32),
                )
                for _ in range(steps)
            ],
            batch_size=2000,
        )
        outputs = Artifact.objects.bulk_create([artifact(s) for s in made], batch_size=2000)
        chain = [master, *outputs]
        StepInput.objects.bulk_create(
            [
                StepInput(step=s, artifact=chain[i], role="image", position=0)
                for i, s in enumerate(made)
            ],
            batch_size=5000,
        )
        StepOutput.objects.bulk_create(
            [StepOutput(step=s, artifact=chain[i + 1], role="image") for i, s in enumerate(made)],
            batch_size=5000,
        )
    return chain[-1].pk


def viewer() -> tuple[Any, str]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    user, created = get_user_model().objects.get_or_create(username="scale-viewer")
    if created:
        user.set_password("pw-scale-viewer-1")
        user.save()
        user.groups.add(Group.objects.get(name="viewer"))
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key


def timed(
    client: Any, path: str, data: dict[str, str] | None, n: int, **headers: str
) -> list[float]:
    for _ in range(2):  # warm caches and connections
        response = client.get(path, data, **headers)
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.get(path, data, **headers)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(size: int, requests: int, chains: dict[int, int]) -> list[tuple[str, float, float]]:
    from django.test import Client

    user, token = viewer()
    api = {"HTTP_AUTHORIZATION": f"Token {token}"}
    page = Client()
    page.force_login(user)
    client = Client()
    routes: list[tuple[str, Any, str, dict[str, str] | None, dict[str, str], int]] = [
        ("/healthz", client, "/healthz", None, {}, requests),
        ("search zh (李大釗)", client, "/api/v1/figures/", {"search": "李大釗"}, api, requests),
        (
            "search latin (Li Dazhao)",
            client,
            "/api/v1/figures/",
            {"search": "Li Dazhao"},
            api,
            requests,
        ),
        (
            "search wade (Li Ta-chao)",
            client,
            "/api/v1/figures/",
            {"search": "Li Ta-chao"},
            api,
            requests,
        ),
        (
            "search box (Li Ta-chao 1927)",
            client,
            "/api/v1/search/",
            {"q": "Li Ta-chao 1927"},
            api,
            requests,
        ),
        ("search page (李大釗)", page, "/search/", {"q": "李大釗"}, {}, requests),
        ("figure list", client, "/api/v1/figures/", None, api, requests),
        ("photo list", client, "/api/v1/photos/", None, api, requests),
        ("home page", page, "/", None, {}, requests),
        ("lineage 20", client, f"/api/v1/artifacts/{chains[20]}/lineage/", None, api, requests),
        (
            "lineage 1000",
            client,
            f"/api/v1/artifacts/{chains[1000]}/lineage/",
            None,
            api,
            max(5, requests // 3),
        ),
    ]
    rows = []
    for label, who, path, data, headers, n in routes:
        times = timed(who, path, data, n, **headers)
        rows.append((label, statistics.median(times), p95(times)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="reuse the database and its data")
    args = parser.parse_args()
    db_url = os.environ.get("DATABASE_URL", DEFAULT_DB)
    if not db_url.startswith("postgres"):
        sys.exit("bench/scale.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    setup(db_url, args.keep)
    from archive.models import Figure

    builder = Builder()
    builder.figures = Figure.objects.count()
    chains = {20: build_chain(20), 1000: build_chain(1000)}
    print("# bench/scale.py (PostgreSQL, in-process Django client, as a viewer)\n")
    for size in (int(s) for s in args.sizes.split(",")):
        build_s = builder.grow(size)
        rows = measure(size, args.requests, chains)
        floor = rows[0][1]
        print(f"\n## {size:,} figures (3 names each), {size:,} photos (built in {build_s:.0f} s)\n")
        print("| request | median ms | p95 ms | x /healthz |")
        print("| --- | ---: | ---: | ---: |")
        for label, median, high in rows:
            print(f"| {label} | {median:.1f} | {high:.1f} | {median / floor:.1f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
