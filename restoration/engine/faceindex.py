"""Nearest faces: which stored faces look most like this one?

An in-memory index of face embeddings (``identity.measure_faces``: 128-D dlib descriptors,
compared by Euclidean distance) keyed by integer ids, the database ids of the face rows. It
answers "the k nearest faces to this embedding, with their distances", optionally only among
the faces a caller may see.

Two ways of answering, chosen by size (``HNSW_THRESHOLD``):

* an exact scan: one matrix-vector product over a contiguous float32 matrix. Exact answers, no
  build cost, and (measured, see ``HNSW_THRESHOLD``) as fast as the graph up to a few hundred
  thousand faces;
* an HNSW graph from ``usearch`` (metric l2sq, vectors stored as float16 since they are only
  used to find candidates), for larger archives. Its answers are approximate: the true nearest
  face can be missed (recall below 1), never misreported.

Either way the distances returned are exact: the candidates are re-measured from the float32
vectors kept here, the same figure ``identity.distance`` gives for the two embeddings.

Visibility (``allowed``) is part of the search, never a filter of its results: a restricted
face is never returned and never takes the place of a visible one, so k visible faces come back
whenever k visible faces exist, however many restricted faces lie nearer.

Thread safety: any number of concurrent searches, one writer at a time (``add``, ``remove``)
that waits for the searches in progress and holds new ones back until it is done.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .identity import EMBEDDING_DIM

# The size from which the HNSW graph answers instead of the exact scan. Measured on this
# project's 2-core machine, 128-D random unit vectors (the worst case for a graph: real face
# embeddings cluster by person, random ones do not), k = 10 re-ranked from 40 candidates,
# graph with connectivity 32, expansion 128 on add and 512 on search:
#
#       faces   exact scan   graph search   graph recall@10   graph build (2 threads)
#      20,000      0.23 ms        0.83 ms             0.995          2.2 s
#     100,000      1.1 ms         1.9 ms              0.93          25 s
#     300,000     ~3.5 ms         2.8 ms              0.75         ~100-140 s
#   1,000,000    22-47 ms       (bench/faces.py; the scan's figure from two loaded runs)
#
# The scan costs ~11 ns a face and is exact; the graph grows with log n but needs a build of
# minutes and, on hard data, misses faces. They cross in speed near 300,000 faces, where the
# graph still gives up a quarter of the true neighbours; at 500,000 the scan costs ~6 ms, well
# inside a page's budget, so the graph takes over only there, where the scan heads for tens of
# milliseconds. ``bench/faces.py`` re-measures both sides at 10,000 and 1,000,000 faces.
HNSW_THRESHOLD = 500_000
# Below half the threshold (after removals) the graph is dropped again; the gap keeps an index
# hovering around the threshold from building and dropping it on every call.
HNSW_DROP_BELOW = 0.5
# HNSW parameters. connectivity 32 rather than usearch's default 16: on 128-D data it buys
# recall@10 0.97 instead of 0.87 at ef=256 (20,000 faces), for 22% more build time.
HNSW_CONNECTIVITY = 32
HNSW_EXPANSION_ADD = 128
HNSW_EXPANSION_SEARCH = 512
# Candidates fetched per wanted result before the exact re-rank: the graph's order is only
# approximate (float16, greedy walk), so its top k is re-ranked from a wider list.
OVERSAMPLE = 4
# When the allowed faces are this rare among the candidates, walking the graph wider costs more
# than the exact scan (which then applies the filter lazily in exact order).
MAX_HNSW_CANDIDATES = 4096
# An ``allowed`` set at most this fraction of the index is searched directly (its rows gathered
# and scanned exactly): cheaper than walking past the many faces it does not include.
GATHER_FRACTION = 1 / 64
# OpenBLAS splits a matrix-vector product over its threads, and on a loaded 2-core machine a
# thread that is not scheduled stalls the whole product (measured: 8.0 ms instead of 0.17 ms at
# 10,000 faces while a test suite ran beside it). numpy's own single-threaded loop (einsum) is
# immune and costs 0.2 ms at 10,000 faces and 2 ms at 100,000; BLAS is used only above that,
# where its two threads save more than a stall costs.
SINGLE_THREAD_BELOW = 200_000
FORMAT = 1


class _ReadWriteLock:
    """Many readers or one writer. A waiting writer holds back new readers, so that a steady
    stream of searches cannot starve an ``add``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


Allowed = Callable[[int], bool] | AbstractSet[int] | None


def _as_predicate(allowed: Allowed) -> Callable[[int], bool] | None:
    if allowed is None:
        return None
    if isinstance(allowed, AbstractSet):
        return allowed.__contains__
    return allowed


class FaceIndex:
    """Face embeddings by id; see the module's docstring."""

    def __init__(self, *, hnsw_threshold: int = HNSW_THRESHOLD, dim: int = EMBEDDING_DIM) -> None:
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        # Rows [0, _count) are live; the arrays grow by doubling so that adding one face at a
        # time stays amortised O(1). A removed row is filled with the last one (contiguous
        # rows keep the scan a single matrix-vector product).
        self._vectors = np.empty((0, dim), np.float32)
        self._norms = np.empty(0, np.float32)  # squared norms, for the scan's expansion
        self._ids = np.empty(0, np.int64)
        self._count = 0
        self._rows: dict[int, int] = {}
        self._hnsw: Any = None  # usearch.index.Index while the index is large
        self._lock = _ReadWriteLock()
        # usearch's Python binding runs a single-threaded search in its thread slot 0 and
        # reserves capacity on every call: two native calls at once would share that slot.
        # The graph walk is short (about a millisecond); the re-rank around it runs in parallel.
        self._native = threading.Lock()

    # --- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count

    def __contains__(self, face_id: object) -> bool:
        return face_id in self._rows

    @property
    def mode(self) -> str:
        """``exact`` or ``hnsw``: which way searches are answered now."""
        return "exact" if self._hnsw is None else "hnsw"

    def search(
        self,
        vector: np.ndarray,
        k: int,
        *,
        max_distance: float | None = None,
        allowed: Allowed = None,
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest faces to ``vector`` as (id, distance), nearest first; only faces
        within ``max_distance`` (inclusive) when given, and only ids that ``allowed`` admits
        (a predicate or a set of ids) when given."""
        query = self._check_vector(vector)
        if k <= 0:
            return []
        admit = _as_predicate(allowed)
        with self._lock.read():
            if not self._count:
                return []
            if isinstance(allowed, AbstractSet) and len(allowed) <= self._count * GATHER_FRACTION:
                rows = self._gather(allowed)
            elif self._hnsw is not None:
                found = self._graph_candidates(query, k, max_distance, admit)
                rows = found if found is not None else self._scan(query, k, max_distance, admit)
            else:
                rows = self._scan(query, k, max_distance, admit)
            return self._rerank(query, rows, k, max_distance)

    # --- writing -------------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add faces; an id already present has its vector replaced."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        vectors = np.ascontiguousarray(vectors, np.float32).reshape(-1, self.dim)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("an id appears twice in one add")
        if (ids < 0).any():
            raise ValueError("face ids are non-negative (the database's ids)")
        if not np.isfinite(vectors).all():
            raise ValueError("a vector has a NaN or infinite component")
        if not len(ids):
            return
        with self._lock.write():
            self._remove_locked(ids)
            self._append(ids, vectors)
            if self._hnsw is not None:
                with self._native:
                    self._hnsw.add(ids, vectors)
            elif self._count >= max(1, self.hnsw_threshold):
                self._build_graph()

    def remove(self, ids: np.ndarray | list[int]) -> int:
        """Remove faces by id (absent ids are ignored); returns how many were removed."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        with self._lock.write():
            removed = self._remove_locked(ids)
            if self._hnsw is not None and self._count < self.hnsw_threshold * HNSW_DROP_BELOW:
                self._hnsw = None
        return removed

    # --- saving --------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` (one .npz file, replaced atomically). The HNSW graph is
        saved with it: rebuilding it costs minutes at a million faces."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        with self._lock.read():
            arrays: dict[str, np.ndarray] = {
                "format": np.array([FORMAT, self.dim], np.int64),
                "ids": self._ids[: self._count],
                "vectors": self._vectors[: self._count],
            }
            if self._hnsw is not None:
                with self._native:
                    arrays["hnsw"] = np.frombuffer(bytes(self._hnsw.save()), np.uint8)
            with open(tmp, "wb") as out:
                np.savez(out, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, target)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, hnsw_threshold: int = HNSW_THRESHOLD
    ) -> FaceIndex:
        with np.load(path, allow_pickle=False) as data:
            form = data["format"]
            if int(form[0]) != FORMAT:
                raise ValueError(f"{path}: face index format {int(form[0])}, {FORMAT} expected")
            index = cls(hnsw_threshold=hnsw_threshold, dim=int(form[1]))
            ids = data["ids"]
            index._append(ids, np.ascontiguousarray(data["vectors"], np.float32))
            graph = data["hnsw"] if "hnsw" in data.files else None
        large = index._count >= max(1, hnsw_threshold)
        keep = index._count >= hnsw_threshold * HNSW_DROP_BELOW
        if graph is not None and keep:
            index._hnsw = _restore_graph(graph.tobytes())
            if index._hnsw is None or len(index._hnsw) != index._count:
                index._hnsw = None  # a graph that disagrees with the vectors is rebuilt
        if index._hnsw is None and large:
            index._build_graph()
        return index

    # --- internals -----------------------------------------------------------------------------

    def _check_vector(self, vector: np.ndarray) -> np.ndarray:
        query = np.asarray(vector, np.float32).reshape(-1)
        if query.shape != (self.dim,):
            raise ValueError(f"a query has {self.dim} components, not {query.size}")
        if not np.isfinite(query).all():
            raise ValueError("the query has a NaN or infinite component")
        return query

    def _append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        n = len(ids)
        need = self._count + n
        if need > len(self._ids):
            capacity = max(need, 2 * len(self._ids), 1024)
            self._vectors = _grown(self._vectors, self._count, (capacity, self.dim))
            self._norms = _grown(self._norms, self._count, (capacity,))
            self._ids = _grown(self._ids, self._count, (capacity,))
        rows = slice(self._count, need)
        self._vectors[rows] = vectors
        self._norms[rows] = np.einsum("ij,ij->i", vectors, vectors)
        self._ids[rows] = ids
        self._rows.update(zip(ids.tolist(), range(self._count, need), strict=True))
        self._count = need

    def _remove_locked(self, ids: np.ndarray) -> int:
        present = [i for i in ids.tolist() if i in self._rows]
        for face_id in present:
            row = self._rows.pop(face_id)
            last = self._count - 1
            if row != last:  # the last row fills the hole
                moved = int(self._ids[last])
                self._vectors[row] = self._vectors[last]
                self._norms[row] = self._norms[last]
                self._ids[row] = moved
                self._rows[moved] = row
            self._count = last
        if present and self._hnsw is not None:
            with self._native:
                self._hnsw.remove(np.asarray(present, np.int64))
        return len(present)

    def _build_graph(self) -> None:
        from usearch.index import Index

        graph = Index(
            ndim=self.dim,
            metric="l2sq",
            dtype="f16",
            connectivity=HNSW_CONNECTIVITY,
            expansion_add=HNSW_EXPANSION_ADD,
            expansion_search=HNSW_EXPANSION_SEARCH,
        )
        graph.add(self._ids[: self._count], self._vectors[: self._count])
        self._hnsw = graph

    def _gather(self, allowed: AbstractSet[int]) -> np.ndarray:
        """The rows of the allowed faces that are indexed: every candidate there is."""
        rows = (self._rows.get(i) for i in allowed)
        return np.fromiter((r for r in rows if r is not None), np.int64)

    def _graph_candidates(
        self,
        query: np.ndarray,
        k: int,
        max_distance: float | None,
        admit: Callable[[int], bool] | None,
    ) -> np.ndarray | None:
        """Rows of at least ``k`` + margin admitted candidates from the graph (or all of them
        that it holds within ``max_distance``); None when the admitted faces are too rare for
        the graph, the exact scan then answers."""
        want = k + _margin(k)
        count = min(self._count, want * OVERSAMPLE)
        limit = _limit(max_distance)
        while True:
            with self._native:
                found = self._hnsw.search(query, count, threads=1)
            keys = found.keys.tolist()
            accepted = keys if admit is None else [key for key in keys if admit(key)]
            exhausted = len(keys) < count or count >= self._count
            beyond = limit is not None and len(keys) and float(found.distances[-1]) > limit
            if len(accepted) >= want or exhausted or beyond:
                return np.fromiter((self._rows[key] for key in accepted), np.int64)
            if count >= MAX_HNSW_CANDIDATES:
                return None
            count = min(self._count, count * 4, MAX_HNSW_CANDIDATES)

    def _scan(
        self,
        query: np.ndarray,
        k: int,
        max_distance: float | None,
        admit: Callable[[int], bool] | None,
    ) -> np.ndarray:
        """Rows of the nearest admitted faces by the exact scan: squared distances by the
        expansion |x|^2 - 2 x.q + |q|^2 (one matrix-vector product), walked in that order and
        the filter asked only of the faces walked past."""
        n = self._count
        matrix = self._vectors[:n]
        dots = np.einsum("ij,j->i", matrix, query) if n < SINGLE_THREAD_BELOW else matrix @ query
        d2 = self._norms[:n] - 2.0 * dots + float(query @ query)
        want = k + _margin(k)
        limit = _limit(max_distance)
        taken: list[int] = []
        seen: set[int] = set()
        m = min(n, want * OVERSAMPLE)
        while True:
            part = np.argpartition(d2, m - 1)[:m] if m < n else np.arange(n)
            order = part[np.argsort(d2[part], kind="stable")]
            for row in order.tolist():
                if row in seen:
                    continue
                seen.add(row)
                if limit is not None and d2[row] > limit:
                    return np.asarray(taken, np.int64)
                if admit is None or admit(int(self._ids[row])):
                    taken.append(row)
                    if len(taken) >= want:
                        return np.asarray(taken, np.int64)
            if m >= n:
                return np.asarray(taken, np.int64)
            m = min(n, m * 8)

    def _rerank(
        self, query: np.ndarray, rows: np.ndarray, k: int, max_distance: float | None
    ) -> list[tuple[int, float]]:
        """Exact distances of the candidate rows, nearest first, cut to ``k`` and the radius."""
        if not len(rows):
            return []
        distances = np.linalg.norm(self._vectors[rows] - query, axis=1)
        order = np.lexsort((self._ids[rows], distances))[:k]
        result = [(int(self._ids[rows[i]]), float(distances[i])) for i in order]
        if max_distance is not None:
            result = [(i, d) for i, d in result if d <= max_distance]
        return result


def _margin(k: int) -> int:
    """Extra admitted candidates beyond k, re-ranked exactly: the scan's expansion and the
    graph's float16 distances can each swap faces whose distances differ in the last digits,
    and the margin keeps such a face inside the candidates."""
    return max(k, 8)


def _limit(max_distance: float | None) -> float | None:
    """The squared radius the candidate search stops at, widened beyond rounding (the exact cut
    is made after the re-rank)."""
    if max_distance is None:
        return None
    return (max_distance * 1.01 + 1e-3) ** 2


def _grown(array: np.ndarray, used: int, shape: tuple[int, ...]) -> np.ndarray:
    grown = np.empty(shape, array.dtype)
    grown[:used] = array[:used]
    return grown


def _restore_graph(buffer: bytes) -> Any:
    from usearch.index import Index

    try:
        # The search depth is a setting of the process, not of the saved graph.
        return Index.restore(buffer, expansion_search=HNSW_EXPANSION_SEARCH)
    except (RuntimeError, ValueError):
        return None
