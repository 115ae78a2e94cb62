"""base58, Keccak-256 and EIP-55 against published vectors and round trips."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.ingest.codecs import b58decode, eip55_checksum, is_eip55_valid, keccak256
from tests.ingest.builder import b58encode

# EIP-55's own test vectors (all-caps, all-lower, normal)
EIP55 = [
    "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


def test_keccak256_known_digests_and_differs_from_nist_sha3():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    assert keccak256(b"").hex() != hashlib.sha3_256(b"").hexdigest()
    # a message longer than one 136-byte block
    assert keccak256(b"a" * 200) != keccak256(b"a" * 199)


@pytest.mark.parametrize("address", EIP55)
def test_eip55_vectors(address):
    assert is_eip55_valid(address)
    body = address[2:]
    if body not in (body.lower(), body.upper()):
        assert eip55_checksum(address.lower()) == address


def test_eip55_rejects_one_flipped_letter():
    good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    bad = good[:-1] + good[-1].upper()
    assert not is_eip55_valid(bad)


def test_b58_known_mints_are_32_bytes():
    assert len(b58decode("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")) == 32
    assert b58decode("11") == b"\0\0"
    with pytest.raises(ValueError, match="'0' at index 3"):
        b58decode("abc0def")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=40))
def test_b58_round_trip(raw):
    assert b58decode(b58encode(raw)) == raw


def test_keccak_pangram():
    assert keccak256(b"The quick brown fox jumps over the lazy dog").hex() == \
        "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15"


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=600))
def test_permutation_matches_hashlib_sha3_with_nist_padding(data):
    # same sponge and permutation, NIST domain byte: must equal hashlib's SHA3-256 for any length,
    # including the 135/136/137-byte block edges and several blocks
    from bridge.ingest.codecs import _sponge256

    assert _sponge256(data, 0x06) == hashlib.sha3_256(data).digest()


@pytest.mark.parametrize("n", [135, 136, 137, 271, 272, 273])
def test_block_edges_against_hashlib(n):
    from bridge.ingest.codecs import _sponge256

    data = bytes(range(256)) * 2
    assert _sponge256(data[:n], 0x06) == hashlib.sha3_256(data[:n]).digest()
