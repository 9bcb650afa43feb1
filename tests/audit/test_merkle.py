"""The RFC 6962 / 9162 Merkle tree: known roots, and proofs that check (or do not)."""

from __future__ import annotations

import hashlib

import pytest

from firewall.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_path,
    inclusion_path,
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

# The leaves of the RFC 6962 reference tests (certificate-transparency), and their roots.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOT_1 = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
CT_ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
LEAVES = [leaf_hash(bytes([n])) for n in range(33)]


def test_roots_match_the_rfc6962_reference_vectors() -> None:
    hashed = [leaf_hash(leaf) for leaf in CT_LEAVES]
    assert tree_root(hashed[:1]).hex() == CT_ROOT_1
    assert tree_root(hashed).hex() == CT_ROOT_8
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(len(LEAVES) + 1))
def test_the_frontier_grows_the_same_tree(size: int) -> None:
    frontier = Frontier()
    for leaf in LEAVES[:size]:
        frontier.append(leaf)
    assert frontier.root() == tree_root(LEAVES[:size])
    assert Frontier(size, frontier.hashes()).root() == frontier.root()


def test_a_frontier_with_the_wrong_number_of_roots_is_refused() -> None:
    with pytest.raises(ValueError, match="subtree roots"):
        Frontier(3, [EMPTY_ROOT])


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13, 33])
def test_every_leaf_has_an_inclusion_proof_and_no_other_leaf_fits_it(size: int) -> None:
    root = tree_root(LEAVES[:size])
    for index in range(size):
        path = inclusion_path(index, LEAVES[:size])
        assert verify_inclusion(index, size, LEAVES[index], path, root)
        other = LEAVES[(index + 1) % len(LEAVES)]
        assert not verify_inclusion(index, size, other, path, root)


def test_an_inclusion_proof_fails_for_another_index_or_a_tree_it_cannot_fit() -> None:
    path = inclusion_path(5, LEAVES[:13])
    root = tree_root(LEAVES[:13])
    assert not verify_inclusion(4, 13, LEAVES[5], path, root)
    assert not verify_inclusion(5, 33, LEAVES[5], path, root)
    assert not verify_inclusion(13, 13, LEAVES[5], path, root)
    assert not verify_inclusion(5, 13, LEAVES[5], path[:-1], root)


@pytest.mark.parametrize("new_size", [1, 2, 5, 8, 13, 33])
def test_every_prefix_has_a_consistency_proof(new_size: int) -> None:
    new_root = tree_root(LEAVES[:new_size])
    for old_size in range(new_size + 1):
        path = consistency_path(old_size, LEAVES[:new_size])
        old_root = tree_root(LEAVES[:old_size])
        assert verify_consistency(old_size, new_size, old_root, new_root, path)


def test_a_rewritten_prefix_fails_the_consistency_check() -> None:
    path = consistency_path(6, LEAVES[:13])
    forged_old = tree_root([leaf_hash(b"forged"), *LEAVES[1:6]])
    assert not verify_consistency(6, 13, forged_old, tree_root(LEAVES[:13]), path)
    assert not verify_consistency(13, 6, tree_root(LEAVES[:13]), forged_old, path)
