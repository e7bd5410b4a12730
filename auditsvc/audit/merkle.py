"""RFC 6962 (and RFC 9162 section 2.1) Merkle tree hashing, inclusion and consistency proofs.

Leaves are hashed as SHA-256(0x00 || data) and interior nodes as SHA-256(0x01 || left || right).
The tree over n leaves splits at the largest power of two smaller than n, so it can grow
append-only. All functions here take and return raw 32-byte digests; `leaf_hashes` is any
sequence of leaf hashes (already hashed with `leaf_hash`), e.g. a list or a `HashList`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one entry."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    if n < 2:
        raise ValueError(f"split_point needs n >= 2, got {n}")
    return 1 << ((n - 1).bit_length() - 1)


class HashList(Sequence[bytes]):
    """A compact, append-only list of 32-byte hashes (one bytearray, no per-item objects)."""

    __slots__ = ("_data",)

    def __init__(self, hashes: Iterable[bytes] = ()) -> None:
        self._data = bytearray()
        for value in hashes:
            self.append(value)

    def append(self, value: bytes) -> None:
        if len(value) != HASH_SIZE:
            raise ValueError(f"a hash is {HASH_SIZE} bytes, got {len(value)}")
        self._data += value

    def __len__(self) -> int:
        return len(self._data) // HASH_SIZE

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("hash index out of range")
        return bytes(self._data[index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def __iter__(self) -> Iterator[bytes]:
        for offset in range(0, len(self._data), HASH_SIZE):
            yield bytes(self._data[offset : offset + HASH_SIZE])


class TreeBuilder:
    """Streams leaf hashes in and yields the root at any point in O(log n) memory.

    Keeps the roots of the perfect subtrees that make up the tree so far (the "compact
    range" from index 0); the MTH folds them from the right.
    """

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, hash), heights strictly decreasing
        self.size = 0

    def append(self, leaf: bytes) -> None:
        height, value = 0, leaf
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            value = node_hash(left, value)
            height += 1
        self._stack.append((height, value))
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        value = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            value = node_hash(left, value)
        return value


def _range_root(leaf_hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    builder = TreeBuilder()
    for i in range(lo, hi):
        builder.append(leaf_hashes[i])
    return builder.root()


def root(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH over the given leaf hashes (SHA-256 of the empty string for no leaves)."""
    builder = TreeBuilder()
    builder.extend(leaf_hashes)
    return builder.root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """The audit path PATH(index, D[0:size]) of RFC 6962 section 2.1.1 (size defaults to all leaves)."""
    size = len(leaf_hashes) if size is None else size
    if not 0 <= index < size <= len(leaf_hashes):
        raise ValueError(f"no leaf {index} in a tree of size {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            path.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            path.append(_range_root(leaf_hashes, lo, lo + k))
            lo = lo + k
    path.reverse()  # the recursion appends from the leaf upwards
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int | None = None) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 6962 section 2.1.2; empty when the sizes are equal."""
    new_size = len(leaf_hashes) if new_size is None else new_size
    if not 0 < old_size <= new_size <= len(leaf_hashes):
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    proof: list[bytes] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    # SUBPROOF(m, D[lo:hi], complete), unrolled; hashes are collected top-down, emitted bottom-up.
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                proof.append(_range_root(leaf_hashes, lo, hi))
            break
        k = split_point(n)
        if m <= k:
            proof.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range_root(leaf_hashes, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    proof.reverse()
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root_hash: bytes) -> bool:
    """Whether `path` proves leaf hash `leaf` is entry `index` of the tree of `size` with `root_hash`.

    RFC 9162 section 2.1.3.2. Never raises for malformed input; returns False.
    """
    try:
        if not (0 <= index < size) or any(len(p) != HASH_SIZE for p in path):
            return False
        fn, sn, r = index, size - 1, leaf
        for p in path:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                r = node_hash(p, r)
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
            else:
                r = node_hash(r, p)
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == root_hash
    except TypeError:
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree (old_size, old_root) is a prefix of (new_size, new_root).

    RFC 9162 section 2.1.4.2. The empty tree is a prefix of every tree (with an empty proof).
    Never raises for malformed input; returns False.
    """
    try:
        if any(len(p) != HASH_SIZE for p in proof) or not 0 <= old_size <= new_size:
            return False
        if old_size == 0:
            return not proof and old_root == EMPTY_ROOT
        if old_size == new_size:
            return not proof and old_root == new_root
        path = list(proof)
        if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
            path.insert(0, old_root)
        if not path:
            return False
        fn, sn = old_size - 1, new_size - 1
        while fn & 1:
            fn >>= 1
            sn >>= 1
        fr = sr = path[0]
        for c in path[1:]:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr = node_hash(c, fr)
                sr = node_hash(c, sr)
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
            else:
                sr = node_hash(sr, c)
            fn >>= 1
            sn >>= 1
        return sn == 0 and fr == old_root and sr == new_root
    except TypeError:
        return False


class ProofTree:
    """Every level of the tree over a fixed list of leaves: audit paths in O(log n) each.

    `inclusion_proof` recomputes subtree roots, O(n) per proof; an export proving every event of
    a large period needs the levels kept instead. Bottom-up pairing that carries an odd last node
    up unchanged builds exactly the RFC 6962 tree. Memory: about twice the leaf hashes (64 MB
    for a million leaves), as flat byte arrays.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes]) -> None:
        level = bytearray()
        for value in leaf_hashes:
            if len(value) != HASH_SIZE:
                raise ValueError(f"a hash is {HASH_SIZE} bytes, got {len(value)}")
            level += value
        self._levels = [level]
        while len(level) > HASH_SIZE:
            above = bytearray()
            for offset in range(0, len(level) - HASH_SIZE, 2 * HASH_SIZE):
                above += node_hash(level[offset : offset + HASH_SIZE], level[offset + HASH_SIZE : offset + 2 * HASH_SIZE])
            if (len(level) // HASH_SIZE) % 2:
                above += level[-HASH_SIZE:]
            self._levels.append(above)
            level = above

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def root(self) -> bytes:
        return bytes(self._levels[-1]) if self.size else EMPTY_ROOT

    def leaf(self, index: int) -> bytes:
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def path(self, index: int) -> list[bytes]:
        """PATH(index, D[0:size]), from the leaf upwards: equal to inclusion_proof(leaves, index)."""
        if not 0 <= index < self.size:
            raise ValueError(f"no leaf {index} in a tree of size {self.size}")
        path: list[bytes] = []
        for level in self._levels[:-1]:
            count = len(level) // HASH_SIZE
            sibling = index ^ 1
            if sibling < count:
                path.append(bytes(level[sibling * HASH_SIZE : (sibling + 1) * HASH_SIZE]))
            index //= 2
        return path
