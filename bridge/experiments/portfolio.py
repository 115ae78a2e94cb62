"""Portfolio mode: one account takes the engine's candidate trades in time order under a capital
constraint (docs/experiments.md, "Portfolio mode").

The engine computes every alert's position independently (set-based, one SQL pass); its
per-trade return `pnl_pct` does not depend on the position size (P&L is linear in the notional).
This module decides which of those positions one account can hold and how big each is:

- events in time order: entries at their entry candle time, exits at their exit candle time; at
  the same time entries come first (cash released by an exit inside a candle is not available at
  that candle's open; the position still counts towards the caps), entries among themselves by
  alert id;
- book equity E = cash + cost (size) of the open positions (open positions at cost: no price is
  looked at before it is known, and the sizing does not depend on the mark-to-market);
- size s = notional (fixed) or fraction * E (fraction: compounding);
- a trade may spend at most R * s (R = 1 + maxReEntries * reEntrySizePct / 100 with re-entries,
  else 1); the account reserves c = R * s * (1 + fee) from its entry to its exit, and the open
  cost of a position is R * s;
- an entry is skipped, first failing rule wins, when the open positions reach maxPositions
  (`max_positions`), when the open cost in its token plus R * s exceeds maxTokenExposurePct % of E
  (`token_exposure_cap`), or when cash < c (`insufficient_cash`); no partial fills;
- at the exit the account gets back c + s * pnl_pct (pnl_pct is the engine's pnl per unit of
  notional, ladders and re-entries included), so the trade's pnl = s * pnl_pct. Proceeds of
  partial sells come back at the trade's exit (conservative). Without re-entries this is exactly
  "pay s * (1 + fee) at entry, get qty * exit_price * (1 - fee) at exit".

A capital constraint is sequential (each decision depends on every earlier one), so this is one
pass over the time-ordered entries and exits: numpy sorts the events, a heap keeps the open
positions; O(n log n), about 40 ms for 10,000 alerts (scripts/bench/bench_portfolio.py).
tests/experiments/test_portfolio.py checks it against a plain per-alert reference loop.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

__all__ = ["PORTFOLIO_SKIP_REASONS", "PortfolioResult", "simulate"]

PORTFOLIO_SKIP_REASONS = ("max_positions", "token_exposure_cap", "insufficient_cash")


@dataclass
class PortfolioResult:
    trades: Any          # pyarrow.Table: experiment_trades columns, pnl scaled to the size taken
    positions: Any       # pyarrow.Table: trade_id, token, entry_us, exit_us, size, scale, reserved, pnl (taken)
    skipped: Any         # pyarrow.Table: alert_id, reason, detail
    initial_capital: float
    final_cash: float


def simulate(trades, *, initial_capital: float, sizing: str = "fixed", notional: float = 1000.0,
             fraction: float | None = None, max_positions: int | None = None,
             max_token_exposure_pct: float | None = None, fee_bps: float = 0.0,
             capital_multiple: float = 1.0, engine_notional: float | None = None) -> PortfolioResult:
    """Run the account over `trades` (an experiment_trades table from the engine).

    `capital_multiple` R: what a trade of size s can spend at most, as a multiple of s (1 + max
    re-entries x re-entry size); the account reserves s * R * (1 + fee) from entry to exit.
    `engine_notional`: the notional the engine traded at (the positions' `scale` = s / it)."""
    import numpy as np
    import pyarrow as pa

    n = trades.num_rows
    entry = trades.column("entry_ts").cast(pa.int64()).to_numpy() if n else np.zeros(0, np.int64)
    exit_ = trades.column("exit_ts").cast(pa.int64()).to_numpy() if n else np.zeros(0, np.int64)
    alert_ids = trades.column("alert_id").to_pylist()
    tokens = trades.column("token").to_pylist()
    ret = trades.column("pnl_pct").to_numpy(zero_copy_only=False) if n else np.zeros(0)
    fee = fee_bps / 10_000.0
    order = sorted(range(n), key=lambda i: (entry[i], alert_ids[i]))

    cash = float(initial_capital)
    open_cost = 0.0                       # sum of sizes of open positions
    token_cost: dict[str, float] = {}
    heap: list[tuple[int, int, int]] = []  # (exit_us, seq, trade index)
    size = np.zeros(n)
    taken = np.zeros(n, dtype=bool)
    skip_reason: dict[int, tuple[str, str]] = {}
    cap = max_positions if max_positions is not None else n + 1
    mult = float(capital_multiple)
    tok_frac = None if max_token_exposure_pct is None else max_token_exposure_pct / 100.0

    for seq, i in enumerate(order):
        t = entry[i]
        while heap and heap[0][0] < t:    # exits strictly before this entry candle
            _, _, j = heapq.heappop(heap)
            s = size[j] * mult
            cash += s * (1 + fee) + size[j] * ret[j]
            open_cost -= s
            token_cost[tokens[j]] -= s
        equity = cash + open_cost
        base = notional if sizing == "fixed" else fraction * equity
        s = base * mult                   # what the trade may spend (reserved)
        if len(heap) >= cap:
            skip_reason[i] = ("max_positions", f"{len(heap)} positions open (max {cap})")
            continue
        tc = token_cost.get(tokens[i], 0.0)
        if tok_frac is not None and tc + s > tok_frac * equity * (1 + 1e-12):
            skip_reason[i] = ("token_exposure_cap",
                              f"open cost in token {tc:.6g} + size {s:.6g} > {tok_frac * 100:g}% of equity {equity:.6g}")
            continue
        need = s * (1 + fee)
        if s <= 0 or cash < need * (1 - 1e-12):
            skip_reason[i] = ("insufficient_cash", f"cash {cash:.6g} < size {s:.6g} plus fee")
            continue
        cash -= need
        open_cost += s
        token_cost[tokens[i]] = tc + s
        size[i] = base
        taken[i] = True
        heapq.heappush(heap, (exit_[i], seq, i))
    while heap:
        _, _, j = heapq.heappop(heap)
        cash += size[j] * mult * (1 + fee) + size[j] * ret[j]

    idx = np.flatnonzero(taken)
    sub = trades.take(pa.array(idx, pa.int64()))
    s_taken = size[idx]
    pnl = s_taken * ret[idx]
    cols = {name: sub.column(name) for name in sub.column_names}
    cols["pnl"] = pa.array(pnl, pa.float64())
    out = pa.table(cols)
    positions = pa.table({
        "trade_id": sub.column("trade_id"),
        "token": sub.column("token"),
        "entry_us": pa.array(entry[idx], pa.int64()),
        "exit_us": pa.array(exit_[idx], pa.int64()),
        "size": pa.array(s_taken, pa.float64()),
        "scale": pa.array(s_taken / (engine_notional or notional), pa.float64()),
        "reserved": pa.array(s_taken * mult * (1 + fee), pa.float64()),
        "pnl": pa.array(pnl, pa.float64()),
    })
    sk = sorted(skip_reason)
    skipped = pa.table({
        "alert_id": pa.array([alert_ids[i] for i in sk], pa.string()),
        "reason": pa.array([skip_reason[i][0] for i in sk], pa.string()),
        "detail": pa.array([skip_reason[i][1] for i in sk], pa.string()),
    })
    return PortfolioResult(out, positions, skipped, float(initial_capital), cash)
