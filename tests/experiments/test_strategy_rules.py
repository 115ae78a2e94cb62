"""Hand-made cases, one per rule of docs/experiments.md "Strategy rules": ladders, break-even,
dip and rebound entries (no look-ahead), re-entries, costs, and each against the reference."""

from __future__ import annotations

import pytest

from bridge.experiments.engine import run_backtest
from bridge.experiments.strategy import LadderLeg, Strategy
from tests.experiments.helpers import MIN, T0, alert_row, candle_rows, connect
from tests.experiments.reference import reference_backtest

FLAT = (1.0, 1.0, 1.0, 1.0)


def _legs(*pairs):
    return [LadderLeg(take_profit_pct=t, size_pct=z) for t, z in pairs]


def _fills(ohlc, s, *, alert_us=T0):
    """(trade, fills as (reason, leg, minute, level, price, qty)) checked against the reference."""
    alerts, candles = [alert_row("a", "T", alert_us)], candle_rows("T", ohlc)
    res = run_backtest(connect(alerts, candles), "alerts", "candles", s)
    ref = reference_backtest(alerts, candles, s)["a"]
    if "skip" in ref:
        assert res.skipped.to_pylist()[0]["reason"] == ref["skip"]
        return None, ref["skip"]
    assert res.trades.num_rows == 1, res.skipped.to_pylist()
    t = res.trades.to_pylist()[0]
    fills = [(f["reason"], f["leg"], round((f["ts"].timestamp() * 1e6 - T0) / MIN, 6),
              None if f["level"] is None else round(f["level"], 9), round(f["price"], 9), round(f["qty"], 9))
             for f in res.fills.to_pylist()]
    want = [(f["reason"], f["leg"], round((f["ts"] - T0) / MIN, 6), None if f["level"] is None else round(f["level"], 9),
             round(f["price"], 9), round(f["qty"], 9)) for f in ref["fills"]]
    assert fills == want
    assert t["pnl"] == pytest.approx(ref["pnl"], rel=1e-12)
    return t, fills


def test_one_leg_of_100_percent_equals_take_profit():
    ohlc = [FLAT, (1.0, 1.1, 0.97, 1.05), (1.05, 1.25, 1.0, 1.2), FLAT]
    a, _ = _fills(ohlc, Strategy(take_profit_pct=20, stop_loss_pct=5, fee_bps=10, slippage_bps=20))
    b, _ = _fills(ohlc, Strategy(ladder=_legs((20, 100)), stop_loss_pct=5, fee_bps=10, slippage_bps=20))
    assert a == b  # bit for bit, same trade id


def test_ladder_partial_fills_and_blended_exit():
    # 50 % at +10 %, 30 % at +30 %, 20 % at +100 %; the third never fills, the rest stops at -20 %
    ohlc = [FLAT, (1.0, 1.12, 0.99, 1.1), (1.1, 1.35, 1.05, 1.3), (1.3, 1.3, 0.7, 0.75)]
    t, fills = _fills(ohlc, Strategy(ladder=_legs((10, 50), (30, 30), (100, 20)), stop_loss_pct=20))
    assert [(f[0], f[1], f[2], f[4], f[5]) for f in fills] == [
        ("entry", None, 0, 1.0, 1000.0), ("take_profit", 0, 1, 1.1, 500.0), ("take_profit", 1, 2, 1.3, 300.0),
        ("stop_loss", None, 3, 0.8, 200.0)]
    assert t["exit_price"] == pytest.approx((500 * 1.1 + 300 * 1.3 + 200 * 0.8) / 1000)
    assert t["pnl"] == pytest.approx(500 * 1.1 + 300 * 1.3 + 200 * 0.8 - 1000)
    assert t["exit_reason"] == "stop_loss"


def test_several_legs_in_one_candle_and_a_gap_through_levels():
    # candle 1's high reaches legs 0 and 1 (filled at their levels); candle 2 gaps above leg 2 (at the open)
    ohlc = [FLAT, (1.0, 1.35, 0.99, 1.2), (1.6, 1.7, 1.5, 1.6)]
    t, fills = _fills(ohlc, Strategy(ladder=_legs((10, 40), (30, 40), (50, 20))))
    assert [(f[0], f[1], f[2], f[4]) for f in fills] == [
        ("entry", None, 0, 1.0), ("take_profit", 0, 1, 1.1), ("take_profit", 1, 1, 1.3), ("take_profit", 2, 2, 1.6)]
    assert t["exit_reason"] == "take_profit"


def test_stop_wins_a_candle_that_touches_stop_and_target_but_legs_below_the_open_fill_first():
    # candle 1 opens above leg 0 (filled at the open), then touches both the stop and leg 1: the stop wins
    ohlc = [FLAT, (1.12, 1.5, 0.85, 1.0)]
    _, fills = _fills(ohlc, Strategy(ladder=_legs((10, 50), (40, 50)), stop_loss_pct=10))
    assert [(f[0], f[1], f[4], f[5]) for f in fills] == [
        ("entry", None, 1.0, 1000.0), ("take_profit", 0, 1.12, 500.0), ("stop_loss", None, 0.9, 500.0)]


def test_break_even_moves_the_stop_from_the_next_candle():
    # candle 1's high reaches +50 %: from candle 2 the stop is the entry price (1.0), not -30 % (0.7)
    ohlc = [FLAT, (1.0, 1.5, 0.95, 1.4), (1.4, 1.45, 0.9, 1.0)]
    _, fills = _fills(ohlc, Strategy(stop_loss_pct=30, break_even_trigger_pct=50, take_profit_pct=100))
    assert fills[-1][:5] == ("break_even", None, 2, 1.0, 1.0)
    # the trigger candle itself only has the -30 % stop: a low of 0.75 there does not stop out
    ohlc = [FLAT, (1.0, 1.5, 0.75, 1.4), (1.4, 1.45, 1.2, 1.3)]
    t, _ = _fills(ohlc, Strategy(stop_loss_pct=30, break_even_trigger_pct=50, take_profit_pct=100,
                                 exit_at_end_of_data=True))
    assert t["exit_reason"] == "end_of_data"


def test_dip_entry_waits_for_the_level_and_fills_at_it_or_at_a_lower_open():
    ohlc = [FLAT, (0.95, 0.97, 0.85, 0.9), (0.9, 1.2, 0.9, 1.1)]
    _, fills = _fills(ohlc, Strategy(entry_dip_pct=10, take_profit_pct=20))
    assert fills[0][:5] == ("entry", None, 1, 0.9, 0.9)          # level 0.9, inside candle 1
    assert fills[1][:5] == ("take_profit", 0, 2, 1.08, 1.08)     # target relative to the fill
    ohlc = [FLAT, (0.8, 0.85, 0.75, 0.8), (0.8, 1.2, 0.8, 1.1)]
    _, fills = _fills(ohlc, Strategy(entry_dip_pct=10, take_profit_pct=20))
    assert fills[0][:5] == ("entry", None, 1, 0.9, 0.8)          # gapped below: the open
    # the entry candle of an entry inside the candle checks only the stop, not the targets
    ohlc = [FLAT, (1.0, 1.3, 0.9, 1.0), FLAT]
    t, fills = _fills(ohlc, Strategy(entry_dip_pct=10, take_profit_pct=20, exit_at_end_of_data=True))
    assert t["exit_reason"] == "end_of_data"


def test_dip_not_reached_within_the_wait_is_not_triggered():
    ohlc = [FLAT] * 10
    _, skip = _fills(ohlc, Strategy(entry_dip_pct=10, take_profit_pct=20, entry_max_wait_seconds=300))
    assert skip == "entry_not_triggered"
    _, skip = _fills(ohlc, Strategy(entry_dip_pct=10, take_profit_pct=20, entry_max_wait_seconds=3600))
    assert skip == "insufficient_horizon"   # the data ends inside the wait window


def test_rebound_entry_uses_the_low_of_earlier_candles_only():
    # candle 1 dips to 0.8 and closes up: its own low does not count for its own trigger, so with
    # a 10 % rebound the entry is at candle 2 at 0.8 * 1.1 = 0.88 (not inside candle 1)
    ohlc = [FLAT, (1.0, 1.0, 0.8, 0.95), (0.85, 0.9, 0.84, 0.9), (0.9, 0.9, 0.9, 0.9)]
    _, fills = _fills(ohlc, Strategy(entry_rebound_pct=10, stop_loss_pct=50, exit_at_end_of_data=True))
    assert fills[0][:5] == ("entry", None, 2, 0.88, 0.88)
    # a candle opening above the trigger fills at its open
    ohlc = [FLAT, (1.0, 1.0, 0.8, 0.95), (0.95, 0.97, 0.9, 0.9), (0.9, 0.9, 0.9, 0.9)]
    _, fills = _fills(ohlc, Strategy(entry_rebound_pct=10, stop_loss_pct=50, exit_at_end_of_data=True))
    assert fills[0][:5] == ("entry", None, 2, 0.88, 0.95)


def test_re_entry_after_a_stop_and_after_the_last_leg():
    # stop at -10 % in candle 1 (0.9); re-entry when the low reaches entry × (1 - 20 %) = 0.8, from candle 2
    ohlc = [FLAT, (1.0, 1.0, 0.85, 0.86), (0.86, 0.87, 0.78, 0.8), (0.8, 1.0, 0.8, 1.0)]
    s = Strategy(stop_loss_pct=10, take_profit_pct=20, re_entry_retrace_pct=20, max_re_entries=1,
                 re_entry_size_pct=50)
    t, fills = _fills(ohlc, s)
    assert [(f[0], f[2], f[4], f[5]) for f in fills] == [
        ("entry", 0, 1.0, 1000.0), ("stop_loss", 1, 0.9, 1000.0), ("re_entry", 2, 0.8, 625.0),
        ("take_profit", 3, 0.96, 625.0)]
    assert t["pnl"] == pytest.approx(1000 * 0.9 - 1000 + 625 * 0.96 - 500)
    # after the last leg: the reference is the last target (1.2), re-entry at 1.2 × 0.9 = 1.08
    ohlc = [FLAT, (1.0, 1.25, 1.0, 1.2), (1.2, 1.2, 1.05, 1.1), (1.1, 1.1, 1.1, 1.1)]
    s = Strategy(take_profit_pct=20, re_entry_retrace_pct=10, max_re_entries=2, exit_at_end_of_data=True)
    _, fills = _fills(ohlc, s)
    assert [(f[0], f[2], f[3]) for f in fills[:3]] == [("entry", 0, None), ("take_profit", 1, 1.2),
                                                       ("re_entry", 2, 1.08)]


def test_separate_entry_and_exit_slippage_and_fee_on_every_fill():
    ohlc = [FLAT, (1.0, 1.25, 0.99, 1.2), (1.2, 1.5, 1.2, 1.5)]
    s = Strategy(ladder=_legs((20, 50), (40, 50)), entry_slippage_bps=100, exit_slippage_bps=50, fee_bps=25)
    t, fills = _fills(ohlc, s)
    q = 1000 / 1.01
    assert [f[4] for f in fills] == [pytest.approx(1.01), pytest.approx(1.2 * 0.995), pytest.approx(1.4 * 0.995)]
    pnl = (q / 2 * 1.2 * 0.995 + q / 2 * 1.4 * 0.995) * (1 - 0.0025) - 1000 * 1.0025
    assert t["pnl"] == pytest.approx(pnl)


def test_max_hold_counts_from_the_first_entry_for_re_entries_too():
    ohlc = [FLAT, (1.0, 1.0, 0.85, 0.86), (0.86, 0.87, 0.78, 0.8), (0.8, 0.85, 0.8, 0.82), (0.82, 0.9, 0.8, 0.85)]
    s = Strategy(stop_loss_pct=10, re_entry_retrace_pct=20, max_re_entries=1, max_hold_seconds=240)
    _, fills = _fills(ohlc, s)
    assert [(f[0], f[2]) for f in fills] == [("entry", 0), ("stop_loss", 1), ("re_entry", 2), ("max_hold", 4)]


def test_the_worked_example_of_the_docs():
    """docs/experiments.md "Worked example", number for number."""
    ohlc = [(1.00, 1.20, 0.95, 1.10), (1.10, 1.60, 1.05, 1.50), (1.50, 2.30, 1.40, 2.10), (2.10, 2.20, 0.90, 0.95),
            (0.95, 1.00, 0.78, 0.85), (0.85, 1.70, 0.84, 1.65), (1.65, 1.70, 0.70, 0.75), (0.75, 0.80, 0.70, 0.75)]
    s = Strategy(ladder=_legs((100, 50), (400, 30), (900, 20)), stop_loss_pct=30, break_even_trigger_pct=50,
                 re_entry_retrace_pct=20, max_re_entries=1, re_entry_size_pct=50, fee_bps=25)
    t, fills = _fills(ohlc, s)
    assert fills == [("entry", None, 0, None, 1.0, 1000.0), ("take_profit", 0, 2, 2.0, 2.0, 500.0),
                     ("break_even", None, 3, 1.0, 1.0, 500.0), ("re_entry", None, 4, 0.8, 0.8, 625.0),
                     ("take_profit", 0, 5, 1.6, 1.6, 312.5), ("break_even", None, 6, 0.8, 0.8, 312.5)]
    assert t["pnl"] == pytest.approx(740.625) and t["pnl_pct"] == pytest.approx(0.740625)
    assert t["entry_price"] == pytest.approx(1500 / 1625) and t["exit_price"] == pytest.approx(2250 / 1625)
    assert t["exit_reason"] == "break_even" and t["duration_ms"] == 6 * 60_000
