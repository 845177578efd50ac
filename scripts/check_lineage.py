#!/usr/bin/env python3
"""Check an exported lineage against a signed checkpoint, with no database and no archive code.

    python check_lineage.py lineage.json --public-key KEY [--checkpoint checkpoint.json]
                            [--file image.png]

Needs only the Python standard library and ``cryptography`` (for Ed25519). ``lineage.json`` is
``GET /api/v1/artifacts/{id}/bundle/`` (or ``manage.py checkpoint bundle ID``); KEY is the
archive's Ed25519 public key (raw, base64; as published, e.g. in ``checkpoints/latest/``, but
obtained from a channel you trust). It checks:

1. the checkpoint's signature with KEY (and, with ``--checkpoint``, that the bundle's checkpoint
   is that published one, or is consistent with it when a ``consistency`` proof is given);
2. each step's record: ``sha256(canonical JSON of the record) == record_hash`` (a withheld
   record is checked by inclusion only);
3. each step's inclusion in the log: RFC 9162 leaf hash of ``step:<id>:<record_hash>`` and its
   audit path lead to the checkpoint's root;
4. the chain: every input of every record names a step hash the bundle holds (or none, for a
   master), and every artifact's ``generated_by`` is a step of the bundle;
5. with ``--file``: the file's sha256 is the exported artifact's.

Exit status 0 when everything holds; 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def leaf_hash(kind: str, record_id: int, record_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + f"{kind}:{int(record_id)}:{record_hash}".encode()).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162, 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
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


def verify_consistency(m: int, n: int, old: bytes, new: bytes, path: list[bytes]) -> bool:
    """RFC 9162, 2.1.4.2."""
    if m > n or m == 0:
        return False
    if m == n:
        return not path and old == new
    if not path:
        return False
    if m & (m - 1) == 0:
        path = [old, *path]
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old and sr == new


def checkpoint_body(cp: dict[str, Any]) -> bytes:
    root_b64 = base64.b64encode(bytes.fromhex(cp["root"])).decode()
    return f"{cp['origin']}\n{int(cp['tree_size'])}\n{root_b64}\n{cp['signed_at']}\n".encode()


def signature_ok(cp: dict[str, Any], public_key_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(cp["signature"]), checkpoint_body(cp))
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return False
    return True


def check(
    bundle: dict[str, Any],
    public_key_b64: str,
    published: dict[str, Any] | None = None,
    file_bytes: bytes | None = None,
) -> list[str]:
    problems: list[str] = []
    cp = bundle.get("checkpoint")
    if not cp:
        return ["the lineage carries no checkpoint: export it with proofs (the bundle route)"]
    if not signature_ok(cp, public_key_b64):
        problems.append("checkpoint: the signature does not verify with the given public key")
    if published is not None:
        if not signature_ok(published, public_key_b64):
            problems.append("published checkpoint: the signature does not verify")
        same = (published["tree_size"], published["root"]) == (cp["tree_size"], cp["root"])
        proof = bundle.get("consistency")
        if not same and (
            proof is None
            or not verify_consistency(
                int(published["tree_size"]),
                int(cp["tree_size"]),
                bytes.fromhex(published["root"]),
                bytes.fromhex(cp["root"]),
                [bytes.fromhex(h) for h in proof],
            )
        ):
            problems.append(
                "checkpoint: not the published one, and no valid consistency proof from it"
            )
    root = bytes.fromhex(cp["root"])
    hashes = set()
    for step in bundle["steps"]:
        sid, rhash, record = step["id"], step["record_hash"], step["record"]
        hashes.add(rhash)
        if (
            not record.get("withheld")
            and hashlib.sha256(canonical_json(record)).hexdigest() != rhash
        ):
            problems.append(f"step {sid}: its record does not hash to its record_hash")
        proof = step.get("log_proof")
        if proof is None:
            problems.append(f"step {sid}: no inclusion proof (not in the checkpoint's log)")
            continue
        if int(proof["tree_size"]) != int(cp["tree_size"]) or not verify_inclusion(
            int(proof["leaf_index"]),
            int(proof["tree_size"]),
            leaf_hash("step", sid, rhash),
            [bytes.fromhex(h) for h in proof["audit_path"]],
            root,
        ):
            problems.append(f"step {sid}: its inclusion proof does not lead to the checkpoint")
    for step in bundle["steps"]:
        for entry in step["record"].get("inputs", []):
            if entry.get("step") is not None and entry["step"] not in hashes:
                problems.append(
                    f"step {step['id']}: input {entry['sha256'][:12]} names step hash "
                    f"{entry['step'][:12]}, which the lineage does not hold"
                )
    for artifact in bundle.get("artifacts", []):
        if artifact.get("generated_by") and artifact["generated_by"] not in hashes:
            problems.append(f"artifact {artifact['id']}: its generating step is missing")
    if file_bytes is not None:
        digest = hashlib.sha256(file_bytes).hexdigest()
        if digest != bundle["artifact"]["sha256"]:
            problems.append(f"file: sha256 {digest} is not the exported artifact's")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lineage", type=Path)
    parser.add_argument("--public-key", required=True, help="Ed25519 public key, raw, base64")
    parser.add_argument("--checkpoint", type=Path, help="a published checkpoint (JSON)")
    parser.add_argument("--file", type=Path, help="the exported artifact's file")
    args = parser.parse_args(argv)
    bundle = json.loads(args.lineage.read_bytes())
    published = json.loads(args.checkpoint.read_bytes()) if args.checkpoint else None
    file_bytes = args.file.read_bytes() if args.file else None
    problems = check(bundle, args.public_key, published, file_bytes)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(
        f"ok: {len(bundle['steps'])} step records verified and included in the log of "
        f"{bundle['checkpoint']['tree_size']} records signed at {bundle['checkpoint']['signed_at']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
