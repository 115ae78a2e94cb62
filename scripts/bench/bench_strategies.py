"""Benchmark: the engine running a ladder strategy vs a per-alert pandas loop of the same rules.

Full size: 10,000 alerts, one token each, 1-minute candles for the 24 h after each alert (14.4 M
candles); strategy: a 3-leg ladder (50 % at 1.5×, 30 % at 2×, 20 % at 3×), stop −20 %, break-even
once +25 %, one re-entry (10 % retrace, 50 % size), 25 bps fee, 50 bps slippage each side, exit at
the end of the data. Targets: engine < 20 s, >= 10× a per-alert pandas loop, peak RSS growth <= 3×
the inputs' Arrow size.

Two baselines, precisely, both a Python walk over one alert's candle rows (`itertuples`) applying
the same rules as the engine (docs/experiments.md "Engine rules"), differing in how the rows are
found:
- naive per-alert loop: per alert, its token's candles selected from the whole candle frame with
  a boolean mask, then sorted (what a per-alert loop over a candle table does);
- pre-grouped loop: candles grouped by token once (`groupby`, timed and counted), then a dict
  lookup per alert (a stronger baseline than the target names).
Each is timed on the first --naive-alerts / --loop-alerts alerts and scaled linearly to all alerts
(the output says so); their P&L per alert is checked against the engine's and each other's.

Rounds are interleaved (engine, loop, engine, loop, ...) so both see the same machine load; the
report gives the median and the range over --rounds rounds. Everything runs in this one process
(no two processes compete for the cores; pin the whole process with `taskset -c 0,1` if you
want a fixed core set).

    .venv/bin/python scripts/bench/bench_strategies.py --alerts 500 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rss import PeakRss  # noqa: E402
from bench_backtest import load_duckdb, make_data, pandas_frames  # noqa: E402


def strategy():
    from bridge.experiments.strategy import LadderLeg, Strategy

    return Strategy(ladder=[LadderLeg(take_profit_pct=50, size_pct=50), LadderLeg(take_profit_pct=100, size_pct=30),
                            LadderLeg(take_profit_pct=200, size_pct=20)],
                    stop_loss_pct=20, break_even_trigger_pct=25, re_entry_retrace_pct=10, max_re_entries=1,
                    re_entry_size_pct=50, fee_bps=25, slippage_bps=50, exit_at_end_of_data=True)


def walk(rows: list, alert_us: int, s, step_us: int) -> float | None:
    """One alert, row by row (ts, open, high, low, close): the engine's rules for this strategy
    (market entry, ladder, fixed and break-even stop, re-entries, end of data). Returns the P&L."""
    i = 0
    while i < len(rows) and rows[i][0] < alert_us:
        i += 1
    if i == len(rows):
        return None
    legs = [(g.take_profit_pct, g.size_pct) for g in s.legs()]
    es, xs, fee = s.entry_slippage / 1e4, s.exit_slippage / 1e4, s.fee_bps / 1e4
    proceeds = cost = 0.0
    cycle, size, e, intra = 0, 1.0, rows[i][1], False
    while True:
        notional = size * s.notional
        qty = notional / (e * (1 + es))
        cost += notional * (1 + fee)
        targets = [e * (1 + t / 100) for t, _ in legs]
        done, sold, high, flat, j0 = [False] * len(legs), 0.0, e, None, i
        for j in range(i, len(rows)):
            ts, o, h, lo, _ = rows[j]
            first = j == j0 and intra
            stop = e * (1 - s.stop_loss_pct / 100)
            if high >= e * (1 + s.break_even_trigger_pct / 100):
                stop = max(stop, e)
            if not first and o <= stop:
                proceeds += qty * (100 - sold) / 100 * o * (1 - xs) * (1 - fee)
                flat = (j, "stop")
                break
            if not first:
                for k, t in enumerate(targets):
                    if not done[k] and o >= t:
                        done[k], sold = True, sold + legs[k][1]
                        proceeds += qty * legs[k][1] / 100 * o * (1 - xs) * (1 - fee)
                if sold >= 100 - 1e-9:
                    flat = (j, "legs")
                    break
            if lo <= stop:
                proceeds += qty * (100 - sold) / 100 * stop * (1 - xs) * (1 - fee)
                flat = (j, "stop")
                break
            if not first:
                for k, t in enumerate(targets):
                    if not done[k] and h >= t:
                        done[k], sold = True, sold + legs[k][1]
                        proceeds += qty * legs[k][1] / 100 * t * (1 - xs) * (1 - fee)
                if sold >= 100 - 1e-9:
                    flat = (j, "legs")
                    break
                high = max(high, h)
        if flat is None:
            proceeds += qty * (100 - sold) / 100 * rows[-1][4] * (1 - xs) * (1 - fee)
            break
        if cycle >= s.max_re_entries:
            break
        level = (targets[-1] if flat[1] == "legs" else e) * (1 - s.re_entry_retrace_pct / 100)
        nxt = next((j for j in range(flat[0] + 1, len(rows)) if rows[j][3] <= level), None)
        if nxt is None:
            break
        cycle, size, i = cycle + 1, s.re_entry_size_pct / 100, nxt
        e, intra = min(rows[nxt][1], level), rows[nxt][1] > level
    return proceeds - cost


def naive_loop(adf, cdf, s, n: int) -> tuple[float, dict]:
    t = time.perf_counter()
    out = {}
    for a in adf.iloc[:n].itertuples():
        g = cdf[cdf.token == a.token_address].drop(columns="token").sort_values("ts")
        out[a.alert_id] = walk(list(g.itertuples(index=False, name=None)), a.alert_us, s, 60_000_000)
    return time.perf_counter() - t, out


def loop(adf, groups, s, n: int) -> tuple[float, dict]:
    t = time.perf_counter()
    out = {}
    for a in adf.iloc[:n].itertuples():
        g = groups.get(a.token_address)
        rows = [] if g is None else list(g.itertuples(index=False, name=None))
        out[a.alert_id] = walk(rows, a.alert_us, s, 60_000_000)
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--minutes", type=int, default=1440, help="candles after each alert (default 24 h)")
    ap.add_argument("--loop-alerts", type=int, default=200, help="alerts timed in the pre-grouped loop, then scaled")
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
    med_e, med_l, med_n = statistics.median(engine_s), statistics.median(loop_s), statistics.median(naive_s)
    fills = first.fills
    report = {
        "alerts": args.alerts, "candles": candles.num_rows, "threads": args.threads or "default",
        "rounds": args.rounds,
        "engine_s": {"median": round(med_e, 3), "min": round(min(engine_s), 3), "max": round(max(engine_s), 3)},
        "engine_cpu_s_median": round(statistics.median(cpu_s), 3),
        "engine_candles_per_s": round(candles.num_rows / med_e),
        "trades": first.trades.num_rows, "skipped": first.skipped.num_rows, "fills": fills.num_rows,
        "fills_by_reason": dict(sorted(pd.Series(fills.column("reason").to_pylist()).value_counts().items())),
        "engine_peak_rss_growth_x_arrow": round(max(growth) / arrow_bytes, 2),
        "engine_peak_rss_growth_mb": round(max(growth) / 1e6),
        "inputs_arrow_mb": round(arrow_bytes / 1e6),
        "naive_loop": {"baseline": "per alert: boolean mask of the whole candle frame + sort, then the itertuples "
                       "walk of the same rules", "alerts_timed": n_naive,
                       "scaled_to_all_alerts_s": {"median": round(med_n, 1), "min": round(min(naive_s), 1),
                                                  "max": round(max(naive_s), 1)},
                       "speedup_median": round(med_n / med_e, 1)},
        "pandas_loop": {"baseline": "groupby token once + per-alert itertuples walk of the same rules",
                        "group_by_token_s": round(group_s, 3), "alerts_timed": n_loop,
                        "scaled_to_all_alerts_s": {"median": round(med_l, 1), "min": round(min(loop_s), 1),
                                                   "max": round(max(loop_s), 1)},
                        "speedup_median": round(med_l / med_e, 1)},
        "loop_vs_engine_pnl_agree": f"{agree}/{sum(1 for p in pnl.values() if p is not None)}",
        "targets": {"engine_under_20s": med_e < 20, "speedup_vs_naive_loop_at_least_10x": med_n / med_e >= 10,
                    "speedup_vs_pre_grouped_loop_at_least_10x": med_l / med_e >= 10,
                    "rss_growth_at_most_3x_inputs": max(growth) / arrow_bytes <= 3},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
