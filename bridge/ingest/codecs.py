"""Address codecs written out here because the standard library lacks them: base58 (Bitcoin
alphabet, as Solana uses it), Keccak-256 (the pre-NIST padding Ethereum uses; hashlib's sha3_256
is the NIST variant and gives different digests) and the EIP-55 mixed-case checksum."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["B58_ALPHABET", "b58decode", "eip55_checksum", "is_eip55_valid", "keccak256"]

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {ch: i for i, ch in enumerate(B58_ALPHABET)}


def b58decode(text: str) -> bytes:
    """Decode base58 text to bytes (leading '1's are leading zero bytes).

    Raises:
        ValueError: a character outside the base58 alphabet (message names it and its index).
    """
    num = 0
    for i, ch in enumerate(text):
        digit = _B58_INDEX.get(ch)
        if digit is None:
            raise ValueError(f"invalid base58 character {ch!r} at index {i}")
        num = num * 58 + digit
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + body


# --- Keccak-f[1600] ------------------------------------------------------------------------------

_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]
# rotation offsets r[x][y]
_ROT = [
    [0, 36, 3, 41, 18],
    [1, 44, 10, 45, 2],
    [62, 6, 43, 15, 61],
    [28, 55, 25, 21, 56],
    [27, 20, 39, 8, 14],
]
_MASK = (1 << 64) - 1


# (source lane, destination lane, rotation) of the rho and pi steps, lane (x, y) at x + 5*y
_RHO_PI = tuple((x + 5 * y, y + 5 * ((2 * x + 3 * y) % 5), _ROT[x][y]) for x in range(5) for y in range(5))


def _keccak_f(a: list[int]) -> None:
    """Permute the 25-lane state in place (theta, rho+pi, chi, iota; 24 rounds)."""
    m = _MASK
    b = [0] * 25
    for rc in _RC:
        c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20]
        c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21]
        c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22]
        c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23]
        c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24]
        d = (c4 ^ (((c1 << 1) | (c1 >> 63)) & m), c0 ^ (((c2 << 1) | (c2 >> 63)) & m),
             c1 ^ (((c3 << 1) | (c3 >> 63)) & m), c2 ^ (((c4 << 1) | (c4 >> 63)) & m),
             c3 ^ (((c0 << 1) | (c0 >> 63)) & m))
        for src, dst, r in _RHO_PI:
            v = a[src] ^ d[src % 5]
            b[dst] = ((v << r) | (v >> (64 - r))) & m if r else v
        for y in (0, 5, 10, 15, 20):
            b0, b1, b2, b3, b4 = b[y], b[y + 1], b[y + 2], b[y + 3], b[y + 4]
            a[y] = b0 ^ (~b1 & b2)
            a[y + 1] = b1 ^ (~b2 & b3)
            a[y + 2] = b2 ^ (~b3 & b4)
            a[y + 3] = b3 ^ (~b4 & b0)
            a[y + 4] = b4 ^ (~b0 & b1)
        a[0] ^= rc


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (rate 136 bytes, domain padding 0x01)."""
    return _sponge256(data, 0x01)


def _sponge256(data: bytes, pad: int) -> bytes:
    """The 256-bit Keccak sponge with domain byte `pad`: 0x01 is Keccak-256, 0x06 is NIST SHA3-256
    (which lets the tests check this permutation against hashlib)."""
    rate = 136
    padded = bytearray(data)
    padded.append(pad)
    padded.extend(b"\x00" * (-len(padded) % rate))
    padded[-1] |= 0x80
    state = [0] * 25
    for off in range(0, len(padded), rate):
        block = padded[off:off + rate]
        for i in range(rate // 8):
            state[i] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        _keccak_f(state)
    return b"".join(state[i].to_bytes(8, "little") for i in range(4))


def eip55_checksum(address: str) -> str:
    """The EIP-55 checksummed form of a 0x + 40 hex address (any case)."""
    return _checksum(address[2:].lower())


@lru_cache(maxsize=65_536)  # call channels repeat the same tokens; keccak in Python is ~0.1 ms
def _checksum(hex40: str) -> str:
    digest = keccak256(hex40.encode("ascii")).hex()
    return "0x" + "".join(ch.upper() if int(digest[i], 16) >= 8 else ch for i, ch in enumerate(hex40))


def is_eip55_valid(address: str) -> bool:
    """All-lower and all-upper addresses carry no checksum (valid); mixed case must match EIP-55."""
    body = address[2:]
    if body == body.lower() or body == body.upper():
        return True
    return eip55_checksum(address) == address
