"""Indicators: equal to TA-Lib (and the plain reference) to 1e-9 after the warm-up, warm-ups as
documented, causal, computed per token."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import InvalidInput
from bridge.experiments.indicators import compute_series, indicator_table, series_values
from bridge.experiments.signals import INDICATORS, IndicatorSpec, column_name

from .signal_reference import reference_indicator

SPECS = {
    "rsi": [{}, {"period": 5}],
    "macd": [{}, {"fast": 3, "slow": 7, "signal": 4}],
    "sma": [{}, {"period": 3}],
    "ema": [{"period": 9}, {"period": 21}],
    "vwma": [{}, {"period": 4}],
    "bbands": [{}, {"period": 10, "stddev": 1.5}],
    "atr": [{}, {"period": 3}],
    "ichimoku_cloud": [{}, {"tenkan": 3, "kijun": 5, "senkou_b": 8, "displacement": 2}],
    "price_change": [{}, {"period": 5}],
    "volume_change": [{}, {"period": 3}],
    "price": [{}],
}


def _candles(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 1.0 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0, 0.003, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.01, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.01, n)))
    volume = np.round(rng.exponential(100.0, n)) * (rng.random(n) > 0.1)  # some zero volumes
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume})


def _spec(name: str, params: dict) -> IndicatorSpec:
    return IndicatorSpec(name, tuple(float(params.get(p, d)) for p, d, _, _ in INDICATORS[name].params))


def _arrays(df: pd.DataFrame, token: str = "T"):
    return {"token": np.array([token] * len(df), dtype=object), **{k: df[k].to_numpy() for k in df.columns}}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_indicator_equals_the_reference_after_warmup_and_warmup_is_documented(name):
    df = _candles(300, seed=len(name))
    for params in SPECS[name]:
        spec = _spec(name, params)
        cols = compute_series(_arrays(df), [(spec, f) for f in INDICATORS[name].fields])
        for f in INDICATORS[name].fields:
            got = cols[column_name(spec, f)]
            ref = reference_indicator(name, params, f, df)
            w = spec.warmup(f)
            assert np.isnan(got[:w]).all(), (name, params, f)
            # after the warm-up every value is present unless undefined (zero volume in a window)
            for t in range(w, len(df)):
                if ref[t] is None:
                    assert np.isnan(got[t]), (name, f, t)
                else:
                    assert got[t] == pytest.approx(ref[t], rel=1e-9, abs=1e-12), (name, params, f, t)
            if name not in ("vwma", "volume_change"):
                assert not np.isnan(got[w:]).any() and ref[w] is not None


def test_self_computed_parts_equal_talib():
    """price_change / volume_change (numpy) vs TA-Lib ROCR - 1; vwma vs TA-Lib SUM ratio; the
    Ichimoku spans vs TA-Lib MIDPRICE shifted: to 1e-9 after the warm-up."""
    df = _candles(400, seed=7)
    df["volume"] = df["volume"] + 1.0  # ROCR gives 0 instead of "undefined" for a zero base
    c, v, h, lo = (df[k].to_numpy() for k in ("close", "volume", "high", "low"))
    for name, x in (("price_change", c), ("volume_change", v)):
        for n in (1, 5):
            got = series_values(_spec(name, {"period": n}), None, None, None, c, v)["value"]
            np.testing.assert_allclose(got[n:], talib.ROCR(x, n)[n:] - 1.0, rtol=1e-9, atol=1e-12)
    got = series_values(_spec("vwma", {"period": 7}), None, None, None, c, v)["value"]
    np.testing.assert_allclose(got[6:], (talib.SUM(c * v, 7) / talib.SUM(v, 7))[6:], rtol=1e-9)
    ich = series_values(_spec("ichimoku_cloud", {}), None, h, lo, c, v)
    t9, k26, b52 = talib.MIDPRICE(h, lo, 9), talib.MIDPRICE(h, lo, 26), talib.MIDPRICE(h, lo, 52)
    np.testing.assert_allclose(ich["senkou_a"][25 + 26:], ((t9 + k26) / 2)[25:-26], rtol=1e-9)
    np.testing.assert_allclose(ich["senkou_b"][51 + 26:], b52[51:-26], rtol=1e-9)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 120), cut=st.integers(0, 120), seed=st.integers(0, 10_000),
       name=st.sampled_from(sorted(SPECS)))
def test_causal_a_prefix_gives_the_same_values(n, cut, seed, name):
    """Appending candles never changes an earlier value."""
    cut = min(cut, n)
    df = _candles(n, seed)
    spec = _spec(name, SPECS[name][-1])
    cols = [(spec, f) for f in INDICATORS[name].fields]
    full = compute_series(_arrays(df), cols)
    part = compute_series(_arrays(df.iloc[:cut].reset_index(drop=True)), cols)
    for k in full:
        np.testing.assert_array_equal(full[k][:cut], part[k])


def test_tokens_do_not_leak_into_each_other_and_duplicates_collapse():
    a, b = _candles(80, 1), _candles(50, 2)
    spec = _spec("ema", {"period": 9})
    rows = []
    for tok, df in (("A", a), ("B", b)):
        for i, r in df.iterrows():
            rows.append({"token": tok, "ts": 1_000 + i, **r.to_dict()})
    rows += rows[:5]  # identical duplicates
    t = pa.Table.from_pylist(rows[::-1])
    con = duckdb.connect()
    con.register("c", t)
    out = indicator_table(con, "c", [(spec, "value")])
    assert out.num_rows == 130
    got = out.column(column_name(spec, "value")).to_pylist()
    expect = [None if np.isnan(x) else x for x in np.r_[talib.EMA(a["close"].to_numpy(), 9),
                                                         talib.EMA(b["close"].to_numpy(), 9)]]
    assert got == pytest.approx(expect, nan_ok=True) and got[8] is not None and got[7] is None
    assert out.column(column_name(spec, "value")).null_count == 16  # NaN became null
    only_b = indicator_table(con, "c", [(spec, "value")], tokens="SELECT 'B' AS token")
    assert only_b.num_rows == 50
    rows.append({**rows[0], "close": rows[0]["close"] + 1})
    con.register("c2", pa.Table.from_pylist(rows))
    with pytest.raises(InvalidInput, match="token 'A' at ts 1000"):
        indicator_table(con, "c2", [(spec, "value")])


# --- only the windows' candles, with the whole series' values -------------------------------------

_WINDOW_SPECS = [("ema", {"period": 5}), ("rsi", {"period": 4}), ("macd", {"fast": 2, "slow": 5, "signal": 3}),
                 ("atr", {"period": 3}), ("sma", {"period": 4}), ("ichimoku_cloud", {"tenkan": 2, "kijun": 3,
                                                                                    "senkou_b": 4, "displacement": 2})]


@settings(max_examples=30, deadline=None)
@given(lengths=st.lists(st.integers(1, 60), min_size=1, max_size=3), seed=st.integers(0, 10_000),
       windows=st.lists(st.tuples(st.integers(0, 2), st.integers(-5, 70), st.one_of(st.none(), st.integers(0, 30))),
                        max_size=5),
       depth=st.integers(0, 6))
def test_windowed_table_has_the_window_candles_with_the_whole_series_values(lengths, seed, windows, depth):
    """With windows, the rows are the windows' candles plus `depth` before each (`core` marks the
    windows' own), and every indicator value is the one the token's whole series gives: recursive
    smoothers (EMA, RSI, MACD, ATR) included, exactly, because each is computed from the token's
    first candle."""
    rng = np.random.default_rng(seed)
    rows, ts_of = [], {}
    for i, n in enumerate(lengths):
        df = _candles(n, seed + i)
        ts = np.cumsum(rng.choice([1, 1, 2, 5], n)) * 10  # gaps
        ts_of[f"T{i}"] = ts
        rows += [{"token": f"T{i}", "ts": int(t), **r.to_dict()} for t, (_, r) in zip(ts, df.iterrows())]
    con = duckdb.connect()
    schema = pa.schema([("token", pa.string()), ("ts", pa.int64())] +
                       [(k, pa.float64()) for k in ("open", "high", "low", "close", "volume")])
    con.register("c", pa.Table.from_pylist(rows, schema=schema))
    wins = [(f"T{t}", lo * 10, None if span is None else (lo + span) * 10) for t, lo, span in windows]
    con.register("w", pa.Table.from_pylist([{"token": t, "lo_us": lo, "hi_us": hi} for t, lo, hi in wins],
                                           schema=pa.schema([("token", pa.string()), ("lo_us", pa.int64()),
                                                             ("hi_us", pa.int64())])))
    cols = [(_spec(n, p), f) for n, p in _WINDOW_SPECS for f in INDICATORS[n].fields]
    full = indicator_table(con, "c", cols)
    part = indicator_table(con, "c", cols, windows="SELECT * FROM w", depth=depth)
    # the rows, by a plain loop: per window, first candle >= lo (the last if none) .. first >= hi
    want_core, want_all = set(), set()
    for tok, lo, hi in wins:
        ts = ts_of.get(tok, np.zeros(0))
        if len(ts) == 0:
            continue
        first = min(next((i for i, t in enumerate(ts) if t >= lo), len(ts) - 1), len(ts) - 1)
        last = len(ts) - 1 if hi is None else next((i for i, t in enumerate(ts) if t >= hi), len(ts) - 1)
        last = max(last, first)
        want_core |= {(tok, int(ts[i])) for i in range(first, last + 1)}
        want_all |= {(tok, int(ts[i])) for i in range(max(first - depth, 0), last + 1)}
    got = part.to_pylist()
    assert {(r["token"], r["ts"]) for r in got} == want_all
    assert {(r["token"], r["ts"]) for r in got if r["core"]} == want_core
    by_key = {(r["token"], r["ts"]): r for r in full.to_pylist()}
    for r in got:
        ref = by_key[(r["token"], r["ts"])]
        assert {k: r[k] for k in r if "__" in k} == {k: ref[k] for k in ref if "__" in k}
    # a seg number per run of consecutive candles of one token
    prev = None
    for r in got:
        key = (r["token"], int(np.searchsorted(ts_of[r["token"]], r["ts"])))
        if prev is not None:
            same_run = key[0] == prev[0][0] and key[1] == prev[0][1] + 1
            assert (r["seg"] == prev[1]) == same_run
        prev = (key, r["seg"])


def test_windows_through_hi_end_at_the_last_candle_at_or_before_hi():
    rows = [{"token": "A", "ts": t, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0 + t, "volume": 1.0}
            for t in (0, 10, 20, 30, 40)]
    con = duckdb.connect()
    con.register("c", pa.Table.from_pylist(rows))
    spec = _spec("ema", {"period": 2})
    w = "SELECT 'A' AS token, 10::BIGINT AS lo_us, 25::BIGINT AS hi_us"
    assert indicator_table(con, "c", [(spec, "value")], windows=w).column("ts").to_pylist() == [10, 20, 30]
    got = indicator_table(con, "c", [(spec, "value")], windows=w, through_hi=True, depth=1)
    assert got.column("ts").to_pylist() == [0, 10, 20] and got.column("core").to_pylist() == [False, True, True]
