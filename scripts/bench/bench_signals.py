"""Benchmark: the engine with an RSI entry filter and an EMA-cross exit vs a per-alert pandas loop
with TA-Lib indicators.

Full size: 10,000 alerts, one token each, 1-minute candles for the 24 h after each alert (14.4 M
candles). Strategy: enter only where RSI(14) < 30 acts (signal at a candle's close, entry at the
next open) within 60 min of the alert; exit the rest at the next open once EMA(9) crosses below
EMA(21); take profit +50 %, stop −20 %, max hold 12 h, 25 bps fee, 50 bps slippage each side,
exit at the end of the data. Targets: engine < 30 s, >= 10× the naive loop, faster than the
pre-grouped loop, peak RSS growth <= 3× the inputs' Arrow size.

Baselines, precisely ("per-alert pandas loop with TA-Lib indicators"), both reported:
- naive: per alert, its token's candles selected from the whole candle frame with a boolean mask
  (`cdf[cdf.token == token]`, then sorted), TA-Lib RSI(14), EMA(9), EMA(21) over their closes, and
  a Python walk over the rows applying the same rules (docs/signals.md, docs/experiments.md);
- grouped (the stronger one): the candles grouped by token once (`groupby`, timed once and
  added to every round's time), then the same per-alert TA-Lib calls and walk.
Each is timed on the first --naive-alerts / --loop-alerts alerts and scaled linearly to all alerts
(the output says so); their P&L per alert is checked against the engine's.

Rounds are interleaved (engine, loops, engine, loops, ...) so all see the same machine load; the
report gives the median and the range over --rounds rounds, the engine's CPU time (all threads)
and its peak RSS growth: the largest over the rounds of (peak RSS during the run, sampled every
5 ms) − (RSS at its start), against the alerts' and candles' Arrow size. Everything runs in this
one process (`bench_backtest.engine_vs_loops`; pin it with `taskset -c 0,1` for a fixed core set).

    .venv/bin/python scripts/bench/bench_signals.py --alerts 1000 --rounds 5
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_backtest import bench_arguments, engine_vs_loops  # noqa: E402

HOUR = 3600


def strategy():
    import msgspec

    from bridge.experiments.signals import SignalGroup
    from bridge.experiments.strategy import Strategy

    entry = msgspec.convert({"conditions": [{"indicator": "rsi", "params": {"period": 14}, "operator": "<",
                                             "value": 30}]}, SignalGroup)
    exit_ = msgspec.convert({"conditions": [{"indicator": "ema", "params": {"period": 9}, "operator": "crosses_below",
                                             "secondaryIndicator": "ema", "secondaryParams": {"period": 21}}]},
                            SignalGroup)
    return Strategy(entry_signal=entry, exit_signal=exit_, entry_max_wait_seconds=HOUR, take_profit_pct=50,
                    stop_loss_pct=20, max_hold_seconds=12 * HOUR, fee_bps=25, slippage_bps=50,
                    exit_at_end_of_data=True, resolution="1m")


def walk(g: pd.DataFrame | None, alert_us: int, s) -> float | None:
    """One alert: TA-Lib indicators over its token's candles, then row by row. Returns the P&L
    (None: no trade)."""
    import talib

    if g is None:
        return None
    ts, o, h, lo, c = (g[k].to_numpy() for k in ("ts", "open", "high", "low", "close"))
    rsi = talib.RSI(c, 14)
    fast, slow = talib.EMA(c, 9), talib.EMA(c, 21)
    n = len(ts)
    i = int(np.searchsorted(ts, alert_us))
    wait_end = alert_us + s.entry_max_wait_seconds * 1_000_000
    j0 = None
    for j in range(i, n):
        if ts[j] >= wait_end:
            break
        if j >= 1 and rsi[j - 1] < 30:  # NaN compares false: warm-up
            j0 = j
            break
    if j0 is None:
        return None
    es, xs, fee = s.entry_slippage / 1e4, s.exit_slippage / 1e4, s.fee_bps / 1e4
    e = o[j0]
    qty = s.notional / (e * (1 + es))
    cost = s.notional * (1 + fee)
    tp, sl = e * (1 + s.take_profit_pct / 100), e * (1 - s.stop_loss_pct / 100)
    deadline = ts[j0] + s.max_hold_seconds * 1_000_000
    fill = None
    for j in range(j0, n):
        if ts[j] >= deadline:
            fill = o[j]
            break
        if j > j0 and fast[j - 1] < slow[j - 1] and fast[j - 2] >= slow[j - 2]:  # crossed below at j-1
            fill = o[j]
            break
        if o[j] <= sl or o[j] >= tp:
            fill = o[j]
            break
        if lo[j] <= sl:
            fill = sl
            break
        if h[j] >= tp:
            fill = tp
            break
    if fill is None:
        fill = c[-1]
    return qty * fill * (1 - xs) * (1 - fee) - cost


def main() -> None:
    args = bench_arguments(__doc__, loop_alerts=300)
    report, first = engine_vs_loops(args, strategy(), walk)
    report["skipped_by_reason"] = {k[8:]: v for k, v in first.stats.items() if k.startswith("skipped_")}
    report["naive_loop"]["baseline"] = ("per alert: boolean mask of the whole candle frame + sort, TA-Lib RSI/EMA, "
                                        "a row walk of the same rules")
    report["grouped_loop"]["baseline"] = ("groupby token once + per alert: TA-Lib RSI/EMA over its candles and a "
                                          "row walk of the same rules")
    med_e = report["engine_s"]["median"]
    report["targets"] = {
        "engine_under_30s": med_e < 30,
        "speedup_vs_naive_loop_at_least_10x": report["naive_loop"]["speedup_median"] >= 10,
        "faster_than_grouped_loop": report["grouped_loop"]["speedup_median"] > 1,
        "rss_growth_at_most_3x_inputs": report["engine_peak_rss_growth_x_arrow"] <= 3}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
