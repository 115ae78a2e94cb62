"""Signals: declarations refused with their path, and the SQL compilation equal to the plain
candle-by-candle reference (hypothesis)."""

from __future__ import annotations

import duckdb
import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import ValidationFailed
from bridge.experiments.indicators import indicator_table
from bridge.experiments.signal_sql import SignalPlan, prepare_signals, signal_depth, signals_sql
from bridge.experiments.signals import SignalGroup, signal_indicators, validate_signal

from .signal_reference import evaluate_group


def _group(d) -> SignalGroup:
    return validate_signal(msgspec.convert(d, SignalGroup), "entrySignal")


@pytest.mark.parametrize("cond, msg", [
    ({"indicator": "rsx", "field": "value", "operator": "<", "value": 30},
     r"entrySignal\.conditions\[0\]\.indicator: unknown indicator 'rsx'"),
    ({"indicator": "custom", "field": "value", "operator": "<", "value": 30},
     r"entrySignal\.conditions\[0\]\.indicator: indicator 'custom' is not supported: we run no user code"),
    ({"indicator": "bbands", "field": "value", "operator": "<", "value": 30},
     r"entrySignal\.conditions\[0\]\.field: unknown field 'value' of bbands \(fields: upper, middle, lower\)"),
    ({"indicator": "rsi", "params": {"length": 3}, "operator": "<", "value": 30},
     r"entrySignal\.conditions\[0\]\.params\.length: unknown parameter of rsi"),
    ({"indicator": "rsi", "params": {"period": 2.5}, "operator": "<", "value": 30},
     r"params\.period: must be a whole number"),
    ({"indicator": "macd", "field": "histogram", "params": {"fast": 30}, "operator": "<", "value": 0},
     r"params: macd needs fast < slow"),
    ({"indicator": "rsi", "operator": "<"}, r"conditions\[0\]\.value: a condition needs a value or a secondaryIndicator"),
    ({"indicator": "ema", "operator": "<", "value": 1, "secondaryIndicator": "sma"}, r"either value or secondaryIndicator"),
    ({"indicator": "ema", "operator": "<", "secondaryIndicator": "macd"},
     r"conditions\[0\]\.field: unknown field 'value' of macd"),
    ({"indicator": "rsi", "operator": "<", "value": 1, "lookbackBars": 3, "minBarsTrue": 4},
     r"minBarsTrue: 4 is outside \[1, lookbackBars=3\]"),
])
def test_bad_conditions_are_refused_with_their_path(cond, msg):
    with pytest.raises(ValidationFailed, match=msg):
        _group({"conditions": [cond]})


def test_nested_path_and_unknown_operator_and_empty_group():
    with pytest.raises(ValidationFailed, match=r"exitSignal\.groups\[1\]\.conditions\[0\]\.indicator"):
        validate_signal(msgspec.convert({"conditions": [{"indicator": "rsi", "operator": ">", "value": 1}],
                                         "groups": [{"conditions": [{"indicator": "ema", "operator": ">", "value": 1}]},
                                                    {"conditions": [{"indicator": "nope", "operator": ">", "value": 1}]}]},
                                        SignalGroup), "exitSignal")
    with pytest.raises(msgspec.ValidationError, match=r"Invalid enum value '=>' - at `\$.conditions\[0\].operator`"):
        msgspec.convert({"conditions": [{"indicator": "rsi", "operator": "=>", "value": 1}]}, SignalGroup)
    with pytest.raises(ValidationFailed, match=r"entrySignal\.groups\[0\]: a signal group needs at least one"):
        _group({"conditions": [{"indicator": "rsi", "operator": ">", "value": 1}], "groups": [{"logic": "OR"}]})


def test_distinct_indicators_of_a_signal():
    g = _group({"logic": "OR", "conditions": [
        {"indicator": "ema", "params": {"period": 9}, "operator": "crosses_above", "secondaryIndicator": "ema",
         "secondaryParams": {"period": 21}},
        {"indicator": "rsi", "operator": "<", "value": 30}],
        "groups": [{"conditions": [{"indicator": "rsi", "params": {"period": 14}, "operator": ">", "value": 70}]}]})
    keys = sorted(f"{s.key}.{f}" for s, f in signal_indicators(g))
    assert keys == ["ema_21.value", "ema_9.value", "rsi_14.value"]


# --- SQL == reference ---------------------------------------------------------------------------

_IND = st.sampled_from([
    ("rsi", {"period": 3}, "value", (20, 50, 80)),
    ("ema", {"period": 3}, "value", (0.9, 1.0, 1.1)),
    ("sma", {"period": 4}, "value", (0.9, 1.0, 1.1)),
    ("macd", {"fast": 2, "slow": 4, "signal": 2}, "histogram", (-0.01, 0.0, 0.01)),
    ("bbands", {"period": 3, "stddev": 1}, "lower", (0.9, 1.0)),
    ("atr", {"period": 2}, "value", (0.01, 0.03)),
    ("vwma", {"period": 3}, "value", (1.0,)),
    ("ichimoku_cloud", {"tenkan": 2, "kijun": 3, "senkou_b": 4, "displacement": 2}, "senkou_a", (1.0,)),
    ("price_change", {"period": 2}, "value", (-0.02, 0.0, 0.02)),
    ("volume_change", {}, "value", (0.0, 1.0)),
    ("price", {}, "close", (1.0,)),
])
_OPS = st.sampled_from([">", ">=", "<", "<=", "==", "!=", "crosses_above", "crosses_below"])


@st.composite
def _condition(draw):
    name, params, fld, values = draw(_IND)
    c = {"indicator": name, "params": params, "field": fld, "operator": draw(_OPS)}
    if draw(st.booleans()):
        c["value"] = draw(st.sampled_from(values))
    else:
        name2, params2, fld2, _ = draw(_IND.filter(lambda x: x[0] not in ("rsi", "atr", "macd", "price_change",
                                                                           "volume_change")))
        c.update(secondaryIndicator=name2, secondaryParams=params2, secondaryField=fld2)
        if name in ("rsi", "atr", "macd", "price_change", "volume_change"):
            c = {**c, "indicator": "price", "params": {}, "field": "close"}
        if (c["indicator"], c["params"], c["field"]) == (name2, params2, fld2):
            c = {k: v for k, v in c.items() if not k.startswith("secondary")} | {"value": 1.0}
    if draw(st.booleans()):
        n = draw(st.integers(1, 5))
        c.update(lookbackBars=n, minBarsTrue=draw(st.integers(1, n)))
    return c


_GROUP = st.recursive(
    st.builds(lambda cs, logic: {"logic": logic, "conditions": cs}, st.lists(_condition(), min_size=1, max_size=3),
              st.sampled_from(["AND", "OR"])),
    lambda inner: st.builds(lambda cs, gs, logic: {"logic": logic, "conditions": cs, "groups": gs},
                            st.lists(_condition(), max_size=2), st.lists(inner, min_size=1, max_size=2),
                            st.sampled_from(["AND", "OR"])),
    max_leaves=4)


def _series(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # coarse prices so equalities and crosses actually happen
    close = np.round(1.0 + np.cumsum(rng.choice([-0.02, 0.0, 0.02], n)), 2)
    open_ = np.r_[1.0, close[:-1]][:n]
    high = np.maximum(open_, close) + rng.choice([0.0, 0.01], n)
    low = np.minimum(open_, close) - rng.choice([0.0, 0.01], n)
    volume = rng.choice([0.0, 1.0, 2.0], n)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=st.lists(_GROUP, min_size=1, max_size=3), seed=st.integers(0, 10**6),
       lengths=st.lists(st.integers(0, 30), min_size=1, max_size=3))
def test_sql_equals_the_candle_by_candle_reference(groups, seed, lengths):
    sigs = [_group(g) for g in groups]
    frames, rows = {}, []
    for i, n in enumerate(lengths):
        df = _series(seed + i, n)
        frames[f"T{i}"] = df
        for t, r in df.iterrows():
            rows.append({"token": f"T{i}", "ts": 10_000 + 60 * t, **r.to_dict()})
    con = duckdb.connect()
    schema = pa.schema([("token", pa.string()), ("ts", pa.int64())] +
                       [(k, pa.float64()) for k in ("open", "high", "low", "close", "volume")])
    con.register("c", pa.Table.from_pylist(rows[::-1], schema=schema))
    cols = set().union(*(signal_indicators(g) for g in sigs))
    con.register("ind", indicator_table(con, "c", cols))
    got = con.sql(signals_sql("ind", sigs) + " ORDER BY token, ts").fetchall()
    expected = []
    for tok, df in frames.items():
        evals = [evaluate_group(g, df) for g in groups]
        for t in range(len(df)):
            row = [tok, 10_000 + 60 * t]
            for s, u in evals:
                row += [s[t], u[t]]
            for s, u in evals:
                row += [s[t - 1] if t else False, u[t - 1] if t else True]
            expected.append(tuple(row))
    assert got == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=st.lists(_GROUP, min_size=1, max_size=2), seed=st.integers(0, 10**6),
       lengths=st.lists(st.integers(1, 30), min_size=1, max_size=2),
       windows=st.lists(st.tuples(st.integers(0, 1), st.integers(-2, 32), st.one_of(st.none(), st.integers(0, 10))),
                        min_size=1, max_size=4))
def test_windowed_flags_equal_the_whole_series_flags(groups, seed, lengths, windows):
    """prepare_signals over windows holds exactly the windows' candles, each with the acting flags
    (and warm-up flags) the token's whole series gives: the window pass reads `signal_depth`
    candles before each window, enough for every lag, cross and lookback."""
    sigs = [_group(g) for g in groups]
    rows = []
    for i, n in enumerate(lengths):
        for t, r in _series(seed + i, n).iterrows():
            rows.append({"token": f"T{i}", "ts": 60 * t, **r.to_dict()})
    con = duckdb.connect()
    schema = pa.schema([("token", pa.string()), ("ts", pa.int64())] +
                       [(k, pa.float64()) for k in ("open", "high", "low", "close", "volume")])
    con.register("c", pa.Table.from_pylist(rows, schema=schema))
    con.register("w", pa.Table.from_pylist(
        [{"token": f"T{t}", "lo_us": 60 * lo, "hi_us": None if span is None else 60 * (lo + span)}
         for t, lo, span in windows],
        schema=pa.schema([("token", pa.string()), ("lo_us", pa.int64()), ("hi_us", pa.int64())])))
    plan = SignalPlan(sigs)
    prepare_signals(con, "c", plan, wide="whole")
    prepare_signals(con, "c", plan, wide="part", windows="SELECT * FROM w")
    whole = {(r[0], r[1]): r[2:] for r in con.sql("SELECT * FROM whole").fetchall()}
    part = con.sql("SELECT * FROM part ORDER BY token, ts").fetchall()
    ts_of = {f"T{i}": [60 * t for t in range(n)] for i, n in enumerate(lengths)}
    want = set()
    for t, lo, span in windows:
        ts = ts_of.get(f"T{t}", [])
        if not ts:
            continue
        first = next((i for i, x in enumerate(ts) if x >= 60 * lo), len(ts) - 1)
        last = len(ts) - 1 if span is None else next((i for i, x in enumerate(ts) if x >= 60 * (lo + span)), len(ts) - 1)
        want |= {(f"T{t}", ts[i]) for i in range(first, max(last, first) + 1)}
    assert {(r[0], r[1]) for r in part} == want
    for r in part:
        assert r[2:] == whole[(r[0], r[1])], r
    assert signal_depth(sigs) >= 1
