"""Out-of-sample validation of a sweep and its overfitting statistics (docs/experiments.md,
"Out-of-sample sweeps").

Observations are alerts, in time order (alert_ts, alert_id), within the date range. A point's
return on an alert is the pnl_pct of its trade on that alert, 0 when it took none (skipped).

Folds:
- `split`: in-sample = alerts with alert_ts < cut, out-of-sample = the rest; cut = `splitAt`, or
  the alert time at index floor(inSampleFraction * n) of the ordered alerts;
- `walkForward` with k folds: the ordered alerts are cut into k + 1 blocks of (nearly) equal
  count (numpy.array_split); block boundaries are the alert times where blocks start; fold i
  (1..k) is in-sample on [first alert, start of block i) and out-of-sample on [start of block i,
  start of block i + 1) (anchored, expanding window).

In each fold the point with the highest in-sample value of the named metric (breakdown.trade_stats
on the trades of in-sample alerts; null ranks lowest; ties go to the first experiment id) is
chosen, and its statistics in both samples are published. The deflated Sharpe ratio and the PBO
(overfit.py) use the whole alerts x points return matrix.
"""

from __future__ import annotations

from typing import Any

__all__ = ["alert_times", "return_matrix", "validate", "validation_table"]

_FAR = 253402300799999999  # 9999-12-31T23:59:59.999999Z in µs


def alert_times(con, alerts_src: str, date_from_us: int | None, date_to_us: int | None):
    """(alert ids, alert µs) of the alerts in range, in time order."""
    import numpy as np

    conds = ["alert_ts IS NOT NULL"]
    if date_from_us is not None:
        conds.append(f"epoch_us(alert_ts) >= {int(date_from_us)}")
    if date_to_us is not None:
        conds.append(f"epoch_us(alert_ts) < {int(date_to_us)}")
    t = con.sql(f"""SELECT DISTINCT CAST(alert_id AS VARCHAR) AS alert_id, epoch_us(alert_ts) AS us FROM {alerts_src}
        WHERE {' AND '.join(conds)} ORDER BY us, alert_id""").to_arrow_table()
    return t.column("alert_id").to_pylist(), t.column("us").to_numpy().astype(np.int64)


def return_matrix(alert_ids: list[str], trades_by_point: dict[str, Any]):
    """T x N matrix (alerts in the given order x points in the given order) of pnl_pct, 0 when skipped."""
    import numpy as np

    index = {a: i for i, a in enumerate(alert_ids)}
    m = np.zeros((len(alert_ids), len(trades_by_point)))
    for j, trades in enumerate(trades_by_point.values()):
        rows = [index.get(a, -1) for a in trades.column("alert_id").to_pylist()]
        ret = trades.column("pnl_pct").to_numpy(zero_copy_only=False)
        ok = np.asarray(rows) >= 0
        m[np.asarray(rows, dtype=np.int64)[ok], j] = ret[ok]
    return m


def _folds(times, settings) -> list[tuple[int, int, int, int]]:
    """[(is_from, is_to, oos_from, oos_to)] in µs, half-open."""
    import numpy as np

    from bridge.errors import ValidationFailed

    n = len(times)
    if n < 2:
        raise ValidationFailed(f"out-of-sample validation needs at least 2 alerts, the range has {n}",
                               column="validation")
    first, end = int(times[0]), int(times[-1]) + 1
    if settings.method == "split":
        if settings.split_at:
            from bridge.store.timeutil import parse_iso, to_micros

            try:
                cut = to_micros(parse_iso(settings.split_at))
            except ValueError:
                raise ValidationFailed("validation.splitAt is not ISO-8601", column="validation.splitAt",
                                       value=settings.split_at) from None
        else:
            cut = int(times[min(n - 1, max(1, int(settings.in_sample_fraction * n)))])
        return [(first, cut, cut, end)]
    if n < settings.folds + 1:
        raise ValidationFailed(f"{settings.folds} walk-forward folds need at least {settings.folds + 1} alerts, "
                               f"the range has {n}", column="validation.folds")
    starts = [int(times[b[0]]) for b in np.array_split(np.arange(n), settings.folds + 1)]
    bounds = starts + [end]
    return [(first, bounds[i], bounds[i], bounds[i + 1]) for i in range(1, settings.folds + 1)]


def validate(sweep_id: str, settings, alert_ids: list[str], times, trades_by_point: dict[str, Any]) -> dict[str, Any]:
    """{"rows": [...experiment_sweep_validation rows], "folds": [...], "overfit": {...}}."""
    import numpy as np

    from bridge.experiments.breakdown import trade_stats
    from bridge.experiments.overfit import deflated_sharpe, pbo_cscv

    when = {a: int(t) for a, t in zip(alert_ids, times)}
    points = list(trades_by_point)
    per_point = {}
    for pid, trades in trades_by_point.items():
        us = np.array([when.get(a, -1) for a in trades.column("alert_id").to_pylist()], dtype=np.int64)
        per_point[pid] = (us, trades.column("pnl_pct").to_numpy(zero_copy_only=False),
                          trades.column("pnl").to_numpy(zero_copy_only=False))

    def stats(pid, lo, hi):
        us, ret, pnl = per_point[pid]
        m = (us >= lo) & (us < hi)
        return trade_stats(ret[m], pnl[m])

    rows: list[dict[str, Any]] = []
    folds = []
    for k, (a, b, c, e) in enumerate(_folds(times, settings), start=1):
        is_stats = {pid: stats(pid, a, b) for pid in points}
        ranked = sorted(points, key=lambda pid: (is_stats[pid][settings.metric] is None,
                                                 -(is_stats[pid][settings.metric] or 0.0), pid))
        best = ranked[0]
        oos = stats(best, c, e)
        folds.append({"fold": k, "experimentId": best, "inSample": is_stats[best], "outOfSample": oos,
                      "inSampleFrom": a, "inSampleTo": b, "outOfSampleFrom": c, "outOfSampleTo": min(e, _FAR)})
        for sample, st, lo, hi in (("in_sample", is_stats[best], a, b), ("out_of_sample", oos, c, e)):
            for name, value in sorted(st.items()):
                rows.append({"section": "fold", "fold": k, "sample": sample, "experiment_id": best,
                             "metric_name": name, "metric_value": value, "from_ts": lo, "to_ts": hi,
                             "detail": f"chosen in-sample by {settings.metric}"})
    m = return_matrix(alert_ids, trades_by_point)
    dsr = deflated_sharpe(m)
    pbo = pbo_cscv(m, settings.cscv_blocks)
    best_id = points[dsr["best"]] if dsr["best"] is not None else None
    overfit = {"dsr": dsr["dsr"], "sr": dsr["sr"], "sr0": dsr["sr0"], "dsrExperimentId": best_id,
               "trials": dsr["trials"], "observations": dsr["observations"], "skew": dsr["skew"],
               "kurtosis": dsr["kurtosis"], "dsrReason": dsr["reason"], "pbo": pbo["pbo"],
               "pboCombinations": pbo["combinations"], "cscvBlocks": pbo["blocks"], "pboReason": pbo["reason"]}
    for name, value, why in (("dsr", dsr["dsr"], dsr["reason"]), ("dsr_sharpe", dsr["sr"], None),
                             ("dsr_expected_max_sharpe", dsr["sr0"], None), ("dsr_skew", dsr["skew"], None),
                             ("dsr_kurtosis", dsr["kurtosis"], None), ("trials", float(dsr["trials"]), None),
                             ("observations", float(dsr["observations"]), None),
                             ("pbo", pbo["pbo"], pbo["reason"]), ("pbo_combinations", float(pbo["combinations"]), None)):
        rows.append({"section": "overfit", "fold": None, "sample": None,
                     "experiment_id": best_id if name.startswith("dsr") else None, "metric_name": name,
                     "metric_value": value, "from_ts": int(times[0]) if len(times) else None,
                     "to_ts": int(times[-1]) + 1 if len(times) else None, "detail": why})
    return {"rows": rows, "folds": folds, "overfit": overfit}


def validation_table(sweep_id: str, rows: list[dict[str, Any]]):
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    n = len(rows)
    return pa.table({
        "sweep_id": pa.array([sweep_id] * n, pa.string()),
        "section": pa.array([r["section"] for r in rows], pa.string()),
        "fold": pa.array([r["fold"] for r in rows], pa.int64()),
        "sample": pa.array([r["sample"] for r in rows], pa.string()),
        "experiment_id": pa.array([r["experiment_id"] for r in rows], pa.string()),
        "metric_name": pa.array([r["metric_name"] for r in rows], pa.string()),
        "metric_value": pa.array([r["metric_value"] for r in rows], pa.float64()),
        "from_ts": pa.array([r["from_ts"] for r in rows], pa.int64()).cast(ts),
        "to_ts": pa.array([min(r["to_ts"], _FAR) if r["to_ts"] is not None else None for r in rows],
                          pa.int64()).cast(ts),
        "detail": pa.array([r["detail"] for r in rows], pa.string()),
    })
