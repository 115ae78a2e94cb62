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


def pandas_loop(alerts, candles, s) -> list[dict]:
    """The straightforward way: per alert, select its candles, walk them row by row."""
    adf, cdf = alerts.to_pandas(), candles.to_pandas()
    groups = {tok: g.sort_values("ts") for tok, g in cdf.groupby("token")}
    hold = np.timedelta64(int(s.max_hold_seconds * 1e6), "us")
    out = []
    for a in adf.itertuples():
        g = groups.get(a.token_address)
        if g is None:
            continue
        g = g[g.ts >= a.alert_ts]
        if g.empty:
            continue
        ref = g.iloc[0].open
        entry_ts = g.iloc[0].ts
        tp, sl = ref * (1 + s.take_profit_pct / 100), ref * (1 - s.stop_loss_pct / 100)
        high = ref
        for c in g.itertuples():
            if c.ts >= entry_ts + hold:
                out.append((a.alert_id, c.ts, c.open))
                break
            stop = max(sl, high * (1 - s.trailing_stop_pct / 100))
            if c.open <= stop or c.open >= tp:
                out.append((a.alert_id, c.ts, c.open))
                break
            if c.low <= stop:
                out.append((a.alert_id, c.ts, stop))
                break
            if c.high >= tp:
                out.append((a.alert_id, c.ts, tp))
                break
            high = max(high, c.high)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--minutes", type=int, default=1440, help="candles after each alert (default 24 h)")
    ap.add_argument("--loop-alerts", type=int, default=100, help="alerts timed in the pandas loop, then scaled")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    import duckdb

    from bridge.experiments.engine import run_backtest
    from bridge.experiments.strategy import Strategy

    strategy = Strategy(take_profit_pct=50, stop_loss_pct=20, trailing_stop_pct=15, max_hold_seconds=12 * 3600,
                        fee_bps=10, slippage_bps=20)
    t = time.perf_counter()
    alerts, candles = make_data(args.alerts, args.minutes)
    gen_s = time.perf_counter() - t

    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    con.register("alerts_src", alerts)
    con.register("candles_src", candles)
    con.execute("CREATE TABLE alerts AS SELECT * FROM alerts_src")
    con.execute("CREATE TABLE candles AS SELECT * FROM candles_src")
    t = time.perf_counter()
    res = run_backtest(con, "alerts", "candles", strategy)
    engine_s = time.perf_counter() - t

    n_loop = min(args.loop_alerts, args.alerts)
    sub_alerts = alerts.slice(0, n_loop)
    sub_candles = candles.slice(0, n_loop * args.minutes)  # one token per alert, in alert order
    t = time.perf_counter()
    loop_trades = pandas_loop(sub_alerts, sub_candles, strategy)
    loop_s_sub = time.perf_counter() - t
    loop_s = loop_s_sub * args.alerts / n_loop

    engine_sub = {r["alert_id"]: r for r in res.trades.to_pylist()}
    agree = sum(1 for aid, ts, _ in loop_trades if aid in engine_sub and engine_sub[aid]["exit_ts"] == ts.to_pydatetime())
    report = {
        "alerts": args.alerts, "candles": candles.num_rows, "data_gen_s": round(gen_s, 2),
        "engine_s": round(engine_s, 3), "trades": res.trades.num_rows, "skipped": res.skipped.num_rows,
        "loop_alerts_timed": n_loop, "loop_s_measured": round(loop_s_sub, 3),
        "loop_s_scaled_to_all_alerts": round(loop_s, 2), "speedup": round(loop_s / engine_s, 1),
        "loop_exit_ts_agree": f"{agree}/{len(loop_trades)}",
        "targets": {"engine_under_20s": engine_s < 20, "speedup_at_least_10x": loop_s / engine_s >= 10},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
