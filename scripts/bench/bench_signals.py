"""Benchmark: the engine with an RSI entry filter and an EMA-cross exit vs a per-alert pandas loop
with TA-Lib indicators.

Full size: 10,000 alerts, one token each, 1-minute candles for the 24 h after each alert (14.4 M
candles). Strategy: enter only where RSI(14) < 30 acts (signal at a candle's close, entry at the
next open) within 60 min of the alert; exit the rest at the next open once EMA(9) crosses below
EMA(21); take profit +50 %, stop −20 %, max hold 12 h, 25 bps fee, 50 bps slippage each side,
exit at the end of the data. Targets: engine < 30 s and >= 10× the loop.

Baselines, precisely ("per-alert pandas loop with TA-Lib indicators"), both reported:
- naive: per alert, its token's candles selected from the whole candle frame with a boolean mask
  (`cdf[cdf.token == token]`, then sorted), TA-Lib RSI(14), EMA(9), EMA(21) over their closes, and
  a Python walk over the rows applying the same rules (docs/signals.md, docs/experiments.md);
- grouped (the stronger one): the candles grouped by token once (`groupby`, timed and counted),
  then the same per-alert TA-Lib calls and walk.
Each is timed on the first --naive-alerts / --loop-alerts alerts and scaled linearly to all alerts
(the output says so); their P&L per alert is checked against the engine's.

Rounds are interleaved (engine, loop, engine, loop, ...) so both see the same machine load; the
report gives the median and the range over --rounds rounds. Everything runs in this one process
(pin it with `taskset -c 0,1` for a fixed core set).

    .venv/bin/python scripts/bench/bench_signals.py --alerts 1000 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rss import PeakRss  # noqa: E402
from bench_backtest import load_duckdb, make_data, pandas_frames  # noqa: E402

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


def walk(g: pd.DataFrame, alert_us: int, s, step_us: int) -> float | None:
    """One alert: TA-Lib indicators over its token's candles, then row by row. Returns the P&L."""
    import talib

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


def naive_loop(adf, cdf, s, n: int) -> tuple[float, dict]:
    t = time.perf_counter()
    out = {}
    for a in adf.iloc[:n].itertuples():
        g = cdf[cdf.token == a.token_address].sort_values("ts")
        out[a.alert_id] = None if g.empty else walk(g, a.alert_us, s, 60_000_000)
    return time.perf_counter() - t, out


def loop(adf, groups, s, n: int) -> tuple[float, dict]:
    t = time.perf_counter()
    out = {}
    for a in adf.iloc[:n].itertuples():
        g = groups.get(a.token_address)
        out[a.alert_id] = None if g is None else walk(g, a.alert_us, s, 60_000_000)
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--minutes", type=int, default=1440, help="candles after each alert (default 24 h)")
    ap.add_argument("--loop-alerts", type=int, default=300, help="alerts timed in the grouped loop, then scaled")
    ap.add_argument("--naive-alerts", type=int, default=20, help="alerts timed in the naive loop, then scaled")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()


    from bridge.experiments.engine import run_backtest

    s = strategy()
    alerts, candles = make_data(args.alerts, args.minutes)
    arrow_bytes = alerts.nbytes + candles.nbytes
    con = load_duckdb(alerts, candles, args.threads)

    adf, cdf = pandas_frames(alerts, candles)
    t = time.perf_counter()
    groups = {tok: g.drop(columns="token").sort_values("ts") for tok, g in cdf.groupby("token", sort=False)}
    group_s = time.perf_counter() - t
    n_loop = min(args.loop_alerts, args.alerts)
    n_naive = min(args.naive_alerts, args.alerts)

    engine_s, loop_s, naive_s, cpu_s, growth, first = [], [], [], [], [], None
    for _ in range(args.rounds):
        t, cpu = time.perf_counter(), time.process_time()
        with PeakRss() as mem:
            res = run_backtest(con, "alerts", "candles", s)
        engine_s.append(time.perf_counter() - t)
        cpu_s.append(time.process_time() - cpu)
        growth.append(mem.growth)
        if first is None:
            first = res
        else:
            assert res.trades.equals(first.trades) and res.fills.equals(first.fills), "two engine runs disagree"
        sub, pnl = loop(adf, groups, s, n_loop)
        loop_s.append(group_s + sub * args.alerts / n_loop)
        sub, naive_pnl = naive_loop(adf, cdf, s, n_naive)
        naive_s.append(sub * args.alerts / n_naive)
        assert all(naive_pnl[k] == pnl[k] for k in naive_pnl if k in pnl), "the two loops disagree"

    engine = {r["alert_id"]: r["pnl"] for r in first.trades.to_pylist()}
    agree = sum(1 for aid, p in pnl.items() if p is not None and aid in engine and abs(engine[aid] - p) <= 1e-9 * 1000)
    entered_loop = sum(1 for p in pnl.values() if p is not None)
    entered_engine = sum(1 for aid in pnl if aid in engine)
    med_e, med_l, med_n = statistics.median(engine_s), statistics.median(loop_s), statistics.median(naive_s)
    fills = first.fills
    report = {
        "alerts": args.alerts, "candles": candles.num_rows, "threads": args.threads or "default",
        "rounds": args.rounds,
        "engine_s": {"median": round(med_e, 3), "min": round(min(engine_s), 3), "max": round(max(engine_s), 3)},
        "engine_cpu_s_median": round(statistics.median(cpu_s), 3),
        "engine_candles_per_s": round(candles.num_rows / med_e),
        "trades": first.trades.num_rows, "skipped": first.skipped.num_rows,
        "skipped_by_reason": {k[8:]: v for k, v in first.stats.items() if k.startswith("skipped_")},
        "fills_by_reason": dict(sorted(pd.Series(fills.column("reason").to_pylist()).value_counts().items())),
        "engine_peak_rss_growth_x_arrow": round(max(growth) / arrow_bytes, 2),
        "engine_peak_rss_growth_mb": round(max(growth) / 1e6),
        "inputs_arrow_mb": round(arrow_bytes / 1e6),
        "naive_loop": {"baseline": "per alert: boolean mask of the whole candle frame + sort, TA-Lib RSI/EMA, "
                                   "a row walk of the same rules",
                       "alerts_timed": n_naive,
                       "scaled_to_all_alerts_s": {"median": round(med_n, 1), "min": round(min(naive_s), 1),
                                                  "max": round(max(naive_s), 1)},
                       "speedup_median": round(med_n / med_e, 1)},
        "grouped_loop": {"baseline": "groupby token once + per alert: TA-Lib RSI/EMA over its candles and a "
                                     "row walk of the same rules",
                        "group_by_token_s": round(group_s, 3), "alerts_timed": n_loop,
                        "scaled_to_all_alerts_s": {"median": round(med_l, 1), "min": round(min(loop_s), 1),
                                                   "max": round(max(loop_s), 1)},
                        "speedup_median": round(med_l / med_e, 1)},
        "loop_vs_engine": {"entered": f"loop {entered_loop} / engine {entered_engine} of {len(pnl)}",
                           "pnl_agree": f"{agree}/{entered_loop}"},
        "targets": {"engine_under_30s": med_e < 30, "speedup_vs_naive_loop_at_least_10x": med_n / med_e >= 10,
                    "speedup_vs_grouped_loop_at_least_10x": med_l / med_e >= 10},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
