"""Benchmark: portfolio mode with mark-to-market, breakdowns with bootstrap, and an out-of-sample
sweep against separate runs.

Full size (issue #14): 10,000 alerts, one token each, 1-minute candles for the 24 h after each
alert (14.4 M candles, the data of bench_backtest.py), equity on a 1-minute grid.

1. portfolio: engine (run_backtest) + the account pass (fraction sizing 2 %, at most 50 open
   positions, 5 % per token) + mark-to-market equity + metrics. Target < 30 s in total.
2. breakdown: caller (200 callers), chat (20), chain, token groups of the engine's trades with
   1,000 bootstrap resamples. Target < 5 s.
3. sweep: 100 points (takeProfitPct x stopLossPct, 10 x 10) in one run_grid pass plus the
   5-fold walk-forward validation (folds, DSR, PBO) vs the baseline "500 separate runs": one
   run_backtest per (point, fold) on that fold's in-sample alerts (a date range), which is what
   a user does without sweeps. The baseline is timed on --baseline-runs (point, fold) pairs drawn
   evenly from the 500 and scaled to 500; the output says so. Target >= 10x.

Every stage runs --rounds times; the sweep and its baseline are interleaved within each round.
Medians and ranges (min-max) are printed. The engine and the numpy passes share one process,
so no pinning is needed; set --threads to fix DuckDB's thread count.

    .venv/bin/python scripts/bench/bench_portfolio.py --alerts 500 --minutes 240 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_backtest import MIN_US, load_duckdb, make_data  # noqa: E402


def _summary(xs: list[float]) -> dict:
    return {"median_s": round(statistics.median(xs), 3), "min_s": round(min(xs), 3), "max_s": round(max(xs), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--minutes", type=int, default=1440)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline-runs", type=int, default=10, help="(point, fold) runs timed, then scaled to 500")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-sweep", action="store_true")
    args = ap.parse_args()


    from bridge.experiments.breakdown import breakdown_table
    from bridge.experiments.engine import run_backtest, run_grid
    from bridge.experiments.equity import equity_curve, portfolio_metrics
    from bridge.experiments.options import SweepValidation
    from bridge.experiments.portfolio import simulate
    from bridge.experiments.strategy import Strategy
    from bridge.experiments.validation import _folds, alert_times, validate

    alerts, candles = make_data(args.alerts, args.minutes)
    n = alerts.num_rows
    alerts = alerts.append_column("caller", pa.array([f"caller{i % 200:03d}" for i in range(n)]))
    alerts = alerts.append_column("source", pa.array([f"chat{i % 20:02d}" for i in range(n)]))
    con = load_duckdb(alerts, candles, args.threads)

    strategy = Strategy(take_profit_pct=50, stop_loss_pct=20, trailing_stop_pct=15, max_hold_seconds=12 * 3600,
                        fee_bps=10, slippage_bps=20)
    from bridge.experiments.breakdown import alert_dimensions

    stages: dict[str, list[float]] = {k: [] for k in ("engine", "account", "mtm", "metrics", "portfolio_total",
                                                       "breakdown")}
    sweep_s: list[float] = []
    baseline_s: list[float] = []
    info: dict = {}
    grid_points = {f"p{i:03d}": Strategy(take_profit_pct=float(tp), stop_loss_pct=float(sl), max_hold_seconds=12 * 3600,
                                         fee_bps=10, slippage_bps=20)
                   for i, (tp, sl) in enumerate((tp, sl) for tp in range(10, 110, 10) for sl in range(5, 55, 5))}
    settings = SweepValidation(method="walkForward", folds=5, metric="mean_return")
    for r in range(args.rounds):
        t0 = time.perf_counter()
        res = run_backtest(con, "alerts", "candles", strategy)
        t1 = time.perf_counter()
        pf = simulate(res.trades, initial_capital=100_000, sizing="fraction", fraction=0.02, max_positions=50,
                      max_token_exposure_pct=5, fee_bps=strategy.fee_bps)
        t2 = time.perf_counter()
        curve = equity_curve(con, pf.positions, res.fills, "candles", "1m", MIN_US, 100_000.0, "bench")
        t3 = time.perf_counter()
        metrics, _ = portfolio_metrics(curve, pf, res.fills.column("notional").to_numpy())
        t4 = time.perf_counter()
        dims = alert_dimensions(con, "alerts", [])
        br = breakdown_table("bench", res.trades, dims, min_count=10, resamples=1000, seed=0)
        t5 = time.perf_counter()
        for k, v in (("engine", t1 - t0), ("account", t2 - t1), ("mtm", t3 - t2), ("metrics", t4 - t3),
                     ("portfolio_total", t4 - t0), ("breakdown", t5 - t4)):
            stages[k].append(v)
        info = {"trades_engine": res.trades.num_rows, "trades_taken": pf.trades.num_rows,
                "skipped_by_account": pf.skipped.num_rows, "grid_points": curve.num_rows,
                "breakdown_groups": br.num_rows, "ranked_groups": int(sum(br.column("ranked").to_pylist())),
                "sharpe": metrics.get("sharpe"), "daily_returns": metrics.get("daily_return_count")}
        if args.skip_sweep:
            continue
        # sweep: one grid pass + validation
        t0 = time.perf_counter()
        results = run_grid(con, "alerts", "candles", grid_points)
        ids, times = alert_times(con, "alerts", None, None)
        validate("bench", settings, ids, times, {k: v.trades for k, v in results.items()})
        sweep_s.append(time.perf_counter() - t0)
        # baseline: separate (point, fold) runs on the fold's in-sample alerts, a sample scaled to 500
        folds = _folds(times, settings)
        pairs = [(p, f) for p in grid_points for f in folds]
        step = max(1, len(pairs) // args.baseline_runs)
        sample = pairs[r % step::step][:args.baseline_runs]
        t0 = time.perf_counter()
        for pid, (lo, hi, _, _) in sample:
            run_backtest(con, "alerts", "candles", grid_points[pid], date_from_us=lo, date_to_us=hi)
        baseline_s.append((time.perf_counter() - t0) * len(pairs) / len(sample))

    report = {
        "alerts": args.alerts, "candles": candles.num_rows, "rounds": args.rounds,
        "threads": args.threads or "default", **info,
        "portfolio": {k: _summary(v) for k, v in stages.items() if k != "breakdown"},
        "breakdown_bootstrap_1000": _summary(stages["breakdown"]),
        "targets": {"portfolio_mtm_under_30s": statistics.median(stages["portfolio_total"]) < 30,
                    "breakdown_under_5s": statistics.median(stages["breakdown"]) < 5},
    }
    if sweep_s:
        ratio = [b / s for b, s in zip(baseline_s, sweep_s)]
        report["sweep_100_points_5_folds"] = {
            "grid_pass_plus_validation": _summary(sweep_s),
            "baseline_500_separate_runs_scaled": _summary(baseline_s),
            "baseline_runs_timed_per_round": min(args.baseline_runs, 500),
            "speedup": {"median": round(statistics.median(ratio), 1), "min": round(min(ratio), 1),
                        "max": round(max(ratio), 1)},
            "note": "baseline = run_backtest per (point, fold) on the fold's in-sample alerts; a sample is timed "
                    "each round (interleaved with the grid pass) and scaled linearly to 500 runs",
        }
        report["targets"]["sweep_speedup_at_least_10x"] = statistics.median(ratio) >= 10
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
