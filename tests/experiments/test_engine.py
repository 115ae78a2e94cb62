"""The DuckDB engine against hand-built cases and against the plain-Python reference."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import InvalidInput, ValidationFailed
from bridge.experiments.engine import run_backtest, run_grid
from bridge.experiments.strategy import LadderLeg, Strategy, strategy_from_mapping
from tests.experiments.helpers import MIN, T0, alert_row, candle_rows, connect
from tests.experiments.reference import reference_backtest


def _run(alerts, candles, strategy, **kw):
    con = connect(alerts, candles)
    return run_backtest(con, "alerts", "candles", strategy, **kw)


def _one_trade(alerts, candles, strategy):
    res = _run(alerts, candles, strategy)
    assert res.trades.num_rows == 1, res.skipped.to_pylist()
    return res.trades.to_pylist()[0]


FLAT = (1.0, 1.0, 1.0, 1.0)


def test_take_profit_at_level():
    c = candle_rows("T", [FLAT, (1.0, 1.3, 0.95, 1.1), FLAT])
    t = _one_trade([alert_row("a", "T", T0)], c, Strategy(take_profit_pct=20, stop_loss_pct=10))
    assert t["exit_reason"] == "take_profit"
    assert t["exit_price"] == pytest.approx(1.2)
    assert t["pnl_pct"] == pytest.approx(0.2)
    assert t["duration_ms"] == 60_000


def test_stop_loss_at_level():
    c = candle_rows("T", [FLAT, (1.0, 1.05, 0.85, 0.9)])
    t = _one_trade([alert_row("a", "T", T0)], c, Strategy(take_profit_pct=20, stop_loss_pct=10))
    assert (t["exit_reason"], t["exit_price"]) == ("stop_loss", pytest.approx(0.9))


def test_same_candle_touches_both_takes_the_stop():
    c = candle_rows("T", [FLAT, (1.0, 1.5, 0.5, 1.0)])
    t = _one_trade([alert_row("a", "T", T0)], c, Strategy(take_profit_pct=20, stop_loss_pct=10))
    assert (t["exit_reason"], t["exit_price"]) == ("stop_loss", pytest.approx(0.9))


def test_gap_through_stop_fills_at_open():
    c = candle_rows("T", [FLAT, (0.7, 0.75, 0.6, 0.7)])
    t = _one_trade([alert_row("a", "T", T0)], c, Strategy(take_profit_pct=20, stop_loss_pct=10))
    assert (t["exit_reason"], t["exit_price"]) == ("stop_loss", pytest.approx(0.7))


def test_gap_through_target_fills_at_open_even_if_low_touches_stop():
    c = candle_rows("T", [FLAT, (1.6, 1.7, 0.5, 1.6)])
    t = _one_trade([alert_row("a", "T", T0)], c, Strategy(take_profit_pct=20, stop_loss_pct=10))
    assert (t["exit_reason"], t["exit_price"]) == ("take_profit", pytest.approx(1.6))


def test_time_exit_at_open_of_first_candle_at_or_after_deadline():
    c = candle_rows("T", [FLAT, FLAT, (1.05, 1.06, 1.04, 1.05), (1.1, 1.1, 1.1, 1.1)])
    t = _one_trade([alert_row("a", "T", T0 + 1)], c, Strategy(take_profit_pct=50, stop_loss_pct=50, max_hold_seconds=60))
    # entry at the candle of T0+1min (first ts >= alert), deadline one minute later
    assert t["entry_ts"].timestamp() * 1e6 == T0 + MIN
    assert (t["exit_reason"], t["exit_price"]) == ("max_hold", pytest.approx(1.05))


def test_trailing_stop_uses_earlier_highs_only():
    # peak high 2.0 in candle 1; trailing 10% -> level 1.8 from candle 2 on. Candle 1 itself has
    # low 1.5 < 2.0*0.9 but its own high must not count for its own level (no look-ahead).
    c = candle_rows("T", [(1.0, 1.0, 1.0, 1.0), (1.0, 2.0, 0.95, 1.9), (1.9, 1.95, 1.7, 1.75)])
    t = _one_trade([alert_row("a", "T", T0)], c, Strategy(trailing_stop_pct=10, stop_loss_pct=50))
    assert t["exit_reason"] == "trailing_stop"
    assert t["exit_ts"].timestamp() * 1e6 == T0 + 2 * MIN
    assert t["exit_price"] == pytest.approx(1.8)


def test_fees_and_slippage_both_sides():
    c = candle_rows("T", [FLAT, (1.0, 1.3, 0.95, 1.1)])
    s = Strategy(take_profit_pct=20, fee_bps=10, slippage_bps=50, notional=500)
    t = _one_trade([alert_row("a", "T", T0)], c, s)
    entry, exit_ = 1.0 * 1.005, 1.2 * 0.995
    pnl = 500 / entry * exit_ * 0.999 - 500 * 1.001
    assert (t["entry_price"], t["exit_price"]) == (pytest.approx(entry), pytest.approx(exit_))
    assert t["pnl"] == pytest.approx(pnl) and t["pnl_pct"] == pytest.approx(pnl / 500)


def test_skipped_alerts_have_reasons():
    c = candle_rows("T", [FLAT, FLAT, FLAT]) + candle_rows("L", [FLAT, FLAT], start_us=T0 + 100 * MIN)
    alerts = [alert_row("nothing", "X", T0), alert_row("late", "T", T0 + 50 * MIN),
              alert_row("lag", "L", T0), alert_row("horizon", "T", T0)]
    res = _run(alerts, c, Strategy(take_profit_pct=50, max_entry_lag_seconds=600))
    assert res.trades.num_rows == 0
    got = {r["alert_id"]: r["reason"] for r in res.skipped.to_pylist()}
    assert got == {"nothing": "no_candles_for_token", "late": "no_candles_after_alert",
                   "lag": "entry_lag_exceeded", "horizon": "insufficient_horizon"}
    assert res.stats["skipped_insufficient_horizon"] == 1


def test_end_of_data_exit_when_asked():
    c = candle_rows("T", [FLAT, (1.0, 1.1, 0.9, 1.05)])
    t = _one_trade([alert_row("a", "T", T0)], c, Strategy(take_profit_pct=50, exit_at_end_of_data=True))
    assert (t["exit_reason"], t["exit_price"]) == ("end_of_data", pytest.approx(1.05))
    # the price is the last candle's close, so the time is its close time (open + 1 minute)
    assert t["exit_ts"].timestamp() * 1e6 == T0 + 2 * MIN


def test_identical_duplicate_candles_collapse_conflicting_ones_fail():
    c = candle_rows("T", [FLAT, (1.0, 1.3, 0.95, 1.1)])
    t = _one_trade([alert_row("a", "T", T0)], c + c, Strategy(take_profit_pct=20))
    assert t["exit_price"] == pytest.approx(1.2)
    bad = c + [dict(c[1], high=1.25)]
    with pytest.raises(InvalidInput, match="different prices"):
        _run([alert_row("a", "T", T0)], bad, Strategy(take_profit_pct=20))


def test_date_range_filters_alerts():
    c = candle_rows("T", [FLAT, (1.0, 1.3, 0.95, 1.1)])
    res = _run([alert_row("a", "T", T0), alert_row("b", "T", T0 + MIN)], c, Strategy(take_profit_pct=20),
               date_from_us=T0 + 1)
    assert res.trades.column("alert_id").to_pylist() == ["b"]
    assert res.stats["alerts_outside_range"] == 1


def test_other_resolution_is_ignored_and_ambiguity_is_an_error():
    c = candle_rows("T", [FLAT, (1.0, 1.3, 0.95, 1.1)]) + candle_rows("T", [(1.0, 9.0, 0.1, 1.0)], resolution="5m")
    with pytest.raises(InvalidInput, match="resolution"):
        _run([alert_row("a", "T", T0)], c, Strategy(take_profit_pct=20))
    t = _one_trade([alert_row("a", "T", T0)], c, Strategy(take_profit_pct=20, resolution="1m"))
    assert t["exit_price"] == pytest.approx(1.2)


def test_invalid_strategy_names_the_field():
    with pytest.raises(ValidationFailed, match="stopLossPct"):
        strategy_from_mapping({"stopLossPct": 150})
    with pytest.raises(ValidationFailed, match="bogus"):
        strategy_from_mapping({"bogus": 1})
    assert strategy_from_mapping({"take_profit_pct": 5}).take_profit_pct == 5


# ---------------------------------------------------------------------------------------------
# random data: engine == reference, and independent of threads and row order
# ---------------------------------------------------------------------------------------------

def _random_market(rnd: random.Random, n_tokens: int, n_alerts: int):
    candles = []
    for t in range(n_tokens):
        n = rnd.randint(0, 40)
        start = T0 + rnd.randint(0, 20) * MIN
        price, ohlc, ts, rows = 1.0, [], start, []
        for _ in range(n):
            o = price * (1 + rnd.choice([0, 0, 0, rnd.uniform(-0.3, 0.3)]))
            c = o * (1 + rnd.uniform(-0.15, 0.15))
            h = max(o, c) * (1 + rnd.uniform(0, 0.2))
            lo = min(o, c) * (1 - rnd.uniform(0, 0.2))
            rows.append({"token": f"T{t}", "resolution": "1m", "ts": ts, "open": round(o, 6), "high": round(h, 6),
                         "low": round(lo, 6), "close": round(c, 6), "volume": 1.0})
            price = c
            ts += MIN * rnd.choice([1, 1, 1, 2, 5])  # gaps in the data
        candles.extend(rows)
        candles.extend(dict(r) for r in rows if rnd.random() < 0.05)  # identical duplicates collapse
        ohlc.clear()
    alerts = [alert_row(f"a{i}", f"T{rnd.randrange(n_tokens + 1)}", T0 + rnd.randint(-5, 60) * MIN + rnd.randint(0, MIN - 1))
              for i in range(n_alerts)]
    return alerts, candles


strategies = st.builds(
    Strategy,
    entry_delay_seconds=st.sampled_from([0.0, 30.0, 120.0]),
    max_entry_lag_seconds=st.sampled_from([None, 60.0, 300.0]),
    take_profit_pct=st.sampled_from([None, 5.0, 20.0, 50.0]),
    stop_loss_pct=st.sampled_from([None, 5.0, 15.0, 40.0]),
    trailing_stop_pct=st.sampled_from([None, 5.0, 10.0, 25.0]),
    max_hold_seconds=st.sampled_from([None, 60.0, 600.0, 1800.0]),
    fee_bps=st.sampled_from([0.0, 10.0]),
    slippage_bps=st.sampled_from([0.0, 25.0]),
    exit_at_end_of_data=st.booleans(),
)


@st.composite
def ladders(draw):
    n = draw(st.integers(1, 4))
    tps = sorted(draw(st.lists(st.sampled_from([2.0, 5.0, 10.0, 20.0, 35.0, 60.0]), min_size=n, max_size=n)))
    sizes = draw(st.lists(st.sampled_from([10.0, 25.0, 50.0]), min_size=n, max_size=n))
    if draw(st.booleans()):  # a full ladder: the last leg takes the rest
        head = sizes[:-1]
        while sum(head) >= 100:
            head = head[1:]
        sizes = head + [100.0 - sum(head)]
        tps = tps[-len(sizes):]
    elif sum(sizes) > 100:
        sizes = [x / 2 for x in sizes]
    return [LadderLeg(take_profit_pct=t, size_pct=z) for t, z in zip(tps, sizes)]


@st.composite
def full_strategies(draw):
    """Every feature of the strategy declaration, alone or together."""
    ladder = draw(st.one_of(st.none(), ladders()))
    re_pct = draw(st.sampled_from([None, 0.0, 5.0, 20.0]))
    return Strategy(
        entry_delay_seconds=draw(st.sampled_from([0.0, 30.0])),
        max_entry_lag_seconds=draw(st.sampled_from([None, 300.0])),
        take_profit_pct=None if ladder is not None else draw(st.sampled_from([None, 10.0, 30.0])),
        ladder=ladder,
        stop_loss_pct=draw(st.sampled_from([None, 5.0, 15.0, 40.0])),
        trailing_stop_pct=draw(st.sampled_from([None, None, 10.0])),
        break_even_trigger_pct=draw(st.sampled_from([None, 5.0, 20.0])),
        max_hold_seconds=draw(st.sampled_from([None, 600.0, 1800.0])),
        entry_dip_pct=draw(st.sampled_from([None, None, 5.0, 15.0])),
        entry_rebound_pct=draw(st.sampled_from([None, None, 0.0, 5.0])),
        entry_max_wait_seconds=draw(st.sampled_from([None, 300.0, 900.0])),
        re_entry_retrace_pct=re_pct,
        max_re_entries=0 if re_pct is None else draw(st.integers(0, 3)),
        re_entry_size_pct=draw(st.sampled_from([50.0, 100.0])),
        fee_bps=draw(st.sampled_from([0.0, 25.0])),
        slippage_bps=draw(st.sampled_from([0.0, 10.0])),
        entry_slippage_bps=draw(st.sampled_from([None, 50.0])),
        exit_slippage_bps=draw(st.sampled_from([None, 30.0])),
        exit_at_end_of_data=draw(st.booleans()),
    )


FILL_KEYS = ("cycle", "side", "reason", "leg", "ts", "level", "price", "qty", "notional", "fee")


def _compare(res, ref):
    got = {r["alert_id"]: r for r in res.trades.to_pylist()}
    skipped = {r["alert_id"]: r["reason"] for r in res.skipped.to_pylist()}
    fills: dict[str, list[dict]] = {}
    for f in res.fills.to_pylist():
        f["ts"] = round(f["ts"].timestamp() * 1_000_000)
        fills.setdefault(f["alert_id"], []).append(f)
    assert set(got) | set(skipped) == set(ref)
    assert set(fills) == set(got)
    for aid, want in ref.items():
        if "skip" in want:
            assert skipped.get(aid) == want["skip"], (aid, got.get(aid))
            continue
        t = got[aid]
        assert t["exit_reason"] == want["exit_reason"], aid
        assert int(t["entry_ts"].timestamp() * 1_000_000) == want["entry_us"]
        assert int(t["exit_ts"].timestamp() * 1_000_000) == want["exit_us"]
        for k in ("entry_price", "exit_price", "pnl", "pnl_pct"):
            assert t[k] == pytest.approx(want[k], rel=1e-12, abs=1e-12), (aid, k)
        mine = sorted(fills[aid], key=lambda f: f["fill_seq"])
        assert [f["fill_seq"] for f in mine] == list(range(len(mine)))
        assert len(mine) == len(want["fills"]), (aid, mine, want["fills"])
        for g, w in zip(mine, want["fills"]):
            for k in FILL_KEYS:
                if isinstance(w[k], float):
                    assert g[k] == pytest.approx(w[k], rel=1e-12, abs=1e-12), (aid, k, g, w)
                else:
                    assert g[k] == w[k], (aid, k, g, w)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), strategy=strategies)
def test_engine_matches_reference(seed, strategy):
    rnd = random.Random(seed)
    alerts, candles = _random_market(rnd, n_tokens=4, n_alerts=8)
    res = _run(alerts, candles, strategy)
    _compare(res, reference_backtest(alerts, candles, strategy))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), strategy=full_strategies())
def test_engine_matches_reference_fill_for_fill(seed, strategy):
    """Ladders, break-even, dip and rebound entries, re-entries, costs: every fill equal."""
    rnd = random.Random(seed)
    alerts, candles = _random_market(rnd, n_tokens=4, n_alerts=8)
    res = _run(alerts, candles, strategy)
    _compare(res, reference_backtest(alerts, candles, strategy))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6), strategy=full_strategies())
def test_results_do_not_depend_on_threads_or_row_order(seed, strategy):
    rnd = random.Random(seed)
    alerts, candles = _random_market(rnd, n_tokens=5, n_alerts=12)
    base = run_backtest(connect(alerts, candles, threads=1), "alerts", "candles", strategy)
    rnd.shuffle(alerts)
    rnd.shuffle(candles)
    other = run_backtest(connect(alerts, candles, threads=2), "alerts", "candles", strategy)
    assert base.trades.equals(other.trades)
    assert base.skipped.equals(other.skipped)
    assert base.fills.equals(other.fills)


def test_grid_equals_separate_runs():
    rnd = random.Random(5)
    alerts, candles = _random_market(rnd, n_tokens=5, n_alerts=15)
    points = {f"p{i}": Strategy(take_profit_pct=tp, stop_loss_pct=sl, trailing_stop_pct=tr, max_hold_seconds=h,
                                entry_delay_seconds=d)
              for i, (tp, sl, tr, h, d) in enumerate([(20, 10, None, 600, 0), (50, 20, 10, 600, 0),
                                                       (5, 5, None, None, 60), (None, 30, 5, 1800, 60)])}
    con = connect(alerts, candles)
    grid = run_grid(con, "alerts", "candles", points)
    for exp_id, s in points.items():
        single = run_backtest(con, "alerts", "candles", s, experiment_id=exp_id)
        assert grid[exp_id].trades.equals(single.trades)
        _compare(single, reference_backtest(alerts, candles, s))


def test_trailing_stop_hours_after_the_peak():
    # 10-minute candles for 10 h; the peak (2.0) is in the first 6 h, the trailing stop
    # (10 % under the peak = 1.8) is first touched at 7 h.
    ohlc = [(1.0, 1.05, 0.98, 1.0)] * 12 + [(1.0, 2.0, 0.99, 1.9)] + [(1.9, 1.95, 1.85, 1.9)] * 29 \
        + [(1.9, 1.92, 1.7, 1.75)] + [FLAT] * 17
    c = candle_rows("T", ohlc, step_us=10 * MIN)
    s = Strategy(trailing_stop_pct=10)
    t = _one_trade([alert_row("a", "T", T0)], c, s)
    assert t["exit_reason"] == "trailing_stop" and t["exit_price"] == pytest.approx(1.8)
    assert t["exit_ts"].timestamp() * 1e6 == T0 + 42 * 10 * MIN
    ref = reference_backtest([alert_row("a", "T", T0)], c, s)["a"]
    assert (ref["exit_us"], ref["exit_reason"]) == (T0 + 42 * 10 * MIN, "trailing_stop")


def test_ladder_grid_equals_separate_runs_fill_for_fill():
    """Points that share entry rules share the first cycle's window rows; others do not."""
    rnd = random.Random(11)
    alerts, candles = _random_market(rnd, n_tokens=5, n_alerts=15)
    legs = [LadderLeg(take_profit_pct=5, size_pct=50), LadderLeg(take_profit_pct=15, size_pct=50)]
    points = {
        "a": Strategy(ladder=legs, stop_loss_pct=10, break_even_trigger_pct=5, exit_at_end_of_data=True),
        "b": Strategy(ladder=[LadderLeg(take_profit_pct=8, size_pct=50), legs[1]], stop_loss_pct=10,
                      break_even_trigger_pct=20, exit_at_end_of_data=True),
        "c": Strategy(ladder=legs, stop_loss_pct=10, entry_dip_pct=5, entry_max_wait_seconds=600,
                      re_entry_retrace_pct=5, max_re_entries=2, exit_at_end_of_data=True),
        "d": Strategy(take_profit_pct=10, trailing_stop_pct=10, entry_rebound_pct=2, max_hold_seconds=1200),
    }
    con = connect(alerts, candles)
    grid = run_grid(con, "alerts", "candles", points)
    for exp_id, s in points.items():
        single = run_backtest(con, "alerts", "candles", s, experiment_id=exp_id)
        assert grid[exp_id].trades.equals(single.trades) and grid[exp_id].fills.equals(single.fills)
        _compare(single, reference_backtest(alerts, candles, s))
