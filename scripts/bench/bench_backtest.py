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
