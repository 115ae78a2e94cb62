"""Benchmark: the vectorised DuckDB backtest vs a straightforward per-alert pandas loop.

Full size (DESIGN.md §9): 10,000 alerts, one token each, 1-minute candles for the 24 h after each
alert (14.4 M candles). Target: engine < 20 s and >= 10x the loop. The loop is timed on a subset
of alerts (--loop-alerts) and scaled linearly to all alerts; the output says so.

    .venv/bin/python scripts/bench/bench_backtest.py --alerts 300
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

MIN_US = 60_000_000
T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def make_data(n_alerts: int, minutes: int, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    alert_us = T0_US + np.sort(rng.integers(0, 30 * 24 * 60, n_alerts)) * MIN_US + rng.integers(0, MIN_US, n_alerts)
    tokens = np.array([f"TOKEN{i:06d}" for i in range(n_alerts)], dtype=object)
    alerts = pa.table({
        "alert_id": [f"alert{i:06d}" for i in range(n_alerts)],
        "alert_ts": pa.array(alert_us, pa.timestamp("us", tz="UTC")),
        "token_address": tokens,
        "chain": ["solana"] * n_alerts,
    })
    start = (alert_us // MIN_US + 1) * MIN_US
    ts = (start[:, None] + np.arange(minutes)[None, :] * MIN_US).ravel()
    steps = rng.normal(0, 0.01, (n_alerts, minutes))
    close = np.exp(np.cumsum(steps, axis=1)).ravel()
    open_ = np.concatenate([np.ones((n_alerts, 1)), np.exp(np.cumsum(steps, axis=1))[:, :-1]], axis=1).ravel()
    wick = rng.random((2, n_alerts * minutes)) * 0.01
    candles = pa.table({
        "token": pa.array(np.repeat(tokens, minutes), pa.string()).dictionary_encode().cast(pa.string()),
        "resolution": pa.array(["1m"] * (n_alerts * minutes), pa.string()),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "open": open_,
        "high": np.maximum(open_, close) * (1 + wick[0]),
        "low": np.minimum(open_, close) * (1 - wick[1]),
        "close": close,
        "volume": np.ones(n_alerts * minutes),
    })
    return alerts, candles


def walk(g, alert_ts, s) -> tuple | None:
    """Walk one alert's candles (a DataFrame sorted by ts) row by row; the engine's rules."""
    g = g[g.ts >= alert_ts]
    if g.empty:
        return None
    first = g.iloc[0]
    ref, entry_ts = first.open, first.ts
    deadline = entry_ts + pd.Timedelta(seconds=s.max_hold_seconds)
    tp, sl = ref * (1 + s.take_profit_pct / 100), ref * (1 - s.stop_loss_pct / 100)
    high = ref
    for c in g.itertuples():
        if c.ts >= deadline:
            return (c.ts, "max_hold", c.open)
        stop = max(sl, high * (1 - s.trailing_stop_pct / 100))
        if c.open <= stop:
            return (c.ts, "stop", c.open)
        if c.open >= tp:
            return (c.ts, "take_profit", c.open)
        if c.low <= stop:
            return (c.ts, "stop", stop)
        if c.high >= tp:
            return (c.ts, "take_profit", tp)
        high = max(high, c.high)
    return None


def naive_loop(adf, cdf, s) -> dict:
    """The straightforward way: per alert, mask the whole candle frame for its token, walk the rows."""
    out = {}
    for a in adf.itertuples():
        g = cdf[cdf.token == a.token_address].sort_values("ts")
        out[a.alert_id] = walk(g, a.alert_ts, s)
    return out


def grouped_loop(adf, groups, s) -> dict:
    """Same walk, candles pre-grouped by token once (a stronger baseline)."""
    out = {}
    for a in adf.itertuples():
        g = groups.get(a.token_address)
        out[a.alert_id] = None if g is None else walk(g, a.alert_ts, s)
    return out


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rss import PeakRss  # noqa: E402


def load_duckdb(alerts, candles, threads: int | None = None):
    """A DuckDB connection with the benchmark data as the tables `alerts` and `candles`."""
    import duckdb

    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    for name, table in (("alerts", alerts), ("candles", candles)):
        con.register(f"{name}_src", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_src")
        con.unregister(f"{name}_src")
    return con


def pandas_frames(alerts, candles):
    """(alerts, candles) as pandas frames for the per-alert loop baselines: timestamps as int64
    microseconds (`alert_us`, `ts`), candles without volume."""
    adf = alerts.to_pandas()
    adf["alert_us"] = alerts.column("alert_ts").cast("int64").to_numpy()
    cdf = candles.select(["token", "ts", "open", "high", "low", "close"]).to_pandas()
    cdf["ts"] = candles.column("ts").cast("int64").to_numpy()
    return adf, cdf

def bench_arguments(doc: str, loop_alerts: int) -> argparse.Namespace:
    """The command line shared by the engine-vs-loops benchmarks (`engine_vs_loops`)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--minutes", type=int, default=1440, help="candles after each alert (default 24 h)")
    ap.add_argument("--loop-alerts", type=int, default=loop_alerts,
                    help="alerts timed in the pre-grouped loop, then scaled")
    ap.add_argument("--naive-alerts", type=int, default=20, help="alerts timed in the naive loop, then scaled")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    return ap.parse_args()


def _walk_alerts(adf, n: int, candles_of, walk, strategy) -> tuple[float, dict]:
    """Seconds and {alert_id: walk(candles, alert_us, strategy)} over the first n alerts, where
    candles_of(token) is the token's candles (a DataFrame sorted by ts) or None."""
    t = time.perf_counter()
    out = {}
    for a in adf.iloc[:n].itertuples():
        out[a.alert_id] = walk(candles_of(a.token_address), a.alert_us, strategy)
    return time.perf_counter() - t, out


def engine_vs_loops(args: argparse.Namespace, strategy, walk) -> tuple[dict, Any]:
    """Interleaved rounds of the engine and two per-alert loops, in this one process (pin it with
    `taskset` for a fixed core set), on `make_data(args.alerts, args.minutes)`.

    Each round: the engine (`run_backtest` over the whole data; wall time, CPU time of all its
    threads, and peak RSS growth sampled every 5 ms; the first round runs before the loops' pandas
    frames are built, on a process holding only the inputs and DuckDB), then two per-alert loops calling
    `walk(candles, alert_us, strategy)` (the alert's P&L, or None without a trade; `candles`: the
    token's candles without the token column, sorted by ts, or None) and scaled linearly to all
    alerts: the pre-grouped loop on the first --loop-alerts alerts, its candles from a groupby by
    token done once (timed once and added to every round), and the naive loop on the first
    --naive-alerts alerts, its candles masked from the whole candle frame and sorted per alert. The
    engine must give the same trades and fills every round, the two loops the same P&L.

    Returns (report, the first engine result): the report has the median and range of every time,
    the peak RSS growth (the largest of the rounds, and the first round's) against the inputs'
    Arrow size, both loops' scaled times and speed-ups, and how many of the pre-grouped loop's alerts entered and have
    the engine's P&L (to 1e-6 on a notional of 1,000); a benchmark adds its baselines'
    descriptions and targets.
    """
    import statistics

    from bridge.experiments.engine import run_backtest

    alerts, candles = make_data(args.alerts, args.minutes)
    arrow_bytes = alerts.nbytes + candles.nbytes
    con = load_duckdb(alerts, candles, args.threads)
    adf = cdf = groups = None
    group_s = 0.0
    n_loop = min(args.loop_alerts, args.alerts)
    n_naive = min(args.naive_alerts, args.alerts)

    def naive_candles(token):
        g = cdf[cdf.token == token].drop(columns="token").sort_values("ts")
        return None if g.empty else g

    engine_s, loop_s, naive_s, cpu_s, growth, first, pnl = [], [], [], [], [], None, {}
    for _ in range(args.rounds):
        t, cpu = time.perf_counter(), time.process_time()
        with PeakRss() as mem:
            res = run_backtest(con, "alerts", "candles", strategy)
        engine_s.append(time.perf_counter() - t)
        cpu_s.append(time.process_time() - cpu)
        growth.append(mem.growth)
        if first is None:
            first = res
            # the loops' frames only now: the first run's memory growth is not hidden by memory the
            # frames' construction freed (and the process keeps for reuse)
            adf, cdf = pandas_frames(alerts, candles)
            t = time.perf_counter()
            groups = {tok: g.drop(columns="token").sort_values("ts") for tok, g in cdf.groupby("token", sort=False)}
            group_s = time.perf_counter() - t
        else:
            assert res.trades.equals(first.trades) and res.fills.equals(first.fills), "two engine runs disagree"
        sub, pnl = _walk_alerts(adf, n_loop, groups.get, walk, strategy)
        loop_s.append(group_s + sub * args.alerts / n_loop)
        sub, naive_pnl = _walk_alerts(adf, n_naive, naive_candles, walk, strategy)
        naive_s.append(sub * args.alerts / n_naive)
        assert all(naive_pnl[k] == pnl[k] for k in naive_pnl if k in pnl), "the two loops disagree"

    def spread(xs: list[float], nd: int) -> dict:
        return {"median": round(statistics.median(xs), nd), "min": round(min(xs), nd), "max": round(max(xs), nd)}

    med_e, med_l, med_n = statistics.median(engine_s), statistics.median(loop_s), statistics.median(naive_s)
    fills = first.fills
    engine = {r["alert_id"]: r["pnl"] for r in first.trades.to_pylist()}
    entered = [aid for aid, p in pnl.items() if p is not None]
    agree = sum(1 for aid in entered if aid in engine and abs(engine[aid] - pnl[aid]) <= 1e-9 * 1000)
    report = {
        "alerts": args.alerts, "candles": candles.num_rows, "threads": args.threads or "default",
        "rounds": args.rounds,
        "engine_s": spread(engine_s, 3),
        "engine_cpu_s_median": round(statistics.median(cpu_s), 3),
        "engine_candles_per_s": round(candles.num_rows / med_e),
        "trades": first.trades.num_rows, "skipped": first.skipped.num_rows, "fills": fills.num_rows,
        "fills_by_reason": dict(sorted(pd.Series(fills.column("reason").to_pylist()).value_counts().items())),
        "engine_peak_rss_growth_x_arrow": round(max(growth) / arrow_bytes, 2),
        "engine_peak_rss_growth_first_round_x_arrow": round(growth[0] / arrow_bytes, 2),
        "engine_peak_rss_growth_mb": round(max(growth) / 1e6),
        "inputs_arrow_mb": round(arrow_bytes / 1e6),
        "naive_loop": {"alerts_timed": n_naive, "scaled_to_all_alerts_s": spread(naive_s, 1),
                       "speedup_median": round(med_n / med_e, 1)},
        "grouped_loop": {"group_by_token_s": round(group_s, 3), "alerts_timed": n_loop,
                         "scaled_to_all_alerts_s": spread(loop_s, 1), "speedup_median": round(med_l / med_e, 1)},
        "loop_vs_engine": {"entered": f"loop {len(entered)} / engine {sum(1 for aid in pnl if aid in engine)} "
                                      f"of {len(pnl)}", "pnl_agree": f"{agree}/{len(entered)}"},
    }
    return report, first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--minutes", type=int, default=1440, help="candles after each alert (default 24 h)")
    ap.add_argument("--naive-alerts", type=int, default=20, help="alerts timed in the naive loop, then scaled")
    ap.add_argument("--loop-alerts", type=int, default=300, help="alerts timed in the grouped loop, then scaled")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    from bridge.experiments.engine import run_backtest
    from bridge.experiments.strategy import Strategy

    strategy = Strategy(take_profit_pct=50, stop_loss_pct=20, trailing_stop_pct=15, max_hold_seconds=12 * 3600,
                        fee_bps=10, slippage_bps=20)
    t = time.perf_counter()
    alerts, candles = make_data(args.alerts, args.minutes)
    gen_s = time.perf_counter() - t

    con = load_duckdb(alerts, candles, args.threads)
    t = time.perf_counter()
    with PeakRss() as mem:
        res = run_backtest(con, "alerts", "candles", strategy)
    engine_first_s = time.perf_counter() - t
    arrow_bytes = alerts.nbytes + candles.nbytes
    t, cpu = time.perf_counter(), time.process_time()
    again = run_backtest(con, "alerts", "candles", strategy)
    engine_s = min(engine_first_s, time.perf_counter() - t)
    engine_cpu_s = time.process_time() - cpu  # all threads' CPU: steadier than wall time on a busy machine
    assert again.trades.equals(res.trades), "two runs of the engine disagree"

    adf, cdf = alerts.to_pandas(), candles.to_pandas()
    n_naive = min(args.naive_alerts, args.alerts)
    t = time.perf_counter()
    naive = naive_loop(adf.iloc[:n_naive], cdf, strategy)
    naive_sub = time.perf_counter() - t
    naive_s = naive_sub * args.alerts / n_naive

    t = time.perf_counter()
    groups = {tok: g.sort_values("ts") for tok, g in cdf.groupby("token", sort=False)}
    group_s = time.perf_counter() - t
    n_grouped = min(args.loop_alerts, args.alerts)
    t = time.perf_counter()
    grouped = grouped_loop(adf.iloc[:n_grouped], groups, strategy)
    grouped_sub = time.perf_counter() - t
    grouped_s = group_s + grouped_sub * args.alerts / n_grouped

    engine = {r["alert_id"]: r for r in res.trades.to_pylist()}
    agree = sum(1 for aid, ex in {**grouped, **naive}.items()
                if ex is not None and aid in engine and engine[aid]["exit_ts"] == ex[0].to_pydatetime()
                and abs(engine[aid]["exit_price"] / (ex[2] * (1 - strategy.slippage_bps / 1e4)) - 1) < 1e-9)
    report = {
        "alerts": args.alerts, "candles": candles.num_rows, "threads": args.threads or "default",
        "engine_first_run_s": round(engine_first_s, 3), "engine_s": round(engine_s, 3),
        "engine_cpu_s_second_run": round(engine_cpu_s, 3), "engine_candles_per_s": round(candles.num_rows / engine_s),
        "trades": res.trades.num_rows, "skipped": res.skipped.num_rows,
        "engine_peak_rss_growth_x_arrow": round(mem.growth / arrow_bytes, 2),
        "engine_peak_rss_growth_mb": round(mem.growth / 1e6),
        "inputs_arrow_mb": round(arrow_bytes / 1e6),
        "naive_loop": {"alerts_timed": n_naive, "measured_s": round(naive_sub, 3),
                       "scaled_to_all_alerts_s": round(naive_s, 1), "speedup": round(naive_s / engine_s, 1)},
        "grouped_loop": {"group_by_token_s": round(group_s, 3), "alerts_timed": n_grouped,
                         "measured_s": round(grouped_sub, 3), "scaled_to_all_alerts_s": round(grouped_s, 1),
                         "speedup": round(grouped_s / engine_s, 1)},
        "loop_vs_engine_exits_agree": f"{agree}/{len({**grouped, **naive})}",
        "note": "loop times are measured on the first N alerts against the full candle frame and scaled linearly",
        "targets": {"engine_under_20s": engine_s < 20, "speedup_vs_naive_loop_at_least_10x": naive_s / engine_s >= 10,
                    "speedup_vs_grouped_loop_at_least_10x": grouped_s / engine_s >= 10},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
