"""Mark-to-market equity of a portfolio run and the metrics computed from it (docs/experiments.md,
"Mark-to-market equity" and "Portfolio metrics").

Equity at grid time g is the state after the candle that opens at g has closed, i.e. after
every event with time <= g: cash (initial capital, minus what buys paid, plus what sells
returned, fees included: every fill of the taken trades, scaled to the size taken) plus the
units each open position holds valued at the close of its token's latest candle with
ts <= g (no exit costs). A position is open at g when entry_ts <= g < exit_ts. The grid runs from
the first entry to the last exit in steps of the candle resolution or `equityStepSeconds`.

DuckDB joins each position to its token's candles (one row per held candle, the units held then
from an ASOF join on the position's fills, as value deltas);
numpy sorts the deltas by (ts, position) and takes cumulative sums, so the series is the same
for any thread count. Daily returns: the equity at the last grid point of each UTC day against
the previous day's (the first day against the initial capital), 365 periods a year.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MIN_DAILY_RETURNS", "PERIODS_PER_YEAR", "daily_equity", "daily_metrics", "drawdown_stats",
           "equity_curve", "portfolio_metrics"]

PERIODS_PER_YEAR = 365        # crypto trades every day (empyrical's `annualization=365`)
MIN_DAILY_RETURNS = 30        # fewer: annualised ratios are null with a warning
DAY_US = 86_400_000_000
MAX_GRID_POINTS = 20_000_000
ZERO_STDEV = 1e-12            # a (downside) deviation of returns at or below this counts as zero


def equity_curve(con, positions, fills, candles_src: str, resolution: str, step_us: int, initial_capital: float,
                 experiment_id: str, *, scaled: bool = False):
    """The experiment_equity_curve v2 table (pyarrow).

    `positions`: portfolio.PortfolioResult.positions (trade_id, token, entry_us, exit_us, scale);
    `fills`: the engine's experiment_fills rows of those trades (at the engine's notional; each
    trade's fills are scaled by its `scale`). Cash moves at every fill (buy: -(notional + fee),
    sell: +(notional - fee)); units held change at every fill and are valued at the close.
    `scaled`: the fills are already at the size taken (scale 1)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from bridge.errors import InvalidInput

    ts_type = pa.timestamp("us", tz="UTC")
    n = positions.num_rows
    if n == 0:
        return _curve_table(experiment_id, np.zeros(0, np.int64), *(np.zeros(0),) * 3, np.zeros(0, np.int64),
                            initial_capital, ts_type)
    pid_of = {t: i for i, t in enumerate(positions.column("trade_id").to_pylist())}
    scale = np.ones(n) if scaled else positions.column("scale").to_numpy()
    f = fills.filter(pc.is_in(fills.column("trade_id"), value_set=positions.column("trade_id")))
    f_pid = np.array([pid_of[t] for t in f.column("trade_id").to_pylist()], dtype=np.int64)
    f_ts = f.column("ts").cast(pa.int64()).to_numpy()
    f_seq = f.column("fill_seq").to_numpy()
    buy = np.array([x == "buy" for x in f.column("side").to_pylist()], dtype=bool)
    k = scale[f_pid]
    dq = np.where(buy, 1.0, -1.0) * f.column("qty").to_numpy(zero_copy_only=False) * k
    notional = f.column("notional").to_numpy(zero_copy_only=False) * k
    fee = f.column("fee").to_numpy(zero_copy_only=False) * k
    dcash = np.where(buy, -(notional + fee), notional - fee)
    o = np.lexsort((f_seq, f_ts, f_pid))
    f_pid, f_ts, dq, dcash = f_pid[o], f_ts[o], dq[o], dcash[o]
    # units held after each (position, time): a cumulative sum within each position, last fill of a time wins
    units = np.empty(len(dq))
    bounds = np.flatnonzero(np.concatenate([[True], f_pid[1:] != f_pid[:-1], [True]]))
    for a, b in zip(bounds[:-1], bounds[1:]):
        units[a:b] = np.cumsum(dq[a:b])
    last_of_time = np.concatenate([(f_pid[1:] != f_pid[:-1]) | (f_ts[1:] != f_ts[:-1]), [True]])
    u_tab = pa.table({"pid": pa.array(f_pid[last_of_time]), "ts": pa.array(f_ts[last_of_time]),
                      "units": pa.array(units[last_of_time])})
    pos = pa.table({"pid": pa.array(np.arange(n, dtype=np.int64)), "token": positions.column("token"),
                    "entry_us": positions.column("entry_us"), "exit_us": positions.column("exit_us")})
    con.register("_mtm_positions", pos)
    con.register("_mtm_units", u_tab)
    try:
        rows = con.sql(f"""
            WITH c AS (SELECT DISTINCT CAST(token AS VARCHAR) AS token, epoch_us(ts) AS ts, close FROM {candles_src}
                       WHERE resolution = $res AND CAST(token AS VARCHAR) IN (SELECT token FROM _mtm_positions)),
            h AS (SELECT p.pid, c.ts, c.close FROM _mtm_positions p
                  JOIN c ON c.token = p.token AND c.ts >= p.entry_us AND c.ts < p.exit_us),
            v AS (SELECT h.pid, h.ts, u.units * h.close AS v FROM h ASOF JOIN _mtm_units u ON u.pid = h.pid AND u.ts <= h.ts)
            SELECT pid, ts, v - coalesce(lag(v) OVER (PARTITION BY pid ORDER BY ts), 0) AS dv,
                   CASE WHEN ts = max(ts) OVER (PARTITION BY pid) THEN v END AS last_v
            FROM v""", params={"res": resolution}).to_arrow_table()
    finally:
        con.unregister("_mtm_positions")
        con.unregister("_mtm_units")
    pid_v = rows.column("pid").to_numpy()
    ts_v = rows.column("ts").to_numpy()
    dv = rows.column("dv").to_numpy(zero_copy_only=False)
    last = rows.column("last_v").to_numpy(zero_copy_only=False)
    has_last = ~np.isnan(last)
    entry = positions.column("entry_us").to_numpy()
    exit_ = positions.column("exit_us").to_numpy()
    # value events: held candles, then each position's last value leaves at its exit
    v_ts = np.concatenate([ts_v, exit_[pid_v[has_last]]])
    v_pid = np.concatenate([pid_v, pid_v[has_last]])
    v_d = np.concatenate([dv, -last[has_last]])
    o = np.lexsort((v_pid, v_ts))
    v_ts, v_cum = v_ts[o], np.cumsum(v_d[o])
    # cash (per fill) and open-count events
    o = np.lexsort((f_pid, f_ts))
    c_ts, c_cum = f_ts[o], np.cumsum(dcash[o])
    n_ts = np.concatenate([entry, exit_])
    n_d = np.concatenate([np.ones(n, np.int64), -np.ones(n, np.int64)])
    o = np.argsort(n_ts, kind="stable")
    n_ts, n_cum = n_ts[o], np.cumsum(n_d[o])

    lo = int(entry.min()) - int(entry.min()) % step_us
    hi = int(exit_.max())
    count = -(-(hi - lo) // step_us) + 1     # the last grid point is at or after the last exit
    if count > MAX_GRID_POINTS:
        raise InvalidInput(f"the equity grid would have {count:,} points; set portfolio.equityStepSeconds to a "
                           "coarser step", field="portfolio.equityStepSeconds")
    grid = lo + np.arange(count, dtype=np.int64) * step_us

    def at(ts, cum, default):
        i = np.searchsorted(ts, grid, side="right") - 1
        return np.where(i >= 0, cum[np.maximum(i, 0)], default)

    value = at(v_ts, v_cum, 0.0)
    cash = initial_capital + at(c_ts, c_cum, 0.0)
    n_open = at(n_ts, n_cum, 0)
    value = np.where(n_open == 0, 0.0, value)   # no open position: exactly zero (no rounding residue)
    return _curve_table(experiment_id, grid, cash + value, cash, value, n_open, initial_capital, ts_type)


def _curve_table(experiment_id, ts, equity, cash, value, n_open, initial_capital, ts_type):
    import numpy as np
    import pyarrow as pa

    peak = np.maximum.accumulate(np.maximum(equity, initial_capital)) if len(equity) else equity
    drawdown = peak - equity
    return pa.table({
        "experiment_id": pa.array([experiment_id] * len(ts), pa.string()),
        "ts": pa.array(ts, pa.int64()).cast(ts_type),
        "equity": pa.array(equity, pa.float64()),
        "cash": pa.array(cash, pa.float64()),
        "exposure": pa.array(value, pa.float64()),
        "open_positions": pa.array(n_open, pa.int64()),
        "drawdown": pa.array(drawdown, pa.float64()),
        "drawdown_pct": pa.array(drawdown / peak if len(ts) else drawdown, pa.float64()),
    })


def daily_equity(curve) -> tuple[Any, Any]:
    """(day start µs, equity at the last grid point of that UTC day) for every day the grid covers."""
    import numpy as np
    import pyarrow as pa

    if curve.num_rows == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    ts = curve.column("ts").cast(pa.int64()).to_numpy()
    eq = curve.column("equity").to_numpy()
    days = np.arange(ts[0] // DAY_US, ts[-1] // DAY_US + 1, dtype=np.int64) * DAY_US
    idx = np.searchsorted(ts, days + DAY_US, side="left") - 1   # last point < next day start
    return days, eq[idx]


def daily_metrics(day_equity, initial_capital: float) -> tuple[dict[str, float | None], dict[str, str]]:
    """Annualised metrics from daily equity (empyrical's definitions with annualization=365):

    r_d = E_d / E_{d-1} - 1 (E_{-1} = initial capital); n = number of r_d
    annual_return     = (E_last / initial)^(365 / n) - 1                   (CAGR)
    annual_volatility = stdev(r, ddof=1) * sqrt(365)
    sharpe            = mean(r) / stdev(r, ddof=1) * sqrt(365)             (no risk-free rate)
    sortino           = mean(r) * 365 / (sqrt(mean(min(r, 0)^2)) * sqrt(365))
    Each is null with a reason when n < MIN_DAILY_RETURNS (or a denominator is zero).
    """
    import numpy as np

    eq = np.asarray(day_equity, dtype=float)
    values: dict[str, float | None] = {}
    why: dict[str, str] = {}
    r = np.diff(np.concatenate([[initial_capital], eq])) / np.concatenate([[initial_capital], eq[:-1]]) \
        if len(eq) else np.zeros(0)
    n = len(r)
    values["daily_return_count"] = float(n)
    names = ("annual_return", "annual_volatility", "sharpe", "sortino")
    if n < MIN_DAILY_RETURNS:
        for k in names:
            values[k], why[k] = None, f"{n} daily returns (annualised ratios need at least {MIN_DAILY_RETURNS})"
        return values, why
    ann = PERIODS_PER_YEAR
    sd = float(np.std(r, ddof=1))
    values["annual_return"] = float((eq[-1] / initial_capital) ** (ann / n) - 1) if eq[-1] > 0 else -1.0
    values["annual_volatility"] = sd * math.sqrt(ann)
    if sd <= ZERO_STDEV:
        values["sharpe"], why["sharpe"] = None, "daily returns have zero standard deviation"
    else:
        values["sharpe"] = float(np.mean(r)) / sd * math.sqrt(ann)
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    if downside <= ZERO_STDEV:
        values["sortino"], why["sortino"] = None, "no losing day (downside deviation is zero)"
    else:
        values["sortino"] = float(np.mean(r)) * ann / (downside * math.sqrt(ann))
    return values, why


def drawdown_stats(curve) -> tuple[float | None, float | None, float | None]:
    """(max drawdown ratio, max drawdown in quote, longest drawdown in seconds) on the grid. A
    drawdown lasts from the last time at the peak until equity is back at or above it (or the end)."""
    import numpy as np
    import pyarrow as pa

    if curve.num_rows == 0:
        return None, None, None
    dd = curve.column("drawdown").to_numpy()
    ts = curve.column("ts").cast(pa.int64()).to_numpy()
    under = dd > 0
    longest = 0
    if under.any():
        # run starts: the grid point before the first point under water (the peak), or the first point
        starts = np.flatnonzero(under & ~np.concatenate([[False], under[:-1]]))
        ends = np.flatnonzero(under & ~np.concatenate([under[1:], [False]]))
        for s, e in zip(starts, ends):
            t0 = ts[s - 1] if s > 0 else ts[s]
            t1 = ts[e + 1] if e + 1 < len(ts) else ts[e]
            longest = max(longest, int(t1 - t0))
    return (float(np.max(curve.column("drawdown_pct").to_numpy())), float(np.max(dd)), longest / 1e6)


def portfolio_metrics(curve, portfolio, fill_notional) -> tuple[dict[str, float | None], dict[str, str]]:
    """The metrics from the mark-to-market series (docs: "Portfolio metrics"). `fill_notional`:
    qty * price of every fill of the taken trades, at the size taken (for the turnover)."""
    import numpy as np

    initial = portfolio.initial_capital
    values: dict[str, float | None] = {}
    why: dict[str, str] = {}
    _, day_eq = daily_equity(curve)
    dvals, dwhy = daily_metrics(day_eq, initial)
    values.update(dvals)
    why.update(dwhy)
    if curve.num_rows == 0:
        for k in ("max_drawdown", "max_drawdown_abs", "max_drawdown_duration", "exposure", "max_exposure",
                  "turnover", "calmar"):
            values[k], why[k] = None, "no trades taken"
        values["total_return"] = 0.0
        values["final_equity"] = initial
        return values, why
    eq = curve.column("equity").to_numpy()
    values["final_equity"] = float(eq[-1])
    values["total_return"] = float(eq[-1] / initial - 1)
    mdd, mdd_abs, dur = drawdown_stats(curve)
    values["max_drawdown"], values["max_drawdown_abs"], values["max_drawdown_duration"] = mdd, mdd_abs, dur
    expo = curve.column("exposure").to_numpy() / np.where(eq > 0, eq, np.nan)
    values["exposure"] = float(np.nanmean(expo)) if np.isfinite(expo).any() else None
    values["max_exposure"] = float(np.nanmax(expo)) if np.isfinite(expo).any() else None
    traded = float(np.sum(fill_notional))
    values["turnover"] = traded / 2 / float(np.mean(eq))
    ar = values.get("annual_return")
    if ar is None:
        values["calmar"], why["calmar"] = None, why.get("annual_return", "annual return undefined")
    elif not mdd:
        values["calmar"], why["calmar"] = None, "no drawdown (division by zero)"
    else:
        values["calmar"] = ar / mdd
    return values, why
