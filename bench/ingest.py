"""Ingest throughput against the bare cost of reading the same files.

Generates N (default 200) 3000x2000 JPEGs, then measures in the same run:
  baseline: sha256 of each file + a full Pillow decode (the least any ingest must do);
  ingest:   photo_ingest of each file (validation, EXIF, hashing, atomic store, lineage
            rows, preview) into a fresh SQLite archive (or DATABASE_URL if set).
Prints files/s and MB/s for both and the ratio ingest/baseline (aim: under 1.5), plus peak RSS.

    .venv/bin/python bench/ingest.py [--count 200] [--width 3000] [--height 2000]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_files(folder: Path, count: int, width: int, height: int) -> list[Path]:
    """Photo-like JPEGs: smooth random fields plus grain, each different (no duplicates)."""
    rng = np.random.default_rng(1234)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    paths = []
    for i in range(count):
        fx, fy, phase = rng.uniform(0.001, 0.01, 2).tolist() + [rng.uniform(0, 6.28)]
        base = 128 + 90 * np.sin(xx * fx + phase) * np.cos(yy * fy)
        grain = rng.normal(0, 12, size=(height, width)).astype(np.float32)
        grey = np.clip(base + grain, 0, 255).astype(np.uint8)
        rgb = np.stack([grey, np.roll(grey, i, axis=1), grey[:, ::-1]], axis=-1)
        path = folder / f"scan_{i:04d}.jpg"
        Image.fromarray(rgb).save(path, format="JPEG", quality=90)
        paths.append(path)
    return paths


def baseline(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        data = path.read_bytes()
        hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    return time.perf_counter() - start


def ingest_all(paths: list[Path]) -> float:
    from archive.services import photo_ingest

    start = time.perf_counter()
    for path in paths:
        with path.open("rb") as fh:
            result = photo_ingest(stream=fh, filename=path.name)
        assert not result.duplicate
    return time.perf_counter() - start


def setup_django(data_dir: Path) -> None:
    os.environ["ARCHIVE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, skip_checks=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--width", type=int, default=3000)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "files").mkdir()
        print(f"generating {args.count} {args.width}x{args.height} JPEGs ...", flush=True)
        paths = make_files(tmp_path / "files", args.count, args.width, args.height)
        total_mb = sum(p.stat().st_size for p in paths) / 1e6
        setup_django(tmp_path / "data")
        baseline(paths[:5])  # warm the page cache and Pillow
        t_base = baseline(paths)
        t_ingest = ingest_all(paths)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from django.db import connection

    print(
        f"files: {args.count} x {args.width}x{args.height} JPEG, {total_mb:.0f} MB in all; db: {connection.vendor}"
    )
    print(f"{'':28}{'seconds':>10}{'files/s':>10}{'MB/s':>10}")
    for label, secs in (("baseline sha256+decode", t_base), ("photo_ingest", t_ingest)):
        print(f"{label:28}{secs:10.2f}{args.count / secs:10.1f}{total_mb / secs:10.1f}")
    print(f"ratio ingest / baseline: {t_ingest / t_base:.2f}  (aim < 1.5)")
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
