"""Out-of-process helper for the integration tests and bench/jobs.py.

Runs in its own process against whatever the environment configures (DATABASE_URL,
BROKER_URL, ARCHIVE_DATA_DIR), exactly like a web request or a worker would:

    python -m tests.jobs.harness seed --jobs 50 --size 160 [--pipeline JSON]
    python -m tests.jobs.harness enqueue 1 2 3
    python -m tests.jobs.harness report [--verify]

Each prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from typing import Any

DEFAULT_PIPELINE = [
    {"op": "denoise", "params": {"strength": 4.0}},
    {"op": "rotate", "params": {"angle": 90}},
]


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def png(seed: int, size: int) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(base, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def seed(
    jobs: int, size: int, pipeline: list[dict[str, Any]], first_seed: int, inputs: int
) -> dict[str, Any]:
    """``inputs`` distinct master scans shared by ``jobs`` jobs; the first float parameter of
    the first step is nudged per job so that every job produces different bytes."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from archive.services import photo_ingest
    from restoration.jobs import job_create

    user, _ = get_user_model().objects.get_or_create(username="harness")
    masters = [
        photo_ingest(
            stream=io.BytesIO(png(first_seed + i, size)),
            filename=f"h{first_seed + i}.png",
            user=user,
        ).artifact
        for i in range(max(1, min(inputs, jobs)))
    ]
    ids = []
    for i in range(jobs):
        steps = json.loads(json.dumps(pipeline))
        params = steps[0].setdefault("params", {})
        for key, value in params.items():
            if isinstance(value, float | int) and not isinstance(value, bool):
                params[key] = round(float(value) + 0.1 * (i // len(masters)), 3)
                break
        with transaction.atomic():
            job = job_create(user=user, input_id=masters[i % len(masters)].pk, steps=steps)
        ids.append(job.pk)
    return {"jobs": ids}


def enqueue(ids: list[int]) -> dict[str, Any]:
    from restoration.jobs import enqueue as send

    return {"sent": [i for i in ids if send(i)]}


def report(verify: bool) -> dict[str, Any]:
    from django.conf import settings
    from django.db.models import Count

    from restoration.models import Artifact, Job, Step

    jobs = []
    for job in Job.objects.annotate(n_steps=Count("steps")).order_by("id"):
        indexes = sorted(Step.objects.filter(job=job).values_list("job_index", flat=True))
        outputs = [
            a
            for s in Step.objects.filter(job=job)
            for a in s.produced.values_list("artifact_id", flat=True)
        ]
        entry = {
            "id": job.pk,
            "status": job.status,
            "attempts": job.attempts,
            "error": job.error,
            "steps": job.n_steps,
            "indexes": indexes,
            "expected_steps": len(job.pipeline),
            "output": job.output_id,
            "outputs": outputs,
        }
        if verify and job.output_id:
            try:
                from restoration.audit import artifact_verify
            except ImportError:
                entry["verify"] = None
            else:
                result = artifact_verify(artifact_id=job.output_id)
                entry["verify"] = {"ok": result["ok"], "problems": result["problems"][:3]}
        jobs.append(entry)
    known = set(Artifact.objects.values_list("sha256", flat=True))
    root = settings.STORAGES["default"]["OPTIONS"]["location"]
    objects = os.path.join(root, "objects")
    orphans = []
    for folder, _dirs, files in os.walk(objects):
        orphans += [os.path.join(folder, f) for f in files if f not in known]
    from django.core.files.storage import default_storage

    if hasattr(default_storage, "bucket"):  # S3 (ARCHIVE_STORAGE=s3, scripts/ci-s3.sh)
        base = f"{root.strip('/')}/" if root.strip("/") else ""
        listed = default_storage.bucket.objects.filter(Prefix=f"{base}objects/")
        stored = [o.key for o in listed]
        orphans += [key for key in stored if key.rsplit("/", 1)[-1] not in known]
        missing = known - {key.rsplit("/", 1)[-1] for key in stored}
        orphans += [f"missing: {sha}" for sha in sorted(missing)]
    return {"jobs": jobs, "orphans": orphans}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_seed = sub.add_parser("seed")
    p_seed.add_argument("--jobs", type=int, default=10)
    p_seed.add_argument("--size", type=int, default=128)
    p_seed.add_argument("--seed", type=int, default=0)
    p_seed.add_argument("--inputs", type=int, default=5, help="distinct master scans")
    p_seed.add_argument("--pipeline", default=json.dumps(DEFAULT_PIPELINE))
    p_enqueue = sub.add_parser("enqueue")
    p_enqueue.add_argument("ids", type=int, nargs="*")
    p_report = sub.add_parser("report")
    p_report.add_argument("--verify", action="store_true")
    args = parser.parse_args(argv)
    setup()
    if args.cmd == "seed":
        out = seed(args.jobs, args.size, json.loads(args.pipeline), args.seed, args.inputs)
    elif args.cmd == "enqueue":
        out = enqueue(args.ids)
    else:
        out = report(args.verify)
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
