"""FaceIndex: the exact scan and the HNSW graph against a brute-force reference, the visibility
filter, removal, saving and the radius. Plain numpy data; no database, no face models."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from restoration.engine.faceindex import FaceIndex

DIM = 128
N = 20_000
K = 10
EXACT = 10**12  # a threshold no test reaches: the exact scan answers
GRAPH = 1  # the graph answers from the first face


def unitish(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random directions with norms within 5% of 1 (dlib's descriptors are about unit length)."""
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return (x * rng.uniform(0.95, 1.05, (n, 1))).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240611)
    ids = rng.permutation(10 * N)[:N].astype(np.int64) + 1  # sparse, unordered database ids
    return ids, unitish(rng, N), unitish(rng, 60)


@pytest.fixture(scope="module")
def exact(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> FaceIndex:
    index = FaceIndex(hnsw_threshold=EXACT)
    index.add(data[0], data[1])
    return index


@pytest.fixture(scope="module")
def graph(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> FaceIndex:
    index = FaceIndex(hnsw_threshold=GRAPH)
    index.add(data[0], data[1])
    return index


def reference(ids: np.ndarray, vectors: np.ndarray, query: np.ndarray) -> list[tuple[int, float]]:
    """Every face by brute force (float64), nearest first."""
    d = np.linalg.norm(vectors.astype(np.float64) - query.astype(np.float64), axis=1)
    order = np.lexsort((ids, d))
    return [(int(ids[i]), float(d[i])) for i in order]


def test_modes(exact: FaceIndex, graph: FaceIndex) -> None:
    assert exact.mode == "exact" and graph.mode == "hnsw"
    assert len(exact) == len(graph) == N


def test_exact_scan_is_exact_and_graph_recalls(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], exact: FaceIndex, graph: FaceIndex
) -> None:
    ids, vectors, queries = data
    by_id = dict(zip(ids.tolist(), vectors, strict=True))
    hits = 0
    for query in queries:
        truth = reference(ids, vectors, query)[:K]
        got = exact.search(query, K)
        assert [i for i, _ in got] == [i for i, _ in truth]
        np.testing.assert_allclose([d for _, d in got], [d for _, d in truth], rtol=1e-5)
        approx = graph.search(query, K)
        assert len(approx) == K
        distances = [d for _, d in approx]
        assert distances == sorted(distances)
        # the graph may miss a face, never misreport one: its distances are re-measured exactly
        for face_id, d in approx:
            assert d == pytest.approx(float(np.linalg.norm(by_id[face_id] - query)), rel=1e-5)
        hits += len({i for i, _ in truth} & {i for i, _ in approx})
    recall = hits / (K * len(queries))
    assert recall >= 0.95, f"HNSW recall@{K} {recall:.3f}"


@pytest.mark.parametrize("which", ["exact", "graph"])
def test_filter_returns_k_allowed_when_99_percent_of_the_nearest_are_not(
    which: str, request: pytest.FixtureRequest, data: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    index: FaceIndex = request.getfixturevalue(which)
    ids, vectors, queries = data
    for query in queries[:5]:
        ranked = [i for i, _ in reference(ids, vectors, query)]
        nearest = ranked[:3000]
        visible = set(nearest[::100])  # 1% of the 3,000 nearest faces may be seen, 30 of them
        restricted = set(nearest) - visible

        def allowed(face_id: int, restricted: set[int] = restricted) -> bool:
            return face_id not in restricted

        got = index.search(query, K, allowed=allowed)
        assert len(got) == K
        assert not restricted & {i for i, _ in got}
        expected = [i for i in ranked if i not in restricted][:K]
        if which == "exact":
            assert [i for i, _ in got] == expected
        else:
            assert len(set(expected) & {i for i, _ in got}) >= K - 2
        # the same rule as a set of ids (every face but the restricted ones)
        as_set = index.search(query, K, allowed=set(ids.tolist()) - restricted)
        assert [i for i, _ in as_set] == [i for i, _ in got]


@pytest.mark.parametrize("which", ["exact", "graph"])
def test_filter_never_leaks(
    which: str, request: pytest.FixtureRequest, data: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    index: FaceIndex = request.getfixturevalue(which)
    ids, vectors, queries = data
    for n, query in enumerate(queries[:20]):
        seen = set(np.random.default_rng(n).choice(ids, size=200, replace=False).tolist())
        for allowed in (seen, seen.__contains__, lambda i, s=seen: i in s):
            got = index.search(query, K, allowed=allowed)
            assert len(got) == K and {i for i, _ in got} <= seen
        # a small set is searched exactly, in either mode
        truth = [(i, d) for i, d in reference(ids, vectors, query) if i in seen][:K]
        assert [i for i, _ in index.search(query, K, allowed=seen)] == [i for i, _ in truth]
    assert index.search(queries[0], K, allowed=set()) == []
    assert index.search(queries[0], K, allowed=lambda _i: False) == []


@pytest.mark.parametrize("threshold", [EXACT, GRAPH])
def test_remove_and_replace(threshold: int) -> None:
    rng = np.random.default_rng(3)
    vectors = unitish(rng, 2000)
    ids = np.arange(2000, dtype=np.int64) * 3
    index = FaceIndex(hnsw_threshold=threshold)
    index.add(ids, vectors)
    query = vectors[7]
    assert index.search(query, 1)[0] == (21, 0.0)
    assert index.remove([21, 24, 999_999]) == 2  # an absent id is ignored
    assert len(index) == 1998 and 21 not in index
    got = index.search(query, 50)
    assert 21 not in {i for i, _ in got} and 24 not in {i for i, _ in got}
    truth = reference(np.delete(ids, [7, 8]), np.delete(vectors, [7, 8], axis=0), query)[:5]
    assert [i for i, _ in index.search(query, 5)] == [i for i, _ in truth]
    # added again, and an existing id's vector replaced
    index.add(np.array([21, 30]), np.stack([vectors[7], vectors[7]]))
    assert len(index) == 1999
    assert {i for i, _ in index.search(query, 2)} == {21, 30}
    with pytest.raises(ValueError):
        index.add(np.array([1, 1]), vectors[:2])
    with pytest.raises(ValueError):
        index.search(query[:64], 3)


def test_graph_dropped_below_half_the_threshold() -> None:
    vectors = unitish(np.random.default_rng(4), 300)
    index = FaceIndex(hnsw_threshold=200)
    index.add(np.arange(150), vectors[:150])
    assert index.mode == "exact"
    index.add(np.arange(150, 300), vectors[150:])
    assert index.mode == "hnsw"
    index.remove(np.arange(180))
    assert index.mode == "hnsw"  # 120 faces: above half the threshold
    index.remove(np.arange(180, 210))
    assert index.mode == "exact" and len(index) == 90


@pytest.mark.parametrize("threshold", [EXACT, GRAPH])
def test_save_load_round_trip(threshold: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    vectors = unitish(rng, 3000)
    ids = rng.permutation(100_000)[:3000].astype(np.int64)
    index = FaceIndex(hnsw_threshold=threshold)
    index.add(ids, vectors)
    index.remove(ids[:100])
    path = tmp_path / "faces.npz"
    index.save(path)
    loaded = FaceIndex.load(path, hnsw_threshold=threshold)
    assert loaded.mode == index.mode and len(loaded) == len(index) == 2900
    for query in unitish(rng, 10):
        assert loaded.search(query, K) == index.search(query, K)
    loaded.add(ids[:100], vectors[:100])  # a loaded index takes writes
    assert len(loaded) == 3000 and loaded.search(vectors[0], 1)[0][0] == int(ids[0])


@pytest.mark.parametrize("which", ["exact", "graph"])
def test_max_distance(
    which: str, request: pytest.FixtureRequest, data: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    index: FaceIndex = request.getfixturevalue(which)
    ids, vectors, queries = data
    query = vectors[0] + 0.3 * queries[0]  # near one face, far from the others
    truth = reference(ids, vectors, query)
    radius = truth[3][1] + 1e-4  # the four nearest are inside
    got = index.search(query, K, max_distance=radius)
    assert [i for i, _ in got] == [i for i, _ in truth[:4]]
    assert all(d <= radius for _, d in got)
    assert index.search(query, K, max_distance=truth[0][1] / 2) == []


def test_concurrent_searches_with_a_writer() -> None:
    rng = np.random.default_rng(6)
    vectors = unitish(rng, 4000)
    index = FaceIndex(hnsw_threshold=1000)
    index.add(np.arange(2000), vectors[:2000])
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher(seed: int) -> None:
        local = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                got = index.search(unitish(local, 1)[0], K, allowed=lambda i: i % 2 == 0)
                assert len(got) == K and all(i % 2 == 0 and i < 4000 for i, _ in got)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=searcher, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for start in range(2000, 4000, 250):
        index.add(np.arange(start, start + 250), vectors[start : start + 250])
        index.remove(np.arange(start - 2000, start - 1900))
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(index) == 4000 - 800
