"""Result tables of one backtest: metrics, equity curve and diagnostics (the experiment_* specs).

Every metric is written down here and in docs/experiments.md. Trades are taken in exit order
(exit_ts, trade_id), so sums are the same on every run. Undefined values are null (never NaN or
Infinity) and each has a `metric_undefined` warning row in the diagnostics saying why.

    trade_count       count   trades taken
    win_rate          ratio   share of trades with pnl > 0
    mean_return       ratio   mean of pnl_pct (per-trade return on notional)
    median_return     ratio   median of pnl_pct
    total_pnl         quote   sum of pnl
    total_return      ratio   total_pnl / initial_capital
    profit_factor     ratio   sum of winning pnl / |sum of losing pnl|; null without losses
    expectancy        quote   mean pnl per trade
    max_drawdown      ratio   largest (peak - equity) / peak on the equity curve (peak includes
                              the initial capital)
    max_drawdown_abs  quote   largest peak - equity
    sharpe            ratio   mean(pnl_pct) / stdev(pnl_pct, ddof=1) * sqrt(trades per year),
                              trades per year = trade_count / years between the first entry and
                              the last exit (365.25-day years); no risk-free rate. Null with fewer
                              than 2 trades, zero stdev or a zero-length span.
    mean_hold         seconds mean of exit_ts - entry_ts
    alerts_considered count   alerts in the date range
    alerts_skipped    count   alerts without a trade (reasons in the diagnostics)
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

__all__ = ["METRIC_UNITS", "diagnostics_table", "equity_table", "metrics_table", "result_tables"]

YEAR_S = 365.25 * 86_400
METRIC_UNITS = {
    "trade_count": "count", "win_rate": "ratio", "mean_return": "ratio", "median_return": "ratio",
    "total_pnl": "quote", "total_return": "ratio", "profit_factor": "ratio", "expectancy": "quote",
    "max_drawdown": "ratio", "max_drawdown_abs": "quote", "sharpe": "ratio", "mean_hold": "seconds",
    "alerts_considered": "count", "alerts_skipped": "count",
}


def result_tables(result, computed_at: datetime, *, extra_diagnostics: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """{"trades", "metrics", "equity", "diagnostics", "fills"}: pyarrow tables fitting the experiment specs."""
    trades = _in_exit_order(result.trades)
    equity = equity_table(result.experiment_id, trades, result.strategy.initial_capital)
    values, undefined = _metric_values(trades, equity, result)
    metrics = metrics_table(result.experiment_id, values, computed_at)
    diags = diagnostics_table(result, undefined, list(extra_diagnostics))
    return {"trades": result.trades, "metrics": metrics, "equity": equity, "diagnostics": diags,
            "fills": result.fills}


def _in_exit_order(trades):
    return trades.sort_by([("exit_ts", "ascending"), ("trade_id", "ascending")])


def equity_table(experiment_id: str, trades, initial_capital: float):
    """One point per distinct exit time: equity after every trade that exited then."""
    import numpy as np
    import pyarrow as pa

    ts_type = pa.timestamp("us", tz="UTC")
    if trades.num_rows == 0:
        return pa.table({"experiment_id": pa.array([], pa.string()), "ts": pa.array([], ts_type),
                         "equity": pa.array([], pa.float64()), "drawdown": pa.array([], pa.float64()),
                         "drawdown_pct": pa.array([], pa.float64())})
    exit_us = trades.column("exit_ts").cast(pa.int64()).to_numpy()
    pnl = trades.column("pnl").to_numpy()
    starts = np.flatnonzero(np.concatenate([[True], exit_us[1:] != exit_us[:-1]]))
    equity = initial_capital + np.cumsum(np.add.reduceat(pnl, starts))
    peak = np.maximum.accumulate(np.maximum(equity, initial_capital))
    drawdown = peak - equity
    return pa.table({
        "experiment_id": pa.array([experiment_id] * len(starts), pa.string()),
        "ts": pa.array(exit_us[starts], pa.int64()).cast(ts_type),
        "equity": equity, "drawdown": drawdown, "drawdown_pct": drawdown / peak,
    })


def _metric_values(trades, equity, result) -> tuple[dict[str, float | None], dict[str, str]]:
    import numpy as np
    import pyarrow as pa

    n = trades.num_rows
    pnl = trades.column("pnl").to_numpy() if n else np.array([])
    ret = trades.column("pnl_pct").to_numpy() if n else np.array([])
    values: dict[str, float | None] = {"trade_count": float(n),
                                       "alerts_considered": float(result.stats.get("alerts_in_range", 0)),
                                       "alerts_skipped": float(result.stats.get("skipped", 0))}
    undefined: dict[str, str] = {}
    per_trade = ("win_rate", "mean_return", "median_return", "expectancy", "mean_hold", "max_drawdown",
                 "max_drawdown_abs")
    if n == 0:
        for name in per_trade:
            values[name], undefined[name] = None, "no trades"
    else:
        values["win_rate"] = float(np.count_nonzero(pnl > 0) / n)
        values["mean_return"] = float(np.mean(ret))
        values["median_return"] = float(np.median(ret))
        values["expectancy"] = float(np.mean(pnl))
        dur_us = trades.column("exit_ts").cast(pa.int64()).to_numpy() - trades.column("entry_ts").cast(pa.int64()).to_numpy()
        values["mean_hold"] = float(np.mean(dur_us) / 1e6)
        values["max_drawdown"] = float(np.max(equity.column("drawdown_pct").to_numpy()))
        values["max_drawdown_abs"] = float(np.max(equity.column("drawdown").to_numpy()))
    total = float(np.sum(pnl)) if n else 0.0
    values["total_pnl"] = total
    values["total_return"] = total / result.strategy.initial_capital
    gains, losses = float(np.sum(pnl[pnl > 0])), float(-np.sum(pnl[pnl < 0]))
    if n == 0:
        values["profit_factor"], undefined["profit_factor"] = None, "no trades"
    elif losses == 0:
        values["profit_factor"], undefined["profit_factor"] = None, "no losing trades (division by zero)"
    else:
        values["profit_factor"] = gains / losses
    values["sharpe"], why = _sharpe(trades, ret)
    if why:
        undefined["sharpe"] = why
    for k, v in values.items():  # never NaN/Infinity
        if v is not None and not math.isfinite(v):
            values[k], undefined[k] = None, f"not finite ({v})"
    return values, undefined


def _sharpe(trades, ret) -> tuple[float | None, str | None]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(ret)
    if n < 2:
        return None, "fewer than 2 trades"
    std = float(np.std(ret, ddof=1))
    if std == 0:
        return None, "returns have zero standard deviation"
    first = pc.min(trades.column("entry_ts").cast(pa.int64())).as_py()
    last = pc.max(trades.column("exit_ts").cast(pa.int64())).as_py()
    span_years = (last - first) / 1e6 / YEAR_S
    if span_years <= 0:
        return None, "first entry and last exit coincide (zero-length span)"
    return float(np.mean(ret)) / std * math.sqrt(n / span_years), None


def metrics_table(experiment_id: str, values: dict[str, float | None], computed_at: datetime):
    import pyarrow as pa

    names = sorted(values)
    return pa.table({
        "experiment_id": pa.array([experiment_id] * len(names), pa.string()),
        "metric_name": pa.array(names, pa.string()),
        "metric_value": pa.array([values[k] for k in names], pa.float64()),
        "metric_unit": pa.array([METRIC_UNITS.get(k) for k in names], pa.string()),
        "computed_at": pa.array([computed_at] * len(names), pa.timestamp("us", tz="UTC")),
    })


def diagnostics_table(result, undefined: dict[str, str], extra: list[dict[str, Any]]):
    """Skipped alerts (vectorised, one row each), then warnings and the two info rows."""
    import pyarrow as pa

    rows: list[dict[str, Any]] = []
    for name, why in sorted(undefined.items()):
        rows.append({"alert_id": None, "kind": "warning", "reason": "metric_undefined", "detail": f"{name}: {why}"})
    for w in result.warnings + list(extra):
        rows.append({"alert_id": w.get("alert_id"), "kind": w.get("kind", "warning"), "reason": w["reason"],
                     "detail": w.get("detail")})
    rows.append({"alert_id": None, "kind": "info", "reason": "counts",
                 "detail": json.dumps(result.stats, sort_keys=True)})
    rows.append({"alert_id": None, "kind": "info", "reason": "strategy",
                 "detail": json.dumps(result.strategy.to_json_dict(), sort_keys=True)})
    skipped = result.skipped
    n = skipped.num_rows
    head = pa.table({
        "experiment_id": pa.array([result.experiment_id] * n, pa.string()),
        "alert_id": skipped.column("alert_id").cast(pa.string()),
        "kind": pa.array(["skipped"] * n, pa.string()),
        "reason": skipped.column("reason").cast(pa.string()),
        "detail": skipped.column("detail").cast(pa.string()),
    })
    tail = pa.table({
        "experiment_id": pa.array([result.experiment_id] * len(rows), pa.string()),
        "alert_id": pa.array([r["alert_id"] for r in rows], pa.string()),
        "kind": pa.array([r["kind"] for r in rows], pa.string()),
        "reason": pa.array([r["reason"] for r in rows], pa.string()),
        "detail": pa.array([r["detail"] for r in rows], pa.string()),
    })
    return pa.concat_tables([head, tail])
