"""EVM addresses are case-insensitive: candles loaded under the checksummed spelling are found
for alerts that carry the lowercase one (and vice versa); Solana addresses stay case-sensitive."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pcsv

from bridge.ohlcv.load import load_candles
from bridge.ohlcv.slices import export_slice
from bridge.ohlcv.tokens import canonical_token, canonical_tokens
from tests.ohlcv.helpers import candles

CHECKSUMMED = "0x6982508145454Ce325dDbE47a25d4ec3d2311933"


def test_canonical_token_rules():
    assert canonical_token(CHECKSUMMED) == CHECKSUMMED.lower()
    assert canonical_token("So1anaMint1111") == "So1anaMint1111"
    assert canonical_token("0x123") == "0x123"  # not an address: untouched
    assert canonical_tokens(pa.array([CHECKSUMMED, "AbC"])).to_pylist() == [CHECKSUMMED.lower(), "AbC"]


def test_checksummed_candles_are_found_by_either_spelling(store, source, tmp_path):
    csv = tmp_path / "c.csv"
    pcsv.write_csv(candles(token=CHECKSUMMED, chain="ethereum", n=5), csv)
    load_candles(source, [csv])
    by_lower = export_slice(store, source, CHECKSUMMED.lower(), "ethereum", "1m",
                            "2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z")
    assert by_lower.row_count == 5
    by_checksum = export_slice(store, source, CHECKSUMMED, "ethereum", "1m",
                               "2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z")
    assert by_checksum.artifact_id == by_lower.artifact_id  # one slice, not two spellings of it
