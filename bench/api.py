"""API latency and throughput against a trivial JSON view, in the same server and run.

Starts a fresh archive (SQLite under a temporary ARCHIVE_DATA_DIR, or DATABASE_URL if set),
seeds it (figures with name variants, photos, a restoration lineage), serves it with waitress
in a child process (the same server and thread count as ``manage.py serve``), then drives it
with 16 concurrent keep-alive clients as a ``viewer`` (the restricted-record filters apply):

  trivial:       a JSON view through the same Django stack (middleware, URL resolver) that
                 does no database work: the floor any route pays
  trivial DRF:   the same through DRF with token authentication (one query): shown to split
                 the cost of the framework and authentication from the routes' own work
  figure list:   GET /api/v1/figures/ (50 per page, names and citations prefetched)
  photo detail:  GET /api/v1/photos/{id}/
  lineage:       GET /api/v1/artifacts/{id}/lineage/ (a chain of --depth steps to the master)

Prints median and p95 latency and requests/s per route, and each as a ratio to trivial.

    .venv/bin/python bench/api.py [--clients 16] [--requests 600] [--depth 10] [--threads 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def seed(depth: int) -> dict[str, object]:
    """A catalogue and a lineage; returns the token and the ids the routes need."""
    import io

    import numpy as np
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from PIL import Image
    from rest_framework.authtoken.models import Token

    from archive.models import Citation, Source
    from archive.services import figure_create, photo_ingest
    from restoration.services import NewInput, output_from_array, step_record

    call_command("migrate", verbosity=0, interactive=False)
    rng = np.random.default_rng(7)
    source = Source.objects.create(title="Bench source")
    figures = []
    for i in range(60):
        figure = figure_create(
            name=f"Figure {i}",
            names=[
                {"name": f"人物{i}", "language": "zh-Hans"},
                {"name": f"Renwu {i}", "language": "zh-Latn-pinyin"},
            ],
            restricted=(i % 10 == 9),
        )
        Citation.objects.create(source=source, locator=f"p. {i}", target=figure)
        figures.append(figure)
    photos = []
    for i in range(20):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buf, "PNG")
        buf.seek(0)
        result = photo_ingest(
            stream=buf,
            filename=f"scan{i}.png",
            title=f"Photo {i}",
            figure_ids=[figures[i].pk, figures[i + 1].pk],
        )
        photos.append(result.photo)
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    current = photos[0].master
    for i in range(depth):
        out = output_from_array(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        step_record(
            kind="classical",
            operation="denoise",
            operation_version="1.0",
            parameters={"strength": 0.5, "i": i},
            inputs=[NewInput(role="image", artifact=current)],
            outputs=[out],
            started_at=now,
            ended_at=now,
            citation_ids=[],
        )
        from restoration.models import Artifact

        current = Artifact.objects.get(sha256=out.sha256)
    from django.db import connection

    if connection.vendor == "postgresql":
        # Fresh tables have no statistics: the planner then over-estimates the recursive
        # lineage queries enough to JIT-compile them (~0.4 s each). Autovacuum would analyze a
        # live archive; do it now so that the bench measures the steady state.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    user = get_user_model().objects.create_user("bench-viewer", password="bench-pw-1")
    user.groups.add(Group.objects.get(name="viewer"))
    return {
        "token": Token.objects.create(user=user).key,
        "photo": photos[5].pk,
        "artifact": current.pk,
    }


def serve(port: int, threads: int) -> None:
    """The child process: Django + a trivial JSON view, served by waitress."""
    setup_django()
    from django.conf import settings
    from django.http import JsonResponse
    from django.urls import include, path
    from rest_framework.response import Response
    from rest_framework.views import APIView
    from waitress import serve as waitress_serve

    from config.wsgi import application

    def trivial(request):  # type: ignore[no-untyped-def]
        return JsonResponse({"ok": True})

    class TrivialDrf(APIView):
        def get(self, request):  # type: ignore[no-untyped-def]
            return Response({"ok": True})

    urls = types.ModuleType("bench_api_urls")
    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("bench/trivial/", trivial),
        path("bench/trivial-drf/", TrivialDrf.as_view()),
        path("", include("config.urls")),
    ]
    sys.modules["bench_api_urls"] = urls
    settings.ROOT_URLCONF = "bench_api_urls"
    waitress_serve(application, host="127.0.0.1", port=port, threads=threads, _quiet=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drive(port: int, path: str, token: str, clients: int, total: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = max(1, total // clients)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    errors: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for _ in range(per_client):
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                errors.append(f"{path}: {response.status}")
        conn.close()
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"non-200 answers: {errors[:3]}")
    latencies.sort()
    return {
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "rps": len(latencies) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=600, help="per route")
    parser.add_argument("--depth", type=int, default=10, help="steps in the lineage chain")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (as serve)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.threads)
        return

    data = Path(tempfile.mkdtemp(prefix="bench-api-"))
    os.environ.setdefault("ARCHIVE_DATA_DIR", str(data))
    setup_django()
    ids = seed(args.depth)
    from django.db import connections

    connections.close_all()
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--threads", str(args.threads)],
        env=os.environ.copy(),
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        token = str(ids["token"])
        routes = {
            "trivial": "/bench/trivial/",
            "trivial DRF": "/bench/trivial-drf/",
            "figure list": "/api/v1/figures/",
            "photo detail": f"/api/v1/photos/{ids['photo']}/",
            "lineage": f"/api/v1/artifacts/{ids['artifact']}/lineage/",
        }
        for path in routes.values():  # warm up: imports, caches, connections
            drive(port, path, token, 4, 16)
        results = {
            name: drive(port, path, token, args.clients, args.requests)
            for name, path in routes.items()
        }
    finally:
        child.terminate()
        child.wait(timeout=10)
    base = results["trivial"]
    print(
        f"{args.clients} clients, {args.requests} requests per route, waitress {args.threads} threads, "
        f"{os.environ.get('DATABASE_URL', 'sqlite').split('://')[0]}, lineage depth {args.depth}"
    )
    print(
        f"{'route':<14} {'median ms':>10} {'p95 ms':>8} {'req/s':>8}   {'median x':>8} {'p95 x':>6} {'req/s x':>7}"
    )
    for name, r in results.items():
        print(
            f"{name:<14} {r['median_ms']:>10.1f} {r['p95_ms']:>8.1f} {r['rps']:>8.0f}   "
            f"{r['median_ms'] / base['median_ms']:>8.2f} {r['p95_ms'] / base['p95_ms']:>6.2f} "
            f"{r['rps'] / base['rps']:>7.2f}"
        )
    print(json.dumps({"results": results}, indent=None))


if __name__ == "__main__":
    main()
