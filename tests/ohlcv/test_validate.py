"""Candle validation: each rule, several at once, duplicates; and, as a property, the kept rows
always satisfy the store's ohlcv_slice rules and nothing is lost or invented."""

from __future__ import annotations

import math

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.ohlcv.validate import split_candles
from bridge.store.canonical import canonicalize
from bridge.store.spec import get_spec


def _table(rows):
    cols = ("token", "resolution", "ts", "open", "high", "low", "close", "volume")
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    t = pa.table(data)
    return t.set_column(2, "ts", pa.array(data["ts"], pa.int64()).cast(pa.timestamp("us", tz="UTC")))


def test_each_rule_and_clean_rows():
    t = _table([
        ("A", "1m", 0, 1.0, 2.0, 0.5, 1.5, 1.0),            # fine
        ("A", "1m", 60_000_000, 1.0, 1.2, 0.5, 1.5, 1.0),   # high below close
        ("A", "1m", 120_000_000, 1.0, 2.0, 1.1, 1.5, 1.0),  # low above open
        ("A", "1m", 180_000_000, 1.0, 2.0, 0.5, 1.5, -1.0),  # negative volume
        ("A", "1m", 240_000_000, 1.0, math.inf, 0.5, 1.5, 1.0),  # non finite
        ("A", "1m", 300_000_000, 1.0, 1.0, 1.0, 1.0, 0.0),  # flat candle, zero volume: fine
    ])
    out = split_candles(t)
    assert out.valid.column("ts").cast(pa.int64()).to_pylist() == [0, 300_000_000]
    assert out.rejected.column("reason").to_pylist() == [
        "high_below_open_close", "low_above_open_close", "negative_volume", "non_finite"]
    assert out.valid.schema == t.schema


def test_duplicates_identical_keep_one_conflicting_keep_none():
    t = _table([
        ("A", "1m", 0, 1.0, 2.0, 0.5, 1.5, 1.0),
        ("A", "1m", 0, 1.0, 2.0, 0.5, 1.5, 1.0),
        ("A", "1m", 60_000_000, 1.0, 2.0, 0.5, 1.5, 1.0),
        ("A", "1m", 60_000_000, 1.0, 2.0, 0.5, 1.6, 1.0),
        ("B", "1m", 60_000_000, 1.0, 2.0, 0.5, 1.5, 1.0),   # same ts, other token: not a duplicate
        ("A", "1m", 120_000_000, 1.0, 2.0, 0.5, 1.5, 1.0),
        ("A", "1m", 120_000_000, 1.0, 0.1, 0.5, 1.5, 1.0),  # a broken copy does not make a duplicate
    ])
    out = split_candles(t)
    assert [(r["token"], r["ts"].minute) for r in out.valid.to_pylist()] == [("A", 0), ("B", 1), ("A", 2)]
    assert out.rejected.column("reason").to_pylist() == [
        "duplicate_ts", "duplicate_ts_conflict", "duplicate_ts_conflict", "high_below_open_close"]


finite = st.floats(min_value=-5, max_value=100, allow_nan=False, allow_infinity=False)
value = st.one_of(finite, st.sampled_from([math.nan, math.inf, -math.inf]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.integers(0, 5), value, value, value, value, value),
                max_size=25))
def test_kept_rows_always_publish_and_rows_are_conserved(rows):
    t = _table([(tok, "1m", m * 60_000_000, o, h, lo, c, v) for tok, m, o, h, lo, c, v in rows])
    out = split_candles(t)
    assert out.valid.num_rows + out.rejected.num_rows == t.num_rows
    spec = get_spec("ohlcv_slice", 2)
    canonicalize(out.valid, spec)  # raises if any kept row breaks a rule or repeats a timestamp
    assert all(out.rejected.column("reason").to_pylist())
    canonicalize(out.rejected, get_spec("ohlcv_quarantine", 1))
