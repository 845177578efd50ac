"""Lineage reads, verify and PROV export on a long chain and on a wide DAG.

Builds, in a fresh archive (SQLite under a temporary ARCHIVE_DATA_DIR, or DATABASE_URL if set):
  chain: one master and N steps, each using the previous output (default N = 1000);
  wide:  N masters and one step that uses all of them (image + N-1 references).
Then prints, for each shape, the query count and time of the ancestor selector, of
artifact_verify and of the PROV-JSON export, and verify's file throughput as a ratio to plain
sha256 of the same stored files in the same run (verify also reads the DB and re-hashes every
step record, so the ratio says what the lineage checks cost on top of fixity).

Then the transparency log (issue 11), at each of ``--log-sizes`` records (default 1,000 and
100,000; the tree is bulk-built, then real appends are timed on top): the cost of one append
against the cost of the step it is part of (measured in the same run), a signed checkpoint,
inclusion and consistency proofs (time and number of hashes) and their verification, and peak
memory.

    .venv/bin/python bench/lineage.py [--steps 1000] [--side 128] [--log-sizes 1000,100000]
    .venv/bin/python bench/lineage.py --log-only
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django(data_dir: Path) -> None:
    os.environ["ARCHIVE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, skip_checks=True)


def _image(rng: np.random.Generator, side: int) -> np.ndarray:
    return rng.integers(0, 255, size=(side, side, 3), dtype=np.uint8)


def _step(inputs: list[tuple[str, Any]], out: Any, kind: str, op: str) -> Any:
    from restoration.services import NewInput, step_record_or_discard

    positions: dict[str, int] = {}
    new_inputs = []
    for role, artifact in inputs:
        new_inputs.append(NewInput(role=role, artifact=artifact, position=positions.get(role, 0)))
        positions[role] = positions.get(role, 0) + 1
    now = dt.datetime.now(dt.UTC)
    return step_record_or_discard(
        kind=kind,
        operation=op,
        operation_version="1.0",
        parameters={"strength": 0.5},
        inputs=new_inputs,
        outputs=[out],
        started_at=now,
        ended_at=now,
    )


def _master(rng: np.random.Generator, side: int) -> Any:
    from restoration.models import Artifact
    from restoration.services import output_from_array

    out = output_from_array(_image(rng, side))
    _step([], out, "ingest", "ingest")
    return Artifact.objects.get(sha256=out.sha256)


def build_chain(steps: int, side: int) -> Any:
    from restoration.models import Artifact
    from restoration.services import output_from_array

    rng = np.random.default_rng(1)
    current = _master(rng, side)
    for _ in range(steps):
        out = output_from_array(_image(rng, side))
        _step([("image", current)], out, "classical", "denoise")
        current = Artifact.objects.get(sha256=out.sha256)
    return current


def build_wide(width: int, side: int) -> Any:
    from restoration.models import Artifact
    from restoration.services import output_from_array

    rng = np.random.default_rng(2)
    masters = [_master(rng, side) for _ in range(width)]
    out = output_from_array(_image(rng, side))
    inputs = [("image", masters[0])] + [("reference", m) for m in masters[1:]]
    _step(inputs, out, "classical", "color_transfer")
    return Artifact.objects.get(sha256=out.sha256)


def measure(fn: Callable[[], Any]) -> tuple[float, int, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()  # DEBUG logging of the build phase fills the 9000-entry log
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
    return elapsed, len(queries), result


def best_of_3(fn: Callable[[], Any]) -> tuple[float, int, Any]:
    """The machine is shared: the fastest of three runs is the least noisy figure."""
    return min((measure(fn) for _ in range(3)), key=lambda m: m[0])


def plain_sha256(paths: list[Path]) -> tuple[float, int]:
    start = time.perf_counter()
    total = 0
    for path in paths:
        digest = hashlib.sha256()
        with path.open("rb") as fh:  # streamed in 1 MiB chunks, as verify does
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                digest.update(chunk)
                total += len(chunk)
        digest.hexdigest()
    return time.perf_counter() - start, total


def report(label: str, artifact: Any) -> None:
    from django.conf import settings

    from restoration.audit import artifact_verify
    from restoration.exports.prov import lineage_prov
    from restoration.selectors import lineage_ancestors
    from restoration.storage import object_key

    t_sel, q_sel, graph = best_of_3(lambda: lineage_ancestors(artifact_id=artifact.pk))
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    paths = [root / object_key(a.sha256) for a in graph.artifacts.values()]
    plain_sha256(paths)  # warm the page cache for both contenders
    t_plain, nbytes = min(plain_sha256(paths) for _ in range(3))
    t_ver, q_ver, result = best_of_3(lambda: artifact_verify(artifact_id=artifact.pk))
    assert result["ok"], result["problems"][:3]
    t_prov, q_prov, text = best_of_3(lambda: lineage_prov(artifact_id=artifact.pk, fmt="json"))
    mb = nbytes / 1e6
    print(
        f"\n{label}: {len(graph.artifacts)} artifacts, {len(graph.steps)} steps, {mb:.1f} MB of files"
    )
    print(f"  {'':24}{'queries':>9}{'seconds':>10}")
    print(f"  {'ancestor selector':24}{q_sel:9d}{t_sel:10.3f}")
    print(f"  {'artifact_verify':24}{q_ver:9d}{t_ver:10.3f}")
    print(f"  {'PROV-JSON export':24}{q_prov:9d}{t_prov:10.3f}   ({len(text) / 1e6:.1f} MB)")
    print(
        f"  verify {mb / t_ver:.1f} MB/s vs plain sha256 {mb / t_plain:.1f} MB/s: "
        f"verify takes {t_ver / t_plain:.1f}x the time of hashing the same files"
    )


def _bulk_log(size: int) -> None:
    """A log of ``size`` leaves written straight to its tables (the append path is timed
    separately): leaf and node rows and the head, as ``log_append`` would leave them."""
    from django.db import transaction

    from restoration import merkle
    from restoration.models import LogHead, LogLeaf, LogNode

    now = dt.datetime.now(dt.UTC)
    frontier: list[tuple[int, bytes]] = []
    leaves: list[Any] = []
    nodes: list[Any] = []
    with transaction.atomic():
        for i in range(size):
            rhash = hashlib.sha256(str(i).encode()).hexdigest()
            leaf = merkle.leaf_hash(merkle.leaf_data("bench", i, rhash))
            frontier, done = merkle.frontier_append(frontier, i, leaf)
            leaves.append(
                LogLeaf(
                    index=i,
                    kind="bench",
                    record_id=i,
                    record_hash=rhash,
                    leaf_hash=leaf.hex(),
                    appended_at=now,
                )
            )
            nodes += [LogNode(level=lv, index=ix, hash=h.hex()) for lv, ix, h in done]
            if len(leaves) >= 5000:
                LogLeaf.objects.bulk_create(leaves)
                LogNode.objects.bulk_create(nodes)
                leaves, nodes = [], []
        LogLeaf.objects.bulk_create(leaves)
        LogNode.objects.bulk_create(nodes)
        LogHead.objects.update_or_create(
            pk=1, defaults={"size": size, "frontier": [[lv, h.hex()] for lv, h in frontier]}
        )


def _clear_log() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("restoration_logleaf", "restoration_lognode", "restoration_checkpoint"):
            if connection.vendor == "postgresql":
                cursor.execute(f"TRUNCATE {table}")
            else:
                cursor.execute(f"DELETE FROM {table}")
        cursor.execute("DELETE FROM restoration_loghead")


def report_log(size: int, side: int) -> None:
    import random
    import resource
    import tracemalloc

    from django.db import transaction

    from restoration import ledger, merkle

    _clear_log()
    start = time.perf_counter()
    _bulk_log(size)
    built = time.perf_counter() - start
    from django.db import connection

    if connection.vendor == "postgresql":
        # Let the server settle after the bulk load (statistics, dirty pages flushed), as a
        # live archive would be, so the timings below measure the log, not the load.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
            with contextlib.suppress(Exception):  # needs a superuser; a hint only
                cursor.execute("CHECKPOINT")
    rng = np.random.default_rng(size)
    # Baseline in the same run: a real step (a derived PNG, its rows, its evidence snapshot),
    # whose transaction includes the append; then the append alone.
    master = _master(rng, side)
    step_times = []
    for _ in range(20):
        out = _image(rng, side)
        from restoration.services import output_from_array

        t0 = time.perf_counter()
        _step([("image", master)], output_from_array(out), "classical", "denoise")
        step_times.append(time.perf_counter() - t0)
    append_times = []
    for i in range(200):  # one append per transaction, as a step makes it (commit not timed)
        with transaction.atomic():
            t0 = time.perf_counter()
            ledger.log_append(kind="bench-append", record_id=i, record_hash="ab" * 32)
            append_times.append(time.perf_counter() - t0)
    n = ledger.log_size()
    ledger.signing_key()  # made (or read) once per process: not part of a checkpoint's cost
    tracemalloc.start()
    t_cp, _, checkpoint = measure(lambda: ledger.checkpoint_make(reason="bench"))
    picks = [random.Random(i).randrange(n) for i in range(50)]
    t0 = time.perf_counter()
    proofs = [(i, ledger.inclusion_proof(i, n)) for i in picks]
    t_incl = (time.perf_counter() - t0) / len(picks)
    t0 = time.perf_counter()
    old = max(1, n // 3)
    cons = ledger.consistency_proof(old, n)
    t_cons = time.perf_counter() - t0
    _, old_root = ledger.log_root(old)
    root = bytes.fromhex(checkpoint.root)
    from restoration.models import LogLeaf

    leaf_of = dict(LogLeaf.objects.filter(index__in=picks).values_list("index", "leaf_hash"))
    t0 = time.perf_counter()
    ok = all(
        merkle.verify_inclusion(
            i, n, bytes.fromhex(leaf_of[i]), [bytes.fromhex(h) for h in p], root
        )
        for i, p in proofs
    )
    t_vin = (time.perf_counter() - t0) / len(proofs)
    ok = ok and merkle.verify_consistency(old, n, old_root, root, [bytes.fromhex(h) for h in cons])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert ok, "a proof did not verify"
    step_ms = 1000 * sorted(step_times)[len(step_times) // 2]
    append_ms = 1000 * sorted(append_times)[len(append_times) // 2]
    hashes = max(len(p) for _, p in proofs)
    print(f"\ntransparency log of {n:,} records (bulk-built in {built:.1f} s)")
    print(
        f"  append (median of 200)   {append_ms:8.3f} ms   = {append_ms / step_ms:.2f}x of a "
        f"whole step ({step_ms:.2f} ms median of 20, append included)"
    )
    print(f"  signed checkpoint        {1000 * t_cp:8.3f} ms")
    print(
        f"  inclusion proof          {1000 * t_incl:8.3f} ms   ({hashes} hashes; "
        f"log2(n) = {n.bit_length()}) verify {1000 * t_vin:.3f} ms"
    )
    print(f"  consistency proof {old:,}->{n:,} {1000 * t_cons:8.3f} ms   ({len(cons)} hashes)")
    print(
        f"  peak Python memory of the proofs {peak / 2**20:.1f} MiB; "
        f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=1000, help="chain length and DAG width")
    parser.add_argument("--side", type=int, default=128, help="side of each (random, PNG) image")
    parser.add_argument("--log-sizes", default="1000,100000", help="transparency log sizes")
    parser.add_argument("--log-only", action="store_true", help="only the transparency log")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-lineage-") as tmp:
        setup_django(Path(tmp) / "data")
        from django.db import connection

        print(f"db: {connection.vendor}; images {args.side}x{args.side} random RGB PNG")
        if args.log_only:
            for size in (int(x) for x in args.log_sizes.split(",")):
                report_log(size, args.side)
            return
        start = time.perf_counter()
        chain_end = build_chain(args.steps, args.side)
        wide_end = build_wide(args.steps, args.side)
        print(f"built both shapes in {time.perf_counter() - start:.1f} s")
        if connection.vendor == "postgresql":
            # Fresh tables have no statistics until autovacuum runs; without them the planner
            # seq-scans inside the recursive CTE (~100x slower on the chain). A live archive
            # is analysed by autovacuum, so measure that state.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        report(f"chain of {args.steps} steps", chain_end)
        report(f"wide DAG of {args.steps} inputs", wide_end)
        for size in (int(x) for x in args.log_sizes.split(",")):
            report_log(size, args.side)


if __name__ == "__main__":
    main()
