"""Merkle tree heads and inclusion proofs, as RFC 9162 (Certificate Transparency 2.0) §2.1 defines them.

One signature over a tree head proves every message of a batch: each message carries its inclusion
proof (its index, the tree's size and the sibling hashes on its way up), so a consumer proves any one
message on its own, whatever batches it reads them in, without the others.

- leaf hash: ``SHA-256(0x00 || value)``; interior node: ``SHA-256(0x01 || left || right)`` (the
  prefixes keep a leaf from passing for a node, RFC 9162 §2.1.1);
- the tree of ``n`` leaves splits at the largest power of two below ``n`` (RFC 9162 §2.1.1), which is
  the tree built bottom up pairing neighbours and carrying an odd last node up unchanged; the proofs
  are made that way, all of a batch at once, in ``n`` hashes;
- a proof is checked with RFC 9162 §2.1.3.2's algorithm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
_LEAF = b"\x00"
_NODE = b"\x01"


class ProofError(ValueError):
    """An inclusion proof that is malformed or does not lead to a tree head."""


def leaf_hash(value: bytes) -> bytes:
    return hashlib.sha256(_LEAF + value).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def tree(values: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The tree head of ``values`` (at least one) and each value's inclusion proof (sibling hashes,
    lowest first), as RFC 9162 §2.1.3.1's ``PATH(m, D[n])`` gives them."""
    if not values:
        raise ValueError("a tree needs at least one value")
    level = [leaf_hash(value) for value in values]
    proofs: list[list[bytes]] = [[] for _ in values]
    positions = list(range(len(values)))  # each leaf's node on the current level
    while len(level) > 1:
        for leaf, at in enumerate(positions):
            sibling = at ^ 1
            if sibling < len(level):  # an odd last node has no sibling here: it is carried up
                proofs[leaf].append(level[sibling])
        level = [node_hash(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
        positions = [at >> 1 for at in positions]
    return level[0], proofs


def head_from_proof(value: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The tree head that ``proof`` proves ``value`` to be leaf ``index`` of, in a tree of ``size``
    leaves (RFC 9162 §2.1.3.2); ProofError when the proof cannot be one."""
    if not 0 <= index < size:
        raise ProofError("the index is outside the tree")
    fn, sn, head = index, size - 1, leaf_hash(value)
    for sibling in proof:
        if len(sibling) != HASH_SIZE or sn == 0:
            raise ProofError("the proof does not fit the tree")
        if fn & 1 or fn == sn:
            head = node_hash(sibling, head)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            head = node_hash(head, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is too short for the tree")
    return head


__all__ = ["HASH_SIZE", "ProofError", "head_from_proof", "leaf_hash", "node_hash", "tree"]
