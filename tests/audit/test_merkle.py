"""RFC 6962 Merkle tree: the certificate-transparency reference vectors and properties."""

from __future__ import annotations

import hashlib

import pytest

from auditsvc.audit import merkle

# transparency-dev/merkle testonly: LeafInputs, RootHashes, NodeHashes and the reference proofs.
LEAVES = [bytes.fromhex(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
INCLUSION = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
    (0, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (5, 8, [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (2, 5, [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
    (6, 8, [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
]

HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def hexes(values: list[bytes]) -> list[str]:
    return [v.hex() for v in values]


def test_leaf_hashes_match_reference() -> None:
    assert hexes(HASHES) == LEAF_HASHES


@pytest.mark.parametrize("size", range(9))
def test_roots_match_reference(size: int) -> None:
    assert merkle.root(HASHES[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "want"), INCLUSION)
def test_inclusion_proofs_match_reference(index: int, size: int, want: list[str]) -> None:
    path = merkle.inclusion_proof(HASHES[:size], index)
    assert hexes(path) == want
    assert merkle.verify_inclusion(HASHES[index], index, size, path, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "want"), CONSISTENCY)
def test_consistency_proofs_match_reference(old: int, new: int, want: list[str]) -> None:
    proof = merkle.consistency_proof(HASHES[:new], old)
    assert hexes(proof) == want
    assert merkle.verify_consistency(old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), proof)


def test_split_point_is_largest_power_of_two_below() -> None:
    assert [merkle.split_point(n) for n in (2, 3, 4, 5, 7, 8, 9, 63, 28937)] == [1, 2, 2, 4, 4, 4, 8, 32, 16384]
    with pytest.raises(ValueError):
        merkle.split_point(1)


def reference_root(hashes: list[bytes]) -> bytes:
    """MTH written straight from RFC 6962 section 2.1, recursively."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = merkle.split_point(len(hashes))
    return merkle.node_hash(reference_root(hashes[:k]), reference_root(hashes[k:]))


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


MAX = 70


def test_streaming_root_equals_recursive_definition_for_every_size() -> None:
    hashes = leaves(MAX)
    builder = merkle.TreeBuilder()
    assert builder.root() == merkle.EMPTY_ROOT
    for n in range(1, MAX + 1):
        builder.append(hashes[n - 1])
        assert builder.root() == reference_root(hashes[:n]) == merkle.root(hashes[:n])


def test_every_index_of_every_size_verifies_and_tampering_fails() -> None:
    hashes = leaves(MAX)
    for size in range(1, MAX + 1):
        root = merkle.root(hashes[:size])
        for index in range(size):
            path = merkle.inclusion_proof(hashes[:size], index)
            assert merkle.verify_inclusion(hashes[index], index, size, path, root), (index, size)
            assert not merkle.verify_inclusion(flip(hashes[index]), index, size, path, root)
            assert not merkle.verify_inclusion(hashes[index], index, size, path, flip(root))
            if size > 1:
                assert not merkle.verify_inclusion(hashes[index], (index + 1) % size, size, path, root)
            for k in range(len(path)):
                tampered = path[:k] + [flip(path[k])] + path[k + 1 :]
                assert not merkle.verify_inclusion(hashes[index], index, size, tampered, root)
            if path:
                assert not merkle.verify_inclusion(hashes[index], index, size, path[:-1], root)
            assert not merkle.verify_inclusion(hashes[index], index, size, path + [root], root)


def test_every_pair_of_sizes_is_consistent_and_tampering_fails() -> None:
    hashes = leaves(MAX)
    roots = [merkle.root(hashes[:n]) for n in range(MAX + 1)]
    for new in range(1, MAX + 1):
        for old in range(1, new + 1):
            proof = merkle.consistency_proof(hashes, old, new)
            assert merkle.verify_consistency(old, new, roots[old], roots[new], proof), (old, new)
            assert not merkle.verify_consistency(old, new, flip(roots[old]), roots[new], proof)
            assert not merkle.verify_consistency(old, new, roots[old], flip(roots[new]), proof)
            for k in range(len(proof)):
                tampered = proof[:k] + [flip(proof[k])] + proof[k + 1 :]
                assert not merkle.verify_consistency(old, new, roots[old], roots[new], tampered)
            if old < new:
                assert not merkle.verify_consistency(old, new, roots[old], roots[new], proof[:-1])
                assert not merkle.verify_consistency(new, old, roots[new], roots[old], proof)


def test_empty_tree_is_a_prefix_of_everything() -> None:
    hashes = leaves(5)
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, merkle.root(hashes), [])
    assert not merkle.verify_consistency(0, 5, merkle.root(hashes), merkle.root(hashes), [])


def test_bad_arguments() -> None:
    hashes = leaves(4)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(hashes, 4)
    with pytest.raises(ValueError):
        merkle.consistency_proof(hashes, 0)
    with pytest.raises(ValueError):
        merkle.consistency_proof(hashes, 5)
    assert not merkle.verify_inclusion(hashes[0], 0, 0, [], merkle.EMPTY_ROOT)
    assert not merkle.verify_inclusion(hashes[0], -1, 4, [], merkle.root(hashes))
    assert not merkle.verify_inclusion(hashes[0], 0, 4, [b"short"], merkle.root(hashes))


def test_hash_list_is_a_compact_sequence() -> None:
    hashes = leaves(10)
    compact = merkle.HashList(hashes)
    assert len(compact) == 10 and list(compact) == hashes and compact[-1] == hashes[-1] and compact[2:4] == hashes[2:4]
    assert merkle.inclusion_proof(compact, 7) == merkle.inclusion_proof(hashes, 7)
    with pytest.raises(ValueError):
        compact.append(b"not 32 bytes")
    with pytest.raises(IndexError):
        compact[10]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 64, 65])
def test_proof_tree_gives_the_same_root_and_paths_as_the_recursive_definition(size):
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(size)]
    tree = merkle.ProofTree(leaves)
    assert tree.size == size and tree.root() == merkle.root(leaves)
    for index in range(size):
        assert tree.path(index) == merkle.inclusion_proof(leaves, index)
        assert tree.leaf(index) == leaves[index]
        assert merkle.verify_inclusion(leaves[index], index, size, tree.path(index), tree.root())
    with pytest.raises(ValueError):
        tree.path(size)
