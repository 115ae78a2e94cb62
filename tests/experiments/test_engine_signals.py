"""Signals in the engine: entry filters, exit signals and gated legs, by hand and against the
event-driven reference fill for fill (hypothesis)."""

from __future__ import annotations

import random
from unittest import mock

import msgspec
import pytest
import talib
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.experiments.engine import _Plan, run_backtest, run_grid
from bridge.experiments.signals import SignalGroup
from bridge.experiments.strategy import LadderLeg, Strategy
from tests.experiments.helpers import MIN, T0, alert_row, candle_rows, connect
from tests.experiments.reference import reference_backtest
from tests.experiments.test_engine import _compare, _random_market, full_strategies, ladders


def G(d) -> SignalGroup:
    return msgspec.convert(d, SignalGroup)


def cond(indicator, op, value=None, **kw):
    c = {"indicator": indicator, "operator": op, **kw}
    if value is not None:
        c["value"] = value
    return c


def _run(alerts, candles, s):
    return run_backtest(connect(alerts, candles), "alerts", "candles", s)


def _ramp(closes):
    """Candles whose open is the previous close (the first opens at its close)."""
    out, prev = [], closes[0]
    for c in closes:
        out.append((prev, max(prev, c) * 1.001, min(prev, c) * 0.999, c))
        prev = c
    return out


def test_entry_waits_for_the_signal_and_enters_at_the_next_open():
    # falling closes: RSI(3) is 0 from candle 3 on; price before the alert gives the warm-up
    closes = [1.0, 1.02, 1.04, 1.06, 1.08, 1.1, 1.05, 1.0, 0.95, 0.9, 0.92, 0.94, 0.96, 0.98, 1.0]
    rows = candle_rows("T", _ramp(closes))
    rsi = talib.RSI(np.array(closes), 3)
    first_true = next(i for i, v in enumerate(rsi) if i >= 4 and v < 30)  # the alert is at candle 4
    s = Strategy(entry_signal=G({"conditions": [cond("rsi", "<", 30, params={"period": 3})]}),
                 exit_at_end_of_data=True, resolution="1m")
    res = _run([alert_row("a", "T", T0 + 4 * MIN)], rows, s)
    t = res.trades.to_pylist()[0]
    assert int(t["entry_ts"].timestamp() * 1e6) == T0 + (first_true + 1) * MIN
    assert t["entry_price"] == pytest.approx(rows[first_true + 1]["open"])
    assert res.fills.column("reason").to_pylist() == ["entry", "end_of_data"]


def test_entry_signal_not_met_counts_warmup_and_wait_limit():
    closes = [1.0 + 0.01 * i for i in range(40)]  # rising: RSI(5) = 100, never < 30
    rows = candle_rows("T", _ramp(closes))
    s = Strategy(entry_signal=G({"conditions": [cond("rsi", "<", 30, params={"period": 5})]}),
                 entry_max_wait_seconds=600, take_profit_pct=50)
    res = _run([alert_row("a", "T", T0)], rows, s)
    sk = res.skipped.to_pylist()[0]
    assert sk["reason"] == "entry_signal_not_met"
    # candles 0..5 act without history (RSI(5) has its first value at candle 5, acting at 6)
    assert "lacked indicator history on 6 candle(s)" in sk["detail"] and "600.0s" in sk["detail"]
    assert res.stats["skipped_entry_signal_not_met"] == 1
    assert res.stats["entry_signal_warmup_candles"] == 6 and res.stats["entry_signal_warmup_alerts"] == 1


def test_exit_signal_sells_the_rest_at_the_next_open_before_stops():
    closes = [1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.3, 1.25, 1.0, 0.5, 0.5, 0.5]
    rows = candle_rows("T", _ramp(closes))
    # exit when the close is below the 2-candle SMA: first at candle 7 (1.25 < 1.275) -> open of 8
    s = Strategy(exit_signal=G({"conditions": [cond("price", "<", field="close", secondaryIndicator="sma",
                                                    secondaryParams={"period": 2}, secondaryField="value")]}),
                 stop_loss_pct=10, ladder=[LadderLeg(take_profit_pct=15, size_pct=50)])
    res = _run([alert_row("a", "T", T0 + 3 * MIN)], rows, s)
    fills = res.fills.to_pylist()
    assert [(f["reason"], f["leg"]) for f in fills] == [("entry", None), ("take_profit", 0), ("exit_signal", None)]
    assert int(fills[-1]["ts"].timestamp() * 1e6) == T0 + 8 * MIN
    assert fills[-1]["price"] == pytest.approx(rows[8]["open"]) and fills[-1]["level"] is None
    assert fills[-1]["qty"] == pytest.approx(fills[1]["qty"])


def test_a_gated_leg_fills_only_where_its_signal_acts():
    closes = [1.0, 1.0, 1.0, 1.3, 1.31, 1.32, 1.2, 1.5, 1.5]
    rows = candle_rows("T", _ramp(closes))
    # the leg (+20 %) is reached at candle 3 already, but its gate (close below the previous
    # close: price_change(1) < 0) first holds at the close of candle 6 -> fill at candle 7
    gate = G({"conditions": [cond("price_change", "<", 0)]})
    s = Strategy(ladder=[LadderLeg(take_profit_pct=20, size_pct=100, signal=gate)])
    res = _run([alert_row("a", "T", T0)], rows, s)
    t = res.trades.to_pylist()[0]
    assert int(t["exit_ts"].timestamp() * 1e6) == T0 + 7 * MIN and t["exit_reason"] == "take_profit"
    assert t["exit_price"] == pytest.approx(rows[7]["open"])  # the open is above the level: filled at the open
    ungated = _run([alert_row("a", "T", T0)], rows, Strategy(take_profit_pct=20)).trades.to_pylist()[0]
    assert int(ungated["exit_ts"].timestamp() * 1e6) == T0 + 3 * MIN


def test_sweep_over_signal_parameters_shares_one_pass_and_equals_single_runs():
    rnd = random.Random(3)
    alerts, candles = _random_market(rnd, n_tokens=4, n_alerts=10)
    points = {}
    for thr in (30, 50, 70):
        for fast, slow in ((2, 4), (3, 6)):
            points[f"p{thr}-{fast}"] = Strategy(
                entry_signal=G({"conditions": [cond("rsi", "<", thr, params={"period": 3})]}),
                exit_signal=G({"conditions": [cond("ema", "crosses_below", params={"period": fast},
                                                   secondaryIndicator="ema", secondaryParams={"period": slow})]}),
                stop_loss_pct=30, exit_at_end_of_data=True, entry_max_wait_seconds=900)
    con = connect(alerts, candles)
    grid = run_grid(con, "alerts", "candles", points)
    for k, s in points.items():
        single = run_backtest(con, "alerts", "candles", s, experiment_id=k)
        assert grid[k].trades.equals(single.trades) and grid[k].fills.equals(single.fills)
        _compare(single, reference_backtest(alerts, candles, s))


# --- random signals, random strategies: fill for fill -------------------------------------------

_SIGNALS = st.sampled_from([
    {"conditions": [cond("rsi", "<", 40, params={"period": 3})]},
    {"conditions": [cond("rsi", ">", 60, params={"period": 2})]},
    {"conditions": [cond("ema", "crosses_above", params={"period": 2}, secondaryIndicator="ema",
                         secondaryParams={"period": 4})]},
    {"conditions": [cond("ema", "crosses_below", params={"period": 2}, secondaryIndicator="sma",
                         secondaryParams={"period": 3})]},
    {"logic": "OR", "conditions": [cond("price_change", "<", -0.05, lookbackBars=3, minBarsTrue=1),
                                   cond("bbands", "<", field="upper", params={"period": 3}, secondaryIndicator="price",
                                        secondaryField="close")]},
    {"conditions": [cond("macd", ">", 0, field="histogram", params={"fast": 2, "slow": 3, "signal": 2})],
     "groups": [{"logic": "OR", "conditions": [cond("atr", ">", 0.05, params={"period": 2}),
                                               cond("volume_change", "==", 0)]}]},
    {"conditions": [cond("price", ">", field="close", secondaryIndicator="ichimoku_cloud", secondaryField="senkou_a",
                         secondaryParams={"tenkan": 2, "kijun": 3, "senkou_b": 4, "displacement": 2})]},
])


@st.composite
def signal_strategies(draw):
    s = draw(full_strategies())
    entry = draw(st.one_of(st.none(), _SIGNALS))
    exit_ = draw(st.one_of(st.none(), _SIGNALS))
    ladder, tp = s.ladder, s.take_profit_pct
    if exit_ is not None and draw(st.booleans()):  # no stops: let the exit signal decide more often
        s = msgspec.structs.replace(s, stop_loss_pct=None, trailing_stop_pct=None, break_even_trigger_pct=None)
    if draw(st.booleans()):  # gated legs
        ladder = [msgspec.structs.replace(leg, signal=G(draw(_SIGNALS))) if draw(st.booleans()) else leg
                  for leg in (ladder or draw(ladders()))]
        tp = None
    return msgspec.structs.replace(s, entry_signal=None if entry is None else G(entry), take_profit_pct=tp,
                                   exit_signal=None if exit_ is None else G(exit_), ladder=ladder).validate()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), strategy=signal_strategies(), rounds=st.sampled_from([1, 2, 128]))
def test_engine_with_signals_matches_reference_fill_for_fill(seed, strategy, rounds):
    """`rounds`: the first holding round's length in candles (small: several rounds per position)."""
    rnd = random.Random(seed)
    alerts, candles = _random_market(rnd, n_tokens=4, n_alerts=8)
    for c in candles:
        c["volume"] = float(rnd.choice([0, 1, 2]))
    # identical duplicates keep identical volumes
    seen = {}
    for c in candles:
        c["volume"] = seen.setdefault((c["token"], c["ts"]), c["volume"])
    with mock.patch.object(_Plan, "HOLD_ROUND_CANDLES", rounds):
        res = _run(alerts, candles, strategy)
    _compare(res, reference_backtest(alerts, candles, strategy))


def test_long_history_before_the_alerts_gives_the_whole_series_indicators():
    """Signals are evaluated only over the alerts' entry and holding windows, but every indicator
    value is the token's whole-series value: 300 candles of history before the alerts (recursive
    EMA and RSI seeded at the token's first candle), overlapping and separate windows, a token whose
    data ends before its alert, and candles long after every deadline; fill for fill with the
    reference, which computes TA-Lib over each token's whole series."""
    rng = np.random.default_rng(5)
    closes = np.round(np.exp(np.cumsum(rng.normal(0, 0.03, 900))), 6)
    rows = candle_rows("T", _ramp(list(closes))) + candle_rows("U", _ramp(list(closes[:320])))
    alerts = [alert_row(f"a{i}", "T", T0 + m * MIN + 7) for i, m in enumerate((300, 310, 340, 600))]
    alerts.append(alert_row("u", "U", T0 + 400 * MIN))
    s = Strategy(entry_signal=G({"conditions": [cond("rsi", "<", 45, params={"period": 14})]}),
                 exit_signal=G({"conditions": [cond("ema", "crosses_below", params={"period": 9},
                                                    secondaryIndicator="ema", secondaryParams={"period": 21})]}),
                 entry_max_wait_seconds=1800, max_hold_seconds=3600, take_profit_pct=40, stop_loss_pct=30,
                 exit_at_end_of_data=True, resolution="1m")
    ref = reference_backtest(alerts, rows, s)
    rounds = []
    real = _Plan._signal_candles

    def spy(self, con, name, *args, **kw):
        rounds.append(name)
        return real(self, con, name, *args, **kw)

    for first_round in (128, 3):  # one holding round each; rounds of 3, 24, 192 candles
        rounds.clear()
        with mock.patch.object(_Plan, "HOLD_ROUND_CANDLES", first_round), mock.patch.object(_Plan, "_signal_candles", spy):
            res = _run(alerts, rows, s)
        _compare(res, ref)
        assert {r["reason"] for r in res.fills.to_pylist()} >= {"entry", "exit_signal"}
        assert res.skipped.to_pylist()[0]["alert_id"] == "u"
        assert rounds == (["ce", "hc0"] if first_round == 128 else ["ce", "hc0", "hc1", "hc2"])
