"""Out-of-process helper for the film crash test (like tests/jobs/harness.py):

    python -m tests.film.harness seed --frames 48 --pipeline JSON
    python -m tests.film.harness report

Each prints one JSON document on stdout."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def seed(frames: int, pipeline: list[dict[str, Any]]) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from archive.films import film_ingest
    from restoration.jobs import job_create
    from tests.film import support

    user, _ = get_user_model().objects.get_or_create(username="harness")
    with tempfile.TemporaryDirectory() as tmp:
        path = support.write(Path(tmp) / "reel.mkv", frames, seed=11, size=(96, 64))
        with open(path, "rb") as fh:
            film = film_ingest(stream=fh, filename="reel.mkv", user=user).film
    with transaction.atomic():
        job = job_create(user=user, input_id=film.master_id, steps=pipeline)
    return {"job": job.pk, "film": film.pk, "master": film.master_id}


def report() -> dict[str, Any]:
    from restoration.audit import artifact_verify
    from restoration.engine.video import frame_md5
    from restoration.models import Artifact, FilmChunk, Job, Step
    from restoration.services import video_manifest
    from tests.film import support
    from tests.film.test_film_jobs import mix

    out: dict[str, Any] = {"jobs": []}
    for job in Job.objects.order_by("id"):
        entry: dict[str, Any] = {
            "id": job.pk,
            "status": job.status,
            "error": job.error,
            "claimed_by": job.claimed_by,
            "steps": list(Step.objects.filter(job=job).values_list("job_index", flat=True)),
            "chunks": [
                {
                    "number": c.number,
                    "status": c.status,
                    "attempts": c.attempts,
                    "claimed_by": c.claimed_by,
                    "frames_out": c.frames_out,
                }
                for c in FilmChunk.objects.filter(job=job).order_by("number")
            ],
        }
        if job.output_id:
            artifact = Artifact.objects.get(pk=job.output_id)
            frames = artifact.frame_count or 0
            radius = int((job.pipeline[0].get("params") or {}).get("radius", 1))
            expected = [frame_md5(f) for f in mix(support.frames(frames, (96, 64), 11), radius)]
            entry["manifest_ok"] = video_manifest(artifact) == expected
            entry["verify_ok"] = artifact_verify(artifact_id=job.output_id)["ok"]
        out["jobs"].append(entry)
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_seed = sub.add_parser("seed")
    p_seed.add_argument("--frames", type=int, default=48)
    p_seed.add_argument("--pipeline", required=True)
    sub.add_parser("report")
    args = parser.parse_args(argv)
    setup()
    out = seed(args.frames, json.loads(args.pipeline)) if args.cmd == "seed" else report()
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
