"""Per-group trade statistics with bootstrap confidence intervals: the experiment_breakdown table
(docs/experiments.md, "Breakdowns").

Groups: caller, chat, chain, token, and any alert column the definition names. For each group:
the trade count, win rate, mean and median return (pnl_pct), total pnl, and for groups with at
least `min_count` trades a percentile bootstrap interval (scipy.stats.bootstrap, Efron and
Tibshirani 1993, ch. 13) of the mean return and of the win rate. Smaller groups are marked
(`ranked` false) and get no interval and no rank. Ranks order the ranked groups of a dimension by
the interval's lower bound of the mean return (highest first). Each group's resampling uses its
own random generator seeded from (seed, dimension, group), so results do not depend on the
order of groups and are the same on every run.
"""

from __future__ import annotations

import zlib
from typing import Any

__all__ = ["BREAKDOWN_DIMENSIONS", "alert_dimensions", "breakdown_table", "trade_stats"]

BREAKDOWN_DIMENSIONS = ("caller", "chat", "chain", "token")
NONE_KEY = "(none)"


def alert_dimensions(con, alerts_src: str, extra: list[str]):
    """(alert_id, caller, chat, *extra) for every alert, as a pyarrow table.

    caller: alerts_v1 coalesce(caller_name, caller_id), alerts `caller`; chat: alerts_v1 chat_id,
    alerts `source`.

    Raises:
        InvalidInput: a named breakdown column is not an alert column (lists the columns there are).
    """
    from bridge.errors import InvalidInput

    cols = [d[0] for d in con.execute(f"SELECT * FROM {alerts_src} LIMIT 0").description]
    have = set(cols)
    missing = [c for c in extra if c not in have]
    if missing:
        raise InvalidInput(f"analysis.breakdownColumns: {', '.join(missing)} not in the alerts "
                           f"(columns: {', '.join(cols)})", field="analysis.breakdownColumns", missing=missing)
    if "caller_name" in have:
        caller = "coalesce(CAST(caller_name AS VARCHAR), CAST(caller_id AS VARCHAR))"
    elif "caller" in have:
        caller = "CAST(caller AS VARCHAR)"
    else:
        caller = "NULL::VARCHAR"
    chat = ("CAST(chat_id AS VARCHAR)" if "chat_id" in have else
            "CAST(source AS VARCHAR)" if "source" in have else "NULL::VARCHAR")
    extra_sql = "".join(f', CAST("{c}" AS VARCHAR) AS "col:{c}"' for c in extra)
    return con.sql(f"""SELECT DISTINCT CAST(alert_id AS VARCHAR) AS alert_id, {caller} AS caller, {chat} AS chat
        {extra_sql} FROM {alerts_src}""").to_arrow_table()


def trade_stats(ret, pnl) -> dict[str, float | None]:
    """Per-trade statistics of one set of trades (also the sweep's selection metrics):
    trade_count; win_rate = share of pnl > 0; mean_return / median_return of pnl_pct; total_pnl;
    expectancy = mean pnl; profit_factor = gains / |losses| (null without losses);
    trade_sharpe = mean(pnl_pct) / stdev(pnl_pct, ddof=1), per trade, not annualised (null with
    fewer than 2 trades or zero stdev)."""
    import numpy as np

    ret = np.asarray(ret, dtype=float)
    pnl = np.asarray(pnl, dtype=float)
    n = len(ret)
    out: dict[str, float | None] = {"trade_count": float(n)}
    if n == 0:
        out.update(win_rate=None, mean_return=None, median_return=None, total_pnl=0.0, expectancy=None,
                   profit_factor=None, trade_sharpe=None)
        return out
    out["win_rate"] = float(np.count_nonzero(pnl > 0) / n)
    out["mean_return"] = float(np.mean(ret))
    out["median_return"] = float(np.median(ret))
    out["total_pnl"] = float(np.sum(pnl))
    out["expectancy"] = float(np.mean(pnl))
    losses = float(-np.sum(pnl[pnl < 0]))
    out["profit_factor"] = float(np.sum(pnl[pnl > 0])) / losses if losses > 0 else None
    sd = float(np.std(ret, ddof=1)) if n > 1 else 0.0
    out["trade_sharpe"] = float(np.mean(ret)) / sd if sd > 1e-12 else None   # 1e-12: rounding, not spread
    return out


def _mean_and_win(x, axis=-1):
    import numpy as np

    return np.stack([x.mean(axis=axis), (x > 0).mean(axis=axis)])


def _ci(x, rng_seed: list[int], resamples: int, confidence: float) -> tuple[float, float, float, float]:
    """(mean lo, mean hi, win-rate lo, win-rate hi) from one set of resamples (a trade wins when
    pnl_pct > 0, the same as pnl > 0)."""
    import numpy as np
    from scipy import stats

    if np.all(x == x[0]):
        w = float(x[0] > 0)
        return float(x[0]), float(x[0]), w, w
    res = stats.bootstrap((x,), _mean_and_win, n_resamples=resamples, confidence_level=confidence,
                          method="percentile", vectorized=True, axis=-1, rng=np.random.default_rng(rng_seed))
    lo, hi = res.confidence_interval.low, res.confidence_interval.high
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def breakdown_table(experiment_id: str, trades, dims, *, extra: list[str] = (), min_count: int = 10,
                    resamples: int = 1000, confidence: float = 0.95, seed: int = 0):
    """The experiment_breakdown table. `dims`: alert_dimensions(...) (alert_id → caller, chat, extra)."""
    import numpy as np
    import pyarrow as pa

    joined = _join(trades, dims)
    ret = joined["pnl_pct"]
    pnl = joined["pnl"]
    rows: list[dict[str, Any]] = []
    for dim in (*BREAKDOWN_DIMENSIONS, *(f"col:{c}" for c in extra)):
        keys = np.array([NONE_KEY if k is None else k for k in joined[dim]], dtype=object)
        if len(keys) == 0:
            continue
        # one sort by (group, return) gives every group's slice, count, sums and median at once
        uniq, inv = np.unique(keys.astype(str), return_inverse=True)
        order = np.lexsort((ret, inv))
        g_sorted, r_sorted, p_sorted = inv[order], ret[order], pnl[order]
        starts = np.flatnonzero(np.concatenate([[True], g_sorted[1:] != g_sorted[:-1]]))
        counts = np.diff(np.concatenate([starts, [len(g_sorted)]]))
        mean = np.add.reduceat(r_sorted, starts) / counts
        wins = np.add.reduceat((p_sorted > 0).astype(float), starts) / counts
        total = np.add.reduceat(p_sorted, starts)
        median = (r_sorted[starts + (counts - 1) // 2] + r_sorted[starts + counts // 2]) / 2
        dim_rows = []
        for gi, key in enumerate(uniq):
            c = int(counts[gi])
            row = {"dimension": dim.removeprefix("col:"), "group_key": str(key), "trade_count": c,
                   "win_rate": float(wins[gi]), "mean_return": float(mean[gi]), "median_return": float(median[gi]),
                   "total_pnl": float(total[gi]), "mean_return_lo": None, "mean_return_hi": None,
                   "win_rate_lo": None, "win_rate_hi": None, "ranked": c >= min_count, "rank": None}
            if row["ranked"]:
                h = zlib.crc32(f"{dim}\x00{key}".encode("utf-8"))
                # the group's returns in trade order (the resampling does not depend on the sort above)
                x = ret[np.sort(order[starts[gi]:starts[gi] + c])]
                (row["mean_return_lo"], row["mean_return_hi"], row["win_rate_lo"],
                 row["win_rate_hi"]) = _ci(x, [seed, h], resamples, confidence)
            dim_rows.append(row)
        ranked = sorted((r for r in dim_rows if r["ranked"]), key=lambda r: (-r["mean_return_lo"], r["group_key"]))
        for i, r in enumerate(ranked):
            r["rank"] = i + 1
        rows.extend(dim_rows)
    n = len(rows)
    f = pa.float64()
    return pa.table({
        "experiment_id": pa.array([experiment_id] * n, pa.string()),
        "dimension": pa.array([r["dimension"] for r in rows], pa.string()),
        "group_key": pa.array([r["group_key"] for r in rows], pa.string()),
        "trade_count": pa.array([r["trade_count"] for r in rows], pa.int64()),
        "win_rate": pa.array([r["win_rate"] for r in rows], f),
        "win_rate_lo": pa.array([r["win_rate_lo"] for r in rows], f),
        "win_rate_hi": pa.array([r["win_rate_hi"] for r in rows], f),
        "mean_return": pa.array([r["mean_return"] for r in rows], f),
        "mean_return_lo": pa.array([r["mean_return_lo"] for r in rows], f),
        "mean_return_hi": pa.array([r["mean_return_hi"] for r in rows], f),
        "median_return": pa.array([r["median_return"] for r in rows], f),
        "total_pnl": pa.array([r["total_pnl"] for r in rows], f),
        "ranked": pa.array([r["ranked"] for r in rows], pa.bool_()),
        "rank": pa.array([r["rank"] for r in rows], pa.int64()),
        "confidence": pa.array([confidence] * n, f),
        "resamples": pa.array([resamples] * n, pa.int64()),
    })


def _join(trades, dims) -> dict[str, Any]:
    ids = trades.column("alert_id").to_pylist()
    lookup = {}
    dim_cols = [c for c in dims.column_names if c != "alert_id"]
    d_ids = dims.column("alert_id").to_pylist()
    d_cols = [dims.column(c).to_pylist() for c in dim_cols]
    for j, aid in enumerate(d_ids):
        lookup[aid] = j
    out: dict[str, Any] = {
        "pnl_pct": trades.column("pnl_pct").to_numpy(zero_copy_only=False).astype(float),
        "pnl": trades.column("pnl").to_numpy(zero_copy_only=False).astype(float),
        "chain": trades.column("chain").to_pylist(),
        "token": trades.column("token").to_pylist(),
    }
    for name, col in zip(dim_cols, d_cols):
        out[name] = [col[lookup[a]] if a in lookup else None for a in ids]
    for name in ("caller", "chat"):
        out.setdefault(name, [None] * len(ids))
    return out
