"""Merkle tree hashing of RFC 9162 (Certificate Transparency 2.0), section 2.1: pure Python,
standard library only (no Django), so the stand-alone checker can use the same rules.

- leaf hash: ``SHA-256(0x00 || data)``; interior node: ``SHA-256(0x01 || left || right)``;
  the root of the empty tree is ``SHA-256("")``.
- A tree of ``n`` leaves splits at ``k``, the largest power of two below ``n``.
- Proofs (``inclusion_proof``, ``consistency_proof``) are RFC 9162's PATH and PROOF; they are
  computed from *complete* subtree hashes only (``Subtree``: a level and an index), which the
  log stores once they exist, so a proof reads O(log n) stored hashes.
- Verification (``verify_inclusion``, ``verify_consistency``) follows sections 2.1.3.2 and
  2.1.4.2 to the letter.

The log's leaf data binds a record's kind and id to its hash (``leaf_data``), so a leaf names
what it logs and a record cannot be swapped for another of the same hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

Subtree = tuple[int, int]  # (level, index): leaves [index * 2**level, (index + 1) * 2**level)
Getter = Callable[[Subtree], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_data(kind: str, record_id: int, record_hash: str) -> bytes:
    return f"{kind}:{int(record_id)}:{record_hash}".encode("ascii")


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- the log's right edge: append in O(log n), root in O(log n) ------------------------------


def frontier_append(
    frontier: Sequence[tuple[int, bytes]], size: int, leaf: bytes
) -> tuple[list[tuple[int, bytes]], list[tuple[int, int, bytes]]]:
    """Append ``leaf`` (a leaf hash) to a tree of ``size`` leaves whose frontier (the complete
    subtrees of its left-to-right decomposition, ``(level, hash)``, largest first) is given.

    Returns the new frontier and the complete subtrees of level >= 1 that the append completed,
    as ``(level, index, hash)``, to be stored."""
    stack = list(frontier)
    completed: list[tuple[int, int, bytes]] = []
    level, value = 0, leaf
    last = size  # index of the new leaf
    while stack and stack[-1][0] == level:
        _, left = stack.pop()
        value = node_hash(left, value)
        level += 1
        completed.append((level, last >> level, value))
    stack.append((level, value))
    return stack, completed


def frontier_root(frontier: Sequence[tuple[int, bytes]]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    value = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        value = node_hash(left, value)
    return value


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (for tests and the checker; O(n))."""
    if not leaves:
        return EMPTY_ROOT
    frontier: list[tuple[int, bytes]] = []
    for i, leaf in enumerate(leaves):
        frontier, _ = frontier_append(frontier, i, leaf)
    return frontier_root(frontier)


# --- proofs from complete subtrees -----------------------------------------------------------


def _mth(start: int, end: int, get: Getter) -> bytes:
    """MTH(D[start:end]) for a range whose left parts are aligned (as in every proof)."""
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        return get((n.bit_length() - 1, start // n))
    k = _split(n)
    return node_hash(_mth(start, start + k, get), _mth(start + k, end, get))


def _path(m: int, start: int, end: int, get: Getter) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, start, start + k, get), _mth(start + k, end, get)]
    return [*_path(m - k, start + k, end, get), _mth(start, start + k, get)]


def _subproof(m: int, start: int, end: int, whole: bool, get: Getter) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if whole else [_mth(start, end, get)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, start, start + k, whole, get), _mth(start + k, end, get)]
    return [*_subproof(m - k, start + k, end, False, get), _mth(start, start + k, get)]


def inclusion_proof(index: int, size: int, get: Getter) -> list[bytes]:
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    return _path(index, 0, size, get)


def consistency_proof(old_size: int, new_size: int, get: Getter) -> list[bytes]:
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size}")
    return _subproof(old_size, 0, new_size, True, get)


def subtrees_needed(compute: Callable[[Getter], object]) -> set[Subtree]:
    """The subtrees a proof computation reads (its shape does not depend on hash values), so a
    caller can fetch them all in one query before computing the proof."""
    needed: set[Subtree] = set()

    def record(key: Subtree) -> bytes:
        needed.add(key)
        return b"\x00" * 32

    compute(record)
    return needed


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) ---------------------------------------------


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Iterable[bytes], root: bytes
) -> bool:
    proof = list(proof)
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Iterable[bytes]
) -> bool:
    proof = list(proof)
    if old_size > new_size or old_size == 0:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    if old_size & (old_size - 1) == 0:  # a power of two: the old root starts the path
        proof = [old_root, *proof]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
