"""Benchmark: the vectorised DuckDB backtest vs a straightforward per-alert pandas loop.

Full size: 10,000 alerts, one token each, 1-minute candles for the 24 h after each alert (14.4 M
candles); strategy: take profit +50 %, stop −20 %, trailing stop 15 %, max hold 12 h, 10 bps fee,
20 bps slippage each side. Targets: engine < 20 s, >= 10× a per-alert pandas loop.

Two baselines, precisely, both a Python walk over one alert's candle rows (`itertuples`) applying
the same rules as the engine (docs/experiments.md "Engine rules"; `walk` below), differing in how
the rows are found:
- naive per-alert loop: per alert, its token's candles selected from the whole candle frame with
  a boolean mask, then sorted by ts;
- pre-grouped loop (the stronger one): candles grouped by token once (`groupby`, timed once and
  added to every round's time), then a dict lookup per alert.
Each is timed on the first --naive-alerts / --loop-alerts alerts and scaled linearly to all alerts
(the output says so); on how many alerts the pre-grouped loop's P&L equals the engine's is counted
and printed (`pnl_agree`), not asserted.

Rounds are interleaved (engine, loops, engine, loops, ...) so all see the same machine load; the
report gives the median and the range over --rounds rounds, the engine's CPU time (all threads)
and its peak RSS growth against the inputs' Arrow size (`engine_vs_loops` below). Everything runs
in this one process; pin it with `taskset -c 0,1` for a fixed core set.

    taskset -c 0,1 .venv/bin/python scripts/bench/bench_backtest.py --alerts 10000 --rounds 5
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


def walk(g, alert_us: int, s) -> float | None:
    """One alert's P&L by the engine's rules for this strategy (docs/experiments.md "Engine rules"),
    walking its candles (a DataFrame sorted by ts, int64 microseconds; None: no candles) row by row
    with `itertuples`: market entry at the open of the first candle at or after the alert; per
    candle the time exit, a gap through the stop or the target at the open, then the stop before the
    target within the candle (conservative); the stop is the higher of the fixed stop and the
    trailing level under the highest high of the *earlier* candles since entry. None: no trade (no
    candle after the alert, or the data ends with the position open)."""
    if g is None:
        return None
    g = g[g.ts >= alert_us]
    if g.empty:
        return None
    e = float(g.open.iloc[0])
    deadline = int(g.ts.iloc[0]) + s.max_hold_seconds * 1_000_000
    tp, sl = e * (1 + s.take_profit_pct / 100), e * (1 - s.stop_loss_pct / 100)
    high, fill = e, None
    for c in g.itertuples():
        if c.ts >= deadline:
            fill = c.open
            break
        stop = max(sl, high * (1 - s.trailing_stop_pct / 100))
        if c.open <= stop or c.open >= tp:
            fill = c.open
            break
        if c.low <= stop:
            fill = stop
            break
        if c.high >= tp:
            fill = tp
            break
        high = max(high, c.high)
    if fill is None:
        return None
    es, xs, fee = s.entry_slippage / 1e4, s.exit_slippage / 1e4, s.fee_bps / 1e4
    qty = s.notional / (e * (1 + es))
    return qty * fill * (1 - xs) * (1 - fee) - s.notional * (1 + fee)


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

    Returns (report, the first engine result): the report has the median and range of every time
    (the pre-grouped loop's `scaled_to_all_alerts_s` = its one groupby + its scaled walks, both
    also given apart), the peak RSS growth (the largest of the rounds, and the first round's) against the inputs'
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

    engine_s, loop_s, walks_s, naive_s, cpu_s, growth, first, pnl = [], [], [], [], [], [], None, {}
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
        walks_s.append(sub * args.alerts / n_loop)
        loop_s.append(group_s + walks_s[-1])
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
                         "walks_scaled_to_all_alerts_s": spread(walks_s, 1),
                         "scaled_to_all_alerts_s": spread(loop_s, 1), "speedup_median": round(med_l / med_e, 1)},
        "loop_vs_engine": {"entered": f"loop {len(entered)} / engine {sum(1 for aid in pnl if aid in engine)} "
                                      f"of {len(pnl)}", "pnl_agree": f"{agree}/{len(entered)}"},
    }
    return report, first


def strategy():
    from bridge.experiments.strategy import Strategy

    return Strategy(take_profit_pct=50, stop_loss_pct=20, trailing_stop_pct=15, max_hold_seconds=12 * 3600,
                    fee_bps=10, slippage_bps=20)


def main() -> None:
    args = bench_arguments(__doc__, loop_alerts=300)
    report, first = engine_vs_loops(args, strategy(), walk)
    report["naive_loop"]["baseline"] = ("per alert: boolean mask of the whole candle frame for its token + sort by ts, "
                                        "then an itertuples walk of the same rules")
    report["grouped_loop"]["baseline"] = ("groupby token once (timed once, added to every round) + per alert: a dict "
                                          "lookup, then the same itertuples walk")
    med_e = report["engine_s"]["median"]
    report["targets"] = {
        "engine_under_20s": med_e < 20,
        "speedup_vs_naive_loop_at_least_10x": report["naive_loop"]["speedup_median"] >= 10,
        "speedup_vs_pre_grouped_loop_at_least_10x": report["grouped_loop"]["speedup_median"] >= 10}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
