"""Token identity across sources: EVM addresses are case-insensitive, so their canonical form is
lowercase (as alert ingestion stores them); every other address (Solana base58, ...) is
case-sensitive and kept as written. Candle loading and candle queries both apply this."""

from __future__ import annotations

import re

__all__ = ["canonical_token", "canonical_tokens"]

_EVM = re.compile(r"^0x[0-9a-fA-F]{40}$")
EVM_PATTERN = r"^0x[0-9a-fA-F]{40}$"


def canonical_token(token: str) -> str:
    return token.lower() if _EVM.match(token) else token


def canonical_tokens(arr):
    """The same rule over an Arrow string array, vectorised."""
    import pyarrow.compute as pc

    return pc.if_else(pc.match_substring_regex(arr, EVM_PATTERN), pc.utf8_lower(arr), arr)
