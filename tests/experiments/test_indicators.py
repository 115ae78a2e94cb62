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
