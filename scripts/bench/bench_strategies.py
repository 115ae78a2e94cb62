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
- pre-grouped loop: candles grouped by token once (`groupby`, timed once and added to every
  round's time), then a dict lookup per alert (a stronger baseline than the target names).
Each is timed on the first --naive-alerts / --loop-alerts alerts and scaled linearly to all alerts
(the output says so); their P&L per alert is checked against the engine's and each other's.

Rounds are interleaved (engine, loop, engine, loop, ...) so both see the same machine load; the
report gives the median and the range over --rounds rounds. Everything runs in this one process
(no two processes compete for the cores; pin the whole process with `taskset -c 0,1` if you
want a fixed core set).

    .venv/bin/python scripts/bench/bench_strategies.py --alerts 500 --rounds 5
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_backtest import bench_arguments, engine_vs_loops  # noqa: E402


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


def walk_frame(g, alert_us: int, s) -> float | None:
    """`walk` over a token's candle frame (None: no candles), its rows as tuples."""
    return walk([] if g is None else list(g.itertuples(index=False, name=None)), alert_us, s, 60_000_000)


def main() -> None:
    args = bench_arguments(__doc__, loop_alerts=200)
    report, _ = engine_vs_loops(args, strategy(), walk_frame)
    report["naive_loop"]["baseline"] = ("per alert: boolean mask of the whole candle frame + sort, then the "
                                        "itertuples walk of the same rules")
    report["grouped_loop"]["baseline"] = "groupby token once + per-alert itertuples walk of the same rules"
    report["targets"] = {
        "engine_under_20s": report["engine_s"]["median"] < 20,
        "speedup_vs_naive_loop_at_least_10x": report["naive_loop"]["speedup_median"] >= 10,
        "speedup_vs_pre_grouped_loop_at_least_10x": report["grouped_loop"]["speedup_median"] >= 10,
        "rss_growth_at_most_3x_inputs": report["engine_peak_rss_growth_x_arrow"] <= 3}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
