"""What a run adds to the engine's result tables: portfolio mode with mark-to-market equity, and
the breakdown. The runner calls `extend_tables` once per strategy point after `result_tables`.

Independent mode (no `config.portfolio`): trades, metrics, equity (v1) and diagnostics are
exactly the engine's, so existing results keep their ids; only the breakdown is added.

Portfolio mode: the trades are the ones the account took (pnl at the size taken; their fills
scaled to that size), the equity
curve is the mark-to-market v2 series, and the metrics are the per-trade statistics of the taken
trades plus the metrics of the mark-to-market series (docs/experiments.md, "Portfolio metrics");
the diagnostics add a `skipped` row per alert the account could not take, with the reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["PORTFOLIO_METRIC_UNITS", "extend_tables", "schema_version_for"]

PORTFOLIO_METRIC_UNITS = {
    "trade_count": "count", "win_rate": "ratio", "mean_return": "ratio", "median_return": "ratio",
    "total_pnl": "quote", "expectancy": "quote", "profit_factor": "ratio", "trade_sharpe": "ratio",
    "mean_hold": "seconds", "alerts_considered": "count", "alerts_skipped": "count",
    "alerts_skipped_portfolio": "count", "total_return": "ratio", "final_equity": "quote",
    "annual_return": "ratio", "annual_volatility": "ratio", "sharpe": "ratio", "sortino": "ratio",
    "calmar": "ratio", "max_drawdown": "ratio", "max_drawdown_abs": "quote", "max_drawdown_duration": "seconds",
    "exposure": "ratio", "max_exposure": "ratio", "turnover": "ratio", "daily_return_count": "count",
}


def schema_version_for(artifact_type: str, table) -> int:
    """The schema version of `artifact_type` whose columns are exactly the table's."""
    from bridge.store.spec import SPECS

    names = tuple(table.column_names)
    for (atype, version), spec in sorted(SPECS.items(), key=lambda kv: -kv[0][1]):
        if atype == artifact_type and spec.column_names == names:
            return version
    return 1


def extend_tables(con, d, result, tables: dict[str, Any], computed_at: datetime, *, alerts_src: str,
                  candles_src: str, cache: dict | None = None) -> dict[str, Any]:
    """`tables` (from metrics.result_tables) with portfolio mode applied and the breakdown added.
    `cache`: one dict per connection, shared by the points of a sweep (the alert dimensions are read once)."""
    from bridge.experiments.breakdown import alert_dimensions, breakdown_table
    from bridge.experiments.options import AnalysisConfig

    out = dict(tables)
    if d.config.portfolio is not None:
        out.update(_portfolio_tables(con, d, result, computed_at, candles_src))
    a = d.config.analysis or AnalysisConfig()
    cache = {} if cache is None else cache
    key = ("dims", alerts_src, tuple(a.breakdown_columns))
    if key not in cache:
        cache[key] = alert_dimensions(con, alerts_src, list(a.breakdown_columns))
    dims = cache[key]
    out["breakdown"] = breakdown_table(result.experiment_id, out["trades"], dims, extra=list(a.breakdown_columns),
                                       min_count=a.min_count, resamples=a.bootstrap_resamples,
                                       confidence=a.confidence, seed=a.seed)
    return out


def _portfolio_tables(con, d, result, computed_at: datetime, candles_src: str) -> dict[str, Any]:
    import math

    import numpy as np
    import pyarrow as pa

    from bridge.experiments.breakdown import trade_stats
    from bridge.experiments.engine import _resolution
    from bridge.experiments.equity import equity_curve, portfolio_metrics
    from bridge.experiments.metrics import diagnostics_table, metrics_table
    from bridge.experiments.portfolio import simulate
    from bridge.ohlcv.grid import parse_resolution

    s, p = result.strategy, d.config.portfolio
    initial = p.initial_capital if p.initial_capital is not None else s.initial_capital
    re_entries = s.max_re_entries if s.re_entry_retrace_pct is not None else 0
    multiple = 1.0 + re_entries * s.re_entry_size_pct / 100.0
    pf = simulate(result.trades, initial_capital=initial, sizing=p.sizing,
                  notional=p.notional if p.notional is not None else s.notional, fraction=p.fraction,
                  max_positions=p.max_positions, max_token_exposure_pct=p.max_token_exposure_pct, fee_bps=s.fee_bps,
                  capital_multiple=multiple, engine_notional=s.notional)
    resolution = _resolution(con, candles_src, {s.resolution})
    step_us = (int(round(p.equity_step_seconds * 1_000_000)) if p.equity_step_seconds
               else parse_resolution(resolution).step_us)
    fills = _scaled_fills(result.fills, pf.positions)
    curve = equity_curve(con, pf.positions, fills, candles_src, resolution, step_us, initial, result.experiment_id,
                         scaled=True)

    trades = pf.trades
    n = trades.num_rows
    ret = trades.column("pnl_pct").to_numpy(zero_copy_only=False) if n else np.zeros(0)
    pnl = trades.column("pnl").to_numpy(zero_copy_only=False) if n else np.zeros(0)
    values: dict[str, float | None] = dict(trade_stats(ret, pnl))
    undefined: dict[str, str] = {}
    for k in ("win_rate", "mean_return", "median_return", "expectancy"):
        if values[k] is None:
            undefined[k] = "no trades"
    if values["profit_factor"] is None:
        undefined["profit_factor"] = "no trades" if n == 0 else "no losing trades (division by zero)"
    if values["trade_sharpe"] is None:
        undefined["trade_sharpe"] = "fewer than 2 trades or zero standard deviation"
    if n:
        dur = trades.column("exit_ts").cast(pa.int64()).to_numpy() - trades.column("entry_ts").cast(pa.int64()).to_numpy()
        values["mean_hold"] = float(np.mean(dur) / 1e6)
    else:
        values["mean_hold"], undefined["mean_hold"] = None, "no trades"
    values["alerts_considered"] = float(result.stats.get("alerts_in_range", 0))
    values["alerts_skipped_portfolio"] = float(pf.skipped.num_rows)
    values["alerts_skipped"] = float(result.stats.get("skipped", 0) + pf.skipped.num_rows)
    mvals, mwhy = portfolio_metrics(curve, pf, fills.column("notional").to_numpy(zero_copy_only=False))
    values.update(mvals)
    undefined.update(mwhy)
    for k, v in values.items():
        if v is not None and not math.isfinite(v):
            values[k], undefined[k] = None, f"not finite ({v})"
    metrics = metrics_table(result.experiment_id, values, computed_at)
    units = [PORTFOLIO_METRIC_UNITS.get(k) for k in metrics.column("metric_name").to_pylist()]
    metrics = metrics.set_column(metrics.schema.get_field_index("metric_unit"), "metric_unit",
                                 pa.array(units, pa.string()))

    stats = dict(result.stats)
    stats["trades"] = n
    stats["skipped"] = stats.get("skipped", 0) + pf.skipped.num_rows
    for reason in set(pf.skipped.column("reason").to_pylist()):
        stats[f"skipped_{reason}"] = pf.skipped.column("reason").to_pylist().count(reason)
    view = _View(result.experiment_id, result.strategy, pa.concat_tables([result.skipped, pf.skipped]), stats,
                 result.warnings)
    extra = [{"kind": "info", "reason": "portfolio", "detail": _json(p, initial, step_us, multiple)}]
    diags = diagnostics_table(view, undefined, extra)
    return {"trades": trades, "metrics": metrics, "equity": curve, "diagnostics": diags, "fills": fills}


def _scaled_fills(fills, positions):
    """The engine's fills of the taken trades, quantities, notionals and fees at the size taken."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    f = fills.filter(pc.is_in(fills.column("trade_id"), value_set=positions.column("trade_id")))
    k_of = dict(zip(positions.column("trade_id").to_pylist(), positions.column("scale").to_pylist()))
    k = pa.array(np.array([k_of[t] for t in f.column("trade_id").to_pylist()], dtype=float))
    for name in ("qty", "notional", "fee"):
        f = f.set_column(f.schema.get_field_index(name), name, pc.multiply(f.column(name), k))
    return f


class _View:
    """What diagnostics_table reads from a BacktestResult."""

    def __init__(self, experiment_id, strategy, skipped, stats, warnings):
        self.experiment_id, self.strategy, self.skipped, self.stats, self.warnings = (
            experiment_id, strategy, skipped, stats, warnings)


def _json(p, initial: float, step_us: int, multiple: float) -> str:
    import json

    import msgspec

    body = msgspec.to_builtins(p)
    body.update(initialCapital=initial, equityStepSeconds=step_us / 1e6, capitalMultiple=multiple)
    return json.dumps(body, sort_keys=True)
