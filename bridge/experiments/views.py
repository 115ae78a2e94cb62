"""Read-only views of recorded runs and sweeps for people: what a run's report shows as data
(metrics, equity and drawdown, trades, skipped alerts, lineage), the candles around one trade,
several runs side by side (definitions diffed, metrics, curves), and the sweeps with their grid
and, when they ran with validation, their folds, deflated Sharpe ratio and PBO.

Everything reads the manifest's run records and the runs' result artifacts; nothing writes.
The artifacts are immutable, so the small tables read from them (metrics, a sweep's validation)
are cached by id.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from bridge.errors import RunNotFound, ValidationFailed
from bridge.experiments.runs import RunRecords

if TYPE_CHECKING:  # pragma: no cover
    from bridge.experiments.definition import ExperimentResult
    from bridge.store import Store

__all__ = ["SweepInfo", "compare_runs", "definition_diff", "list_sweeps", "run_metrics", "run_view", "sweep_validation",
           "sweep_view", "trade_candles", "validation_artifact"]

MAX_TRADES = 1000
MAX_COMPARE = 8


class SweepInfo(msgspec.Struct, frozen=True, kw_only=True):
    sweep_id: str
    experiment_id: str
    grid: dict[str, list[Any]]
    created_at: str
    runs: int
    completed: int


def list_sweeps(store: "Store", *, limit: int = 200) -> list[SweepInfo]:
    """Sweeps, newest first, with their grid and how many of their runs completed."""
    rows = store.connect().execute(
        """SELECT s.sweep_id, s.experiment_id, s.grid_json, s.created_at,
                  count(r.run_id), count(CASE WHEN r.status = 'completed' THEN 1 END)
           FROM experiment_sweeps s LEFT JOIN experiment_runs r ON r.sweep_id = s.sweep_id
           GROUP BY s.sweep_id ORDER BY s.created_at DESC, s.sweep_id DESC LIMIT ?""", (int(limit),)).fetchall()
    return [SweepInfo(sweep_id=r[0], experiment_id=r[1], grid=json.loads(r[2]), created_at=r[3], runs=r[4],
                      completed=r[5]) for r in rows]


def sweep_view(store: "Store", sweep_id: str) -> dict[str, Any]:
    """A sweep's grid and one point per grid combination (its latest run): params, status and
    every metric of its metrics artifact (not only the comparison subset).

    Raises:
        RunNotFound: no such sweep.
    """
    row = store.connect().execute("SELECT experiment_id, grid_json, created_at FROM experiment_sweeps WHERE sweep_id = ?",
                                  (sweep_id,)).fetchone()
    if row is None:
        raise RunNotFound(sweep_id)
    records = RunRecords(store)
    latest: dict[str, ExperimentResult] = {}
    for r in reversed(records.list(sweep_id=sweep_id, limit=100_000)):
        latest[r.experiment_id] = r
    grid = json.loads(row[1])
    points = []
    for exp_id, r in sorted(latest.items()):
        strategy = records.definition(r.run_id).config.strategy.to_json_dict()
        points.append({"experimentId": exp_id, "runId": r.run_id, "status": r.status,
                       "params": {k: strategy.get(k) for k in grid},
                       "metrics": run_metrics(store, r) if r.status == "completed" else {}})
    validation = sweep_validation(store, sweep_id)
    if validation is not None:
        by_exp = {p["experimentId"]: p for p in points}
        for f in validation["folds"]:
            chosen = by_exp.get(f["experimentId"])
            f["runId"], f["params"] = (chosen["runId"], chosen["params"]) if chosen else (None, None)
    return {"sweepId": sweep_id, "experimentId": row[0], "createdAt": row[2], "grid": grid, "points": points,
            "validation": validation}


# -- a sweep's out-of-sample validation --------------------------------------------------------------

_validation_cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()


def validation_artifact(store: "Store", sweep_id: str):
    """The sweep's experiment_sweep_validation artifact (the active one, else the newest), or None."""
    found = store.find_by_logical_key("experiment_sweep_validation", f"sweep={sweep_id}/validation")
    return next((a for a in found if a.status == "active"), found[0] if found else None)


def sweep_validation(store: "Store", sweep_id: str) -> dict[str, Any] | None:
    """What a sweep's out-of-sample validation published (docs/experiments.md, "Out-of-sample
    sweeps" and "Overfitting guards"), read back from its experiment_sweep_validation artifact;
    None for a sweep run without validation.

    {"artifactId", "settings" (the validation settings, camelCase), "metric" (the selection
    metric), "folds": [{"fold", "experimentId", "inSample", "outOfSample" (statistic -> value),
    "inSampleFrom", "inSampleTo", "outOfSampleFrom", "outOfSampleTo" (epoch ms, half-open)}],
    "overfit": {"dsr", "dsrReason", "sr", "sr0", "dsrExperimentId", "trials", "observations",
    "skew", "kurtosis", "pbo", "pboReason", "pboCombinations", "cscvBlocks"}}. The artifact is
    immutable, so its parsed form is cached by id.
    """
    art = validation_artifact(store, sweep_id)
    if art is None:
        return None
    key = (str(store.lake.root), art.artifact_id)
    with _cache_lock:
        hit = _validation_cache.get(key)
    if hit is None:
        hit = _read_validation(store, art.artifact_id)
        with _cache_lock:
            _validation_cache[key] = hit
            while len(_validation_cache) > _CACHE_SIZE:
                _validation_cache.popitem(last=False)
    return copy.deepcopy(hit)  # callers add to it


def _read_validation(store: "Store", artifact_id: str) -> dict[str, Any]:
    settings = store.provenance(artifact_id).params.get("validation") or {}
    folds: dict[int, dict[str, Any]] = {}
    overfit: dict[str, Any] = {}
    metric = settings.get("metric")
    for r in store.read_table(artifact_id).to_pylist():
        if r["section"] == "fold":
            f = folds.setdefault(r["fold"], {"fold": r["fold"], "experimentId": r["experiment_id"], "inSample": {},
                                             "outOfSample": {}})
            side = "inSample" if r["sample"] == "in_sample" else "outOfSample"
            f[side][r["metric_name"]] = r["metric_value"]
            f[side + "From"], f[side + "To"] = _ms(r["from_ts"]), _ms(r["to_ts"])
            if metric is None and r["detail"]:  # "chosen in-sample by <metric>"
                metric = r["detail"].rsplit(" ", 1)[-1]
        elif r["section"] == "overfit":
            overfit[r["metric_name"]] = r

    def value(name: str) -> float | None:
        return overfit[name]["metric_value"] if name in overfit else None

    def reason(name: str) -> str | None:
        return overfit[name]["detail"] if name in overfit and overfit[name]["metric_value"] is None else None

    def count(name: str) -> int | None:
        v = value(name)
        return None if v is None else int(v)

    return {
        "artifactId": artifact_id, "settings": settings, "metric": metric,
        "folds": [folds[k] for k in sorted(folds)],
        "overfit": {"dsr": value("dsr"), "dsrReason": reason("dsr"), "sr": value("dsr_sharpe"),
                    "sr0": value("dsr_expected_max_sharpe"),
                    "dsrExperimentId": overfit["dsr"]["experiment_id"] if "dsr" in overfit else None,
                    "trials": count("trials"), "observations": count("observations"), "skew": value("dsr_skew"),
                    "kurtosis": value("dsr_kurtosis"), "pbo": value("pbo"), "pboReason": reason("pbo"),
                    "pboCombinations": count("pbo_combinations"), "cscvBlocks": settings.get("cscvBlocks")},
    }


# -- one run -------------------------------------------------------------------------------------

_metrics_cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 4096


def run_metrics(store: "Store", run: "ExperimentResult") -> dict[str, float | None]:
    """metric name -> value of a run's metrics artifact ({} when it has none)."""
    aid = run.outputs.metrics
    if not aid:
        return {}
    key = (str(store.lake.root), aid)
    with _cache_lock:
        hit = _metrics_cache.get(key)
        if hit is not None:
            _metrics_cache.move_to_end(key)
            return hit["values"]
    t = store.read_table(aid, columns=["metric_name", "metric_value", "metric_unit"])
    names = t.column("metric_name").to_pylist()
    values = dict(zip(names, t.column("metric_value").to_pylist()))
    units = dict(zip(names, t.column("metric_unit").to_pylist()))
    with _cache_lock:
        _metrics_cache[key] = {"values": values, "units": units}
        while len(_metrics_cache) > _CACHE_SIZE:
            _metrics_cache.popitem(last=False)
    return values


def _metric_units(store: "Store", run: "ExperimentResult") -> dict[str, str | None]:
    run_metrics(store, run)
    with _cache_lock:
        hit = _metrics_cache.get((str(store.lake.root), run.outputs.metrics or ""))
    return hit["units"] if hit else {}


def _ms(ts) -> float | None:
    return None if ts is None else ts.timestamp() * 1000.0


def equity_series(store: "Store", run: "ExperimentResult") -> dict[str, list]:
    """The equity curve as columns: ts (epoch ms), equity, drawdown_pct (a fraction)."""
    if not run.outputs.curves:
        return {"ts": [], "equity": [], "drawdownPct": []}
    t = store.read_table(run.outputs.curves, columns=["ts", "equity", "drawdown_pct"])
    return {"ts": [_ms(v) for v in t.column("ts").to_pylist()], "equity": t.column("equity").to_pylist(),
            "drawdownPct": t.column("drawdown_pct").to_pylist()}


def run_view(store: "Store", run_id: str) -> dict[str, Any]:
    """Everything the run's HTML report shows, as JSON-ready data.

    Raises:
        RunNotFound: no such run.
    """
    records = RunRecords(store)
    run = records.get(run_id)
    definition = msgspec.to_builtins(records.definition(run_id))
    out: dict[str, Any] = {"run": msgspec.to_builtins(run), "definition": definition,
                           "strategy": definition["config"]["strategy"]}
    units = _metric_units(store, run)
    out["metrics"] = [{"name": k, "value": v, "unit": units.get(k)} for k, v in sorted(run_metrics(store, run).items())]
    out["equity"] = equity_series(store, run)
    trades: list[dict[str, Any]] = []
    total = 0
    if run.outputs.trades:
        t = store.read_table(run.outputs.trades)
        total = t.num_rows
        for r in t.slice(0, MAX_TRADES).to_pylist():
            r["entry_ts"], r["exit_ts"] = _ms(r["entry_ts"]), _ms(r["exit_ts"])
            trades.append(r)
    out["trades"], out["tradeCount"] = trades, total
    skipped: Counter[str] = Counter()
    warnings = []
    if run.outputs.diagnostics:
        for r in store.read_table(run.outputs.diagnostics).to_pylist():
            if r["kind"] == "skipped":
                skipped[r["reason"]] += 1
            elif r["kind"] == "warning":
                warnings.append({"reason": r["reason"], "detail": r["detail"]})
    fills: Counter[tuple[str, str]] = Counter()
    if getattr(run.outputs, "fills", None):
        t = store.read_table(run.outputs.fills, columns=["side", "reason"])
        fills.update(zip(t.column("side").to_pylist(), t.column("reason").to_pylist()))
    out["fills"] = [{"side": side, "reason": reason, "fills": n} for (side, reason), n in sorted(fills.items())]
    out["skipped"] = [{"reason": k, "alerts": v} for k, v in sorted(skipped.items())]
    out["warnings"] = warnings
    lineage = []
    for f in run.inputs:
        lineage.append({"role": "input: " + f.role, "artifact": msgspec.to_builtins(store.get(f.artifact_id))})
    for label, aid in (("trades", run.outputs.trades), ("metrics", run.outputs.metrics),
                       ("equity", run.outputs.curves), ("diagnostics", run.outputs.diagnostics),
                       ("fills", getattr(run.outputs, "fills", None))):
        if aid:
            lineage.append({"role": "output: " + label, "artifact": msgspec.to_builtins(store.get(aid))})
    out["lineage"] = lineage
    return out


def trade_candles(store: "Store", run_id: str, trade_id: str, *, pad_s: int = 3600,
                  max_candles: int = 5000) -> dict[str, Any]:
    """The trade, its fills (when the run has a fills artifact) and the candles of its token from
    the run's own OHLCV inputs over [entry - pad, exit + pad) (at most `max_candles`, the
    earliest kept).

    Raises:
        RunNotFound: no such run.  ValidationFailed: the run has no trade `trade_id`.
    """
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    run = RunRecords(store).get(run_id)
    if not run.outputs.trades:
        raise ValidationFailed(f"run {run_id} has no trades", field="tradeId", value=trade_id)
    trades = store.read_table(run.outputs.trades)
    hit = trades.filter(pc.equal(trades.column("trade_id"), trade_id))
    if hit.num_rows == 0:
        raise ValidationFailed(f"run {run_id} has no trade {trade_id!r}", field="tradeId", value=trade_id)
    trade = hit.to_pylist()[0]
    from datetime import timedelta

    lo, hi = trade["entry_ts"] - timedelta(seconds=pad_s), trade["exit_ts"] + timedelta(seconds=pad_s)
    arts = [store.get(f.artifact_id) for f in run.inputs if f.role == "ohlcv"]
    paths = [a.path_parquet for a in arts
             if a.min_ts is not None and a.max_ts is not None and trade["token"] in a.tags.get("token", [trade["token"]])]
    cols: dict[str, list] = {k: [] for k in ("ts", "open", "high", "low", "close", "volume")}
    if paths:
        tbl = ds.dataset(paths, format="parquet").to_table(
            columns=list(cols),
            filter=(ds.field("token") == trade["token"]) & (ds.field("ts") >= lo) & (ds.field("ts") < hi))
        tbl = tbl.sort_by("ts").slice(0, max_candles)
        # overlapping slices may repeat a candle time: keep the first of each
        seen, keep = set(), []
        for i, ts in enumerate(tbl.column("ts").to_pylist()):
            if ts not in seen:
                seen.add(ts)
                keep.append(i)
        tbl = tbl.take(keep)
        for k in cols:
            values = tbl.column(k).to_pylist()
            cols[k] = [_ms(v) for v in values] if k == "ts" else values
    trade["entry_ts"], trade["exit_ts"] = _ms(trade["entry_ts"]), _ms(trade["exit_ts"])
    fills = []
    if getattr(run.outputs, "fills", None):
        f = store.read_table(run.outputs.fills)
        f = f.filter(pc.equal(f.column("trade_id"), trade_id)).sort_by("fill_seq")
        fills = [{"side": r["side"], "reason": r["reason"], "leg": r["leg"], "ts": _ms(r["ts"]), "price": r["price"],
                  "qty": r["qty"]} for r in f.to_pylist()]
    return {"trade": trade, "candles": cols, "fills": fills}


# -- several runs --------------------------------------------------------------------------------

def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def definition_diff(definitions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dotted paths (lists compared whole) whose values differ between the definitions, with
    each definition's value (None where it lacks the path)."""
    flat = [_flatten(d) for d in definitions]
    keys = sorted(set().union(*flat)) if flat else []
    out = []
    for k in keys:
        values = [f.get(k) for f in flat]
        if any(v != values[0] for v in values[1:]):
            out.append({"path": k, "values": values})
    return out


def compare_runs(store: "Store", run_ids: Sequence[str]) -> dict[str, Any]:
    """Runs side by side: definitions and their differences, every metric, equity curves.

    Raises:
        RunNotFound: an unknown run.  ValidationFailed: fewer than 1 or more than MAX_COMPARE runs.
    """
    ids = list(dict.fromkeys(run_ids))
    if not 1 <= len(ids) <= MAX_COMPARE:
        raise ValidationFailed(f"compare 1 to {MAX_COMPARE} runs", field="runs", value=len(ids))
    records = RunRecords(store)
    runs = [records.get(i) for i in ids]
    definitions = [msgspec.to_builtins(records.definition(i)) for i in ids]
    metrics = [run_metrics(store, r) for r in runs]
    names = sorted(set().union(*metrics)) if metrics else []
    return {
        "runs": [msgspec.to_builtins(r) for r in runs],
        "definitions": definitions,
        "diff": definition_diff(definitions),
        "metrics": [{"name": n, "values": [m.get(n) for m in metrics]} for n in names],
        "equity": [equity_series(store, r) for r in runs],
    }
