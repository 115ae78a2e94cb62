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


def _reference(rows):
    """Plain-Python statement of the rules, row by row: the vectorised split must agree with it."""
    def row_reason(o, h, lo, c, v):
        vals = (o, h, lo, c, v)
        if any(x is None for x in vals):
            return "null_value"
        if not all(math.isfinite(x) for x in vals):
            return "non_finite"
        codes = []
        if h < max(o, c):
            codes.append("high_below_open_close")
        if lo > min(o, c):
            codes.append("low_above_open_close")
        if v < 0:
            codes.append("negative_volume")
        return ";".join(codes)

    reasons = [row_reason(*r[3:]) for r in rows]
    groups: dict = {}
    for i, r in enumerate(rows):
        if reasons[i] == "":
            groups.setdefault(r[:3], []).append(i)
    for members in groups.values():
        if len(members) < 2:
            continue
        if all(rows[m][3:] == rows[members[0]][3:] for m in members):
            for m in members[1:]:
                reasons[m] = "duplicate_ts"
        else:
            for m in members:
                reasons[m] = "duplicate_ts_conflict"
    return reasons


maybe_null = st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.0, -1.0, math.nan]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.integers(0, 3), maybe_null, maybe_null, maybe_null,
                          maybe_null, st.sampled_from([0.0, 5.0, -1.0])), max_size=20))
def test_vectorised_split_matches_the_row_by_row_reference(rows):
    full = [(tok, "1m", m * 60_000_000, o, h, lo, c, v) for tok, m, o, h, lo, c, v in rows]
    t = _table(full) if full else _table([("A", "1m", 0, 1.0, 1.0, 1.0, 1.0, 1.0)]).slice(0, 0)
    out = split_candles(t)
    expected = _reference(full)
    assert out.rejected.column("reason").to_pylist() == [r for r in expected if r]
    kept_ts = [(r["token"], r["ts"]) for r in out.valid.to_pylist()]
    assert len(kept_ts) == sum(1 for r in expected if not r)
