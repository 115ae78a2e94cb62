"""The experiment lifecycle over the store: validate, freeze, project, execute, publish, record.

    exps = Experiments(store)
    result = exps.run(definition)                 # ExperimentResult
    sweep = exps.sweep(definition, {"takeProfitPct": [20, 50], "stopLossPct": [10, 20]})

A run: record `pending` -> `running`; validate the inputs (they exist, have the right types, are
active unless the definition allows superseded ones; tombstoned never); freeze them (ids and
content hashes recorded with the run); build or reuse the projection of exactly those inputs;
backtest; compute every result table; check for cancellation; only then publish the four result
artifacts (`experiment=<id>/trades|metrics|equity|diagnostics`, lineage to every input); record
`completed` with the output ids, or `failed` with the error. Nothing is published before every
table is computed, so a failed or cancelled run registers no outputs (if publishing itself fails
half-way, the artifacts this run created are tombstoned). Results are deterministic (ids from
content, computed_at from the definition), so re-running a definition publishes nothing new.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from bridge.errors import Cancelled, InvalidInput, InvalidState, UnknownInputArtifact, ValidationFailed
from bridge.experiments.definition import (  # SweepPoint, SweepResult: re-exported
    ExperimentDefinition,
    ExperimentResult,
    FrozenInput,
    Outputs,
    SweepPoint,
    SweepResult,
    config_builtins,
    load_definition,
)
from bridge.experiments.engine import ENGINE_VERSION
from bridge.experiments.options import SweepValidation, SweepValidationResult
from bridge.experiments.runs import RunRecords
from bridge.experiments.strategy import SWEEPABLE, strategy_from_mapping
from bridge.progress import NULL_JOB, Job
from bridge.projections.builder import interrupt_on_cancel

__all__ = ["Experiments", "SweepPoint", "SweepResult", "OUTPUT_KINDS"]

log = logging.getLogger(__name__)

ALERT_TYPES = ("alerts_v1", "alerts")
OHLCV_TYPES = ("ohlcv_slice",)
# (Outputs field, logical-key suffix, artifact type, result_tables key)
OUTPUT_KINDS = (
    ("trades", "trades", "experiment_trades", "trades"),
    ("metrics", "metrics", "experiment_metrics", "metrics"),
    ("curves", "equity", "experiment_equity_curve", "equity"),
    ("diagnostics", "diagnostics", "experiment_diagnostics", "diagnostics"),
    ("fills", "fills", "experiment_fills", "fills"),
    ("breakdown", "breakdown", "experiment_breakdown", "breakdown"),
)
COMPARE_METRICS = ("trade_count", "win_rate", "mean_return", "total_return", "profit_factor", "max_drawdown",
                   "sharpe", "expectancy")


class Experiments:
    """Experiments over one store. Thread-safe as the store is."""

    def __init__(self, store) -> None:
        self.store = store
        self.records = RunRecords(store)
        self.records.recover()

    # -- single run ----------------------------------------------------------------------------

    def run(self, definition: Any, *, job: Job = NULL_JOB) -> ExperimentResult:
        """Run one definition (dict, JSON, path or ExperimentDefinition) to completion.

        Raises:
            ValidationFailed: the definition is invalid (no run is recorded).
            UnknownInputArtifact, InvalidState, InvalidInput: inputs missing, wrong type, superseded
                or tombstoned, or unusable data (the run is recorded as failed).
            Cancelled: the job was cancelled (recorded as failed, nothing published).
        """
        d = _stamp(load_definition(definition))
        t0 = time.monotonic()
        run_id = self.records.create(d)
        try:
            self.records.running(run_id)
            job.progress(0, 5, "validating inputs", force=True)
            frozen = self._validate(d)
            d, frozen = self._resolve_strategy(d, frozen)
            self.records.freeze(run_id, frozen)
            job.progress(1, 5, "building projection", force=True)
            proj_id, con = self._open(d, job)
            self.records.set_projection(run_id, proj_id)
            job.progress(2, 5, "backtesting", force=True)
            with contextlib.closing(con):
                tables = self._backtest(con, d, {d.experiment_id: d.config.strategy}, frozen, job)[d.experiment_id]
            job.progress(3, 5, "publishing", force=True)
            job.check()  # the last point where cancelling leaves nothing behind
            outputs, new = self._publish(d, tables, frozen)
            self.records.complete(run_id, outputs, new, t0)
            job.progress(5, 5, "done", force=True)
        except BaseException as exc:
            self.records.fail(run_id, exc, t0)
            raise
        return self.records.get(run_id)

    # -- sweeps --------------------------------------------------------------------------------

    def sweep(self, definition: Any, grid: Mapping[str, Sequence[Any]], *, job: Job = NULL_JOB,
              validation: Any = None) -> SweepResult:
        """Run a grid of strategy parameters over one projection in one SQL pass; one run record
        per point, published only after every point is computed. With `validation` (a
        SweepValidation or its JSON dict) also the out-of-sample folds, the deflated Sharpe ratio
        and the PBO, published as an experiment_sweep_validation artifact.

        Raises: see run; ValidationFailed for a bad grid (unknown parameter, empty value list) or
        bad validation settings.
        """
        d = _stamp(load_definition(definition))
        grid = _check_grid(grid)
        settings = _validation_settings(validation)
        combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
        base_strategy = d.config.strategy if d.config.strategy is not None else self._strategies().get(
            d.inputs.strategies[0])
        base = base_strategy.to_json_dict()
        points: dict[str, tuple[ExperimentDefinition, dict[str, Any]]] = {}
        for combo in combos:
            strategy = strategy_from_mapping(_apply_grid_point(base, combo))
            pid = f"{d.experiment_id}--{_short_hash(combo)}"
            cfg = msgspec.structs.replace(d.config, strategy=strategy)
            # each point names its own strategy (published by the run), not the base's artifact
            inputs = msgspec.structs.replace(d.inputs, strategies=[])
            points[pid] = (msgspec.structs.replace(d, experiment_id=pid, config=cfg, inputs=inputs), combo)
        key: dict[str, Any] = {'experiment': d.experiment_id, 'grid': grid}
        if settings is not None:
            key["validation"] = msgspec.to_builtins(settings)
        sweep_id = f"sweep-{_short_hash(key, 16)}"
        self.records.create_sweep(sweep_id, d.experiment_id, grid)
        t0 = time.monotonic()
        run_ids = {pid: self.records.create(pd, sweep_id=sweep_id) for pid, (pd, _) in points.items()}
        done: set[str] = set()
        proj_id = None
        try:
            for rid in run_ids.values():
                self.records.running(rid)
            job.progress(0, 5, "validating inputs", force=True)
            frozen = self._validate(d)
            frozen = [f for f in frozen if f.role != "strategies"]
            point_frozen = {}
            for pid, (pd, _) in points.items():
                _, point_frozen[pid] = self._resolve_strategy(pd, frozen)
                self.records.freeze(run_ids[pid], point_frozen[pid])
            job.progress(1, 5, "building projection", force=True)
            proj_id, con = self._open(d, job)
            for rid in run_ids.values():
                self.records.set_projection(rid, proj_id)
            job.progress(2, 5, f"backtesting {len(points)} points", force=True)
            with contextlib.closing(con):
                tables = self._backtest(con, d, {pid: pd.config.strategy for pid, (pd, _) in points.items()}, frozen, job)
                checked = None
                if settings is not None:
                    from bridge.experiments.validation import alert_times, validate

                    job.progress(3, 5, "validating out of sample", force=True)
                    ids, times = alert_times(con, "p.alerts", *_date_range(d))
                    checked = validate(sweep_id, settings, ids, times, {pid: tables[pid]["trades"] for pid in points})
            job.progress(3, 5, "publishing", force=True)
            job.check()
            for pid, (pd, _) in points.items():
                outputs, new = self._publish(pd, tables[pid], point_frozen[pid])
                self.records.complete(run_ids[pid], outputs, new, t0)
                done.add(pid)
            vresult = None if checked is None else self._publish_validation(d, sweep_id, settings, checked, frozen)
        except BaseException as exc:
            for pid, rid in run_ids.items():
                if pid not in done:
                    self.records.fail(rid, exc, t0)
            raise
        job.progress(5, 5, "done", force=True)
        out = [SweepPoint(experiment_id=pid, run_id=run_ids[pid], params=combo, status="completed",
                          metrics=_compare_metrics(tables[pid]["metrics"])) for pid, (_, combo) in points.items()]
        return SweepResult(sweep_id=sweep_id, experiment_id=d.experiment_id, projection_id=proj_id, grid=grid, points=out,
                           validation=vresult)

    def _publish_validation(self, d: ExperimentDefinition, sweep_id: str, settings: SweepValidation,
                            checked: dict[str, Any], frozen: list[FrozenInput]) -> SweepValidationResult:
        from bridge.experiments.options import SweepFold, SweepOverfit
        from bridge.experiments.validation import validation_table
        from bridge.store.timeutil import iso_from_micros

        res = self.store.publish(
            "experiment_sweep_validation", 1, f"sweep={sweep_id}/validation",
            validation_table(sweep_id, checked["rows"]), input_artifact_ids=sorted({f.artifact_id for f in frozen}),
            tags={"sweep_id": sweep_id, "experiment_id": d.experiment_id}, writer_name="experiment-engine",
            writer_version=ENGINE_VERSION, git_commit=d.provenance.git_commit, git_dirty=d.provenance.git_dirty,
            params={"validation": msgspec.to_builtins(settings)})
        folds = [SweepFold(fold=f["fold"], experiment_id=f["experimentId"], in_sample=f["inSample"],
                           out_of_sample=f["outOfSample"], in_sample_from=iso_from_micros(f["inSampleFrom"]),
                           in_sample_to=iso_from_micros(f["inSampleTo"]),
                           out_of_sample_from=iso_from_micros(f["outOfSampleFrom"]),
                           out_of_sample_to=iso_from_micros(f["outOfSampleTo"])) for f in checked["folds"]]
        o = checked["overfit"]
        overfit = SweepOverfit(dsr=o["dsr"], sr=o["sr"], sr0=o["sr0"], dsr_experiment_id=o["dsrExperimentId"],
                               trials=o["trials"], observations=o["observations"], skew=o["skew"],
                               kurtosis=o["kurtosis"], dsr_reason=o["dsrReason"], pbo=o["pbo"],
                               pbo_combinations=o["pboCombinations"], cscv_blocks=o["cscvBlocks"],
                               pbo_reason=o["pboReason"])
        return SweepValidationResult(settings=settings, artifact_id=res.artifact_id, folds=folds, overfit=overfit)

    def sweep_validation(self, sweep_id: str):
        """The sweep's experiment_sweep_validation table (views.validation_artifact), or None."""
        from bridge.experiments.views import validation_artifact

        art = validation_artifact(self.store, sweep_id)
        return self.store.read_table(art.artifact_id) if art is not None else None

    # -- queries -------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> ExperimentResult:
        """A run by run id, or the latest run of an experiment id.

        Raises:
            RunNotFound: neither.
        """
        from bridge.errors import RunNotFound

        try:
            return self.records.get(run_id)
        except RunNotFound:
            latest = self.records.latest_for_experiment(run_id)
            if latest is None:
                raise
            return latest

    def list_runs(self, *, experiment_id: str | None = None, status: str | None = None,
                  sweep_id: str | None = None, limit: int = 100) -> list[ExperimentResult]:
        return self.records.list(experiment_id=experiment_id, status=status, sweep_id=sweep_id, limit=limit)

    def compare(self, sweep_id: str) -> list[SweepPoint]:
        """The comparison table of a sweep's latest completed runs, from their metrics artifacts."""
        rows = {}
        for r in reversed(self.records.list(sweep_id=sweep_id, limit=100_000)):
            rows[r.experiment_id] = r
        out = []
        for exp_id, r in sorted(rows.items()):
            metrics: dict[str, float | None] = {}
            if r.status == "completed" and r.outputs.metrics:
                metrics = _compare_metrics(self.store.read_table(r.outputs.metrics))
            d = self.records.definition(r.run_id)
            strategy = d.config.strategy or self._strategies().get(d.inputs.strategies[0])
            out.append(SweepPoint(experiment_id=exp_id, run_id=r.run_id, status=r.status, metrics=metrics,
                                  params=strategy.to_json_dict()))
        return out

    def write_report(self, run_id: str, path: Any) -> str:
        """Write the HTML report of a run (or an experiment's latest run); returns the path."""
        from bridge.experiments.report import write_report

        return str(write_report(self.store, self.get_run(run_id), path))

    def write_sweep_report(self, sweep_id: str, path: Any) -> str:
        """Write the HTML report of a sweep (points, heat map, folds, DSR, PBO); returns the path."""
        from bridge.experiments.report_sections import write_sweep_report

        return str(write_sweep_report(self, sweep_id, path))

    # -- steps ---------------------------------------------------------------------------------

    def _strategies(self):
        from bridge.experiments.strategies import Strategies

        return Strategies(self.store)

    def _resolve_strategy(self, d: ExperimentDefinition,
                          frozen: list[FrozenInput]) -> tuple[ExperimentDefinition, list[FrozenInput]]:
        """The strategy that runs, as an artifact in the frozen inputs: read from the one id in
        inputs.strategies, or the inline config.strategy published first (and then
        inputs.strategies, if given, must name exactly that artifact)."""
        strategies = self._strategies()
        listed = [f for f in frozen if f.role == "strategies"]
        if d.config.strategy is None:
            strategy = strategies.get(listed[0].artifact_id)
            d = msgspec.structs.replace(d, config=msgspec.structs.replace(d.config, strategy=strategy))
            return d, frozen
        # the inline strategy is published with the outputs (a cancelled run publishes nothing);
        # its id is known now, from its content
        artifact_id, chash = strategies.plan(d.config.strategy)
        if listed and {f.artifact_id for f in listed} != {artifact_id}:
            raise InvalidInput(
                f"config.strategy is strategy artifact {artifact_id} but inputs.strategies names "
                f"{', '.join(f.artifact_id for f in listed)}: give one of them, or the same strategy in both",
                field="inputs.strategies", artifact_id=artifact_id)
        if listed:
            return d, frozen
        return d, [*frozen, FrozenInput(role="strategies", artifact_id=artifact_id, artifact_type="strategy",
                                        content_hash=chash, status="active")]

    def _validate(self, d: ExperimentDefinition) -> list[FrozenInput]:
        from bridge.errors import ArtifactNotFound

        roles = (("alerts", d.inputs.alerts, ALERT_TYPES), ("ohlcv", d.inputs.ohlcv, OHLCV_TYPES),
                 ("strategies", d.inputs.strategies, ("strategy",)))
        missing, frozen = [], []
        for role, ids, types in roles:
            for aid in dict.fromkeys(ids):
                try:
                    art = self.store.get(aid)
                except ArtifactNotFound:
                    missing.append(aid)
                    continue
                if types is not None and art.artifact_type not in types:
                    raise InvalidInput(f"inputs.{role}: {aid} is a {art.artifact_type}, expected {' or '.join(types)}",
                                       field=f"inputs.{role}", artifact_id=aid, artifact_type=art.artifact_type)
                if art.status == "tombstoned":
                    raise InvalidState(f"inputs.{role}: {aid} is tombstoned; its data may be gone",
                                       field=f"inputs.{role}", artifact_id=aid, status=art.status)
                if art.status == "superseded" and not d.allow_superseded:
                    raise InvalidState(
                        f"inputs.{role}: {aid} is superseded by {art.superseded_by}; use the newer artifact or set "
                        "allowSuperseded", field=f"inputs.{role}", artifact_id=aid, superseded_by=art.superseded_by)
                frozen.append(FrozenInput(role=role, artifact_id=aid, artifact_type=art.artifact_type,
                                          content_hash=art.content_hash, status=art.status))
        if missing:
            raise UnknownInputArtifact(missing)
        alert_types = {f.artifact_type for f in frozen if f.role == "alerts"}
        if len(alert_types) > 1:
            raise InvalidInput(f"inputs.alerts mixes artifact types {sorted(alert_types)}; use one type",
                               field="inputs.alerts")
        return frozen

    def _open(self, d: ExperimentDefinition, job: Job):
        """(projection id, an in-memory DuckDB connection with the projection attached read-only as `p`)."""
        import duckdb

        from bridge.projections import Projections

        info = Projections(self.store).build({"alerts": list(dict.fromkeys(d.inputs.alerts)),
                                              "candles": list(dict.fromkeys(d.inputs.ohlcv))}, job=job)
        con = duckdb.connect()
        path = str(info.duckdb_path).replace("'", "''")
        con.execute(f"ATTACH '{path}' AS p (READ_ONLY)")
        return info.projection_id, con

    def _backtest(self, con, d: ExperimentDefinition, strategies: Mapping[str, Any], frozen: list[FrozenInput],
                  job: Job) -> dict[str, dict[str, Any]]:
        import duckdb

        from bridge.experiments.engine import run_grid
        from bridge.experiments.metrics import result_tables

        lo, hi = _date_range(d)
        with interrupt_on_cancel(con, job):
            try:
                results = run_grid(con, "p.alerts", "p.candles", strategies, date_from_us=lo, date_to_us=hi, job=job)
            except duckdb.InterruptException:
                raise Cancelled() from None
        computed_at = self._computed_at(d, frozen)
        from bridge.experiments.analysis import extend_tables

        cache: dict = {}
        return {k: extend_tables(con, d, r, result_tables(r, computed_at), computed_at, alerts_src="p.alerts",
                                 candles_src="p.candles", cache=cache) for k, r in results.items()}

    def _computed_at(self, d: ExperimentDefinition, frozen: list[FrozenInput]) -> datetime:
        from bridge.store.timeutil import parse_iso

        if d.provenance.created_at:
            try:
                return parse_iso(d.provenance.created_at)
            except ValueError:
                raise ValidationFailed("provenance.createdAt is not ISO-8601", column="provenance.createdAt",
                                       value=d.provenance.created_at) from None
        # data inputs only: a strategy artifact published by this run must not change computed_at
        return max(parse_iso(self.store.get(f.artifact_id).created_at) for f in frozen if f.role != "strategies")

    def _publish(self, d: ExperimentDefinition, tables: dict[str, Any], frozen: list[FrozenInput]) -> tuple[Outputs, int]:
        from bridge.experiments.analysis import schema_version_for

        inputs = sorted({f.artifact_id for f in frozen})
        ids: dict[str, str] = {}
        created: list[str] = []
        try:
            if d.config.strategy is not None and not d.inputs.strategies:
                ref = self._strategies().publish(d.config.strategy, git_commit=d.provenance.git_commit,
                                                 git_dirty=d.provenance.git_dirty)
                if not ref.deduped:
                    created.append(ref.artifact_id)
            for field, suffix, artifact_type, key in OUTPUT_KINDS:
                if key not in tables:
                    continue
                res = self.store.publish(
                    artifact_type, schema_version_for(artifact_type, tables[key]),
                    f"experiment={d.experiment_id}/{suffix}", tables[key],
                    input_artifact_ids=inputs, tags={"experiment_id": d.experiment_id},
                    writer_name="experiment-engine", writer_version=ENGINE_VERSION,
                    git_commit=d.provenance.git_commit, git_dirty=d.provenance.git_dirty,
                    params=config_builtins(d.config))
                ids[field] = res.artifact_id
                if not res.deduped:
                    created.append(res.artifact_id)
        except BaseException:
            for aid in created:
                with contextlib.suppress(Exception):
                    self.store.tombstone(aid, f"experiment {d.experiment_id}: run failed while publishing")
            raise
        return Outputs(**ids), len([a for a in created if a in ids.values()])


def _stamp(d: ExperimentDefinition) -> ExperimentDefinition:
    """Record the engine version that really runs (a definition may name another one)."""
    if d.provenance.engine_version == ENGINE_VERSION:
        return d
    if d.provenance.engine_version is not None:
        log.warning("definition %s names engine %s; running engine %s", d.experiment_id,
                    d.provenance.engine_version, ENGINE_VERSION)
    return msgspec.structs.replace(d, provenance=msgspec.structs.replace(d.provenance, engine_version=ENGINE_VERSION))


def _date_range(d: ExperimentDefinition) -> tuple[int | None, int | None]:
    from bridge.experiments.definition import date_range_micros

    return date_range_micros(d)


_LEG_PATH = re.compile(r"^ladder\.(\d+)\.(takeProfitPct|sizePct|take_profit_pct|size_pct)$")
# a value inside a signal: entrySignal.conditions.0.value, exitSignal.groups.0.conditions.1.params.period,
# ladder.1.signal.conditions.0.value (docs/signals.md, "Sweeps")
_SIGNAL_PATH = re.compile(r"^(entrySignal|exitSignal|ladder\.\d+\.signal)\.([A-Za-z0-9_.]+)$")


def _validation_settings(validation: Any) -> SweepValidation | None:
    if validation is None or isinstance(validation, SweepValidation):
        return None if validation is None else validation.validate()
    try:
        return msgspec.convert(validation, SweepValidation).validate()
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"invalid validation settings: {exc}", column="validation") from None


def _check_grid(grid: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """Grid axes: strategy fields (camelCase or snake_case), or a ladder leg's field by path,
    `ladder.0.takeProfitPct` / `ladder.1.sizePct`."""
    from bridge.experiments.strategy import _camel

    if not isinstance(grid, Mapping) or not grid:
        raise ValidationFailed("a sweep grid maps strategy parameters to lists of values", column="grid")
    allowed = {_camel(f) for f in SWEEPABLE}
    out: dict[str, list[Any]] = {}
    for key, values in grid.items():
        leg = _LEG_PATH.match(key)
        if _SIGNAL_PATH.match(key):
            name = key
        else:
            name = f"ladder.{leg.group(1)}.{_camel(leg.group(2))}" if leg else _camel(key)
        if not leg and not _SIGNAL_PATH.match(key) and (name not in allowed or name == "ladder"):
            raise ValidationFailed(f"grid: {key!r} is not a sweepable strategy parameter ({', '.join(sorted(allowed))}, "
                                   "or a ladder leg's field as ladder.N.takeProfitPct / ladder.N.sizePct, "
                                   "or a value inside a signal as entrySignal.conditions.0.value)",
                                   column=f"grid.{key}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValidationFailed(f"grid.{key} must be a non-empty list", column=f"grid.{key}")
        out[name] = list(values)
    from bridge.store.limits import check_json_size

    check_json_size(out, "grid")  # stored with the sweep: the manifest's JSON limit
    return out


def _apply_grid_point(base: dict[str, Any], combo: Mapping[str, Any]) -> dict[str, Any]:
    """The base strategy JSON with one grid point's values set (ladder legs by path)."""
    out = dict(base)
    for key, value in combo.items():
        if _SIGNAL_PATH.match(key):
            out = _set_signal_path(out, key, value)
            continue
        leg = _LEG_PATH.match(key)
        if not leg:
            out[key] = value
            continue
        i = int(leg.group(1))
        legs = [dict(x) for x in (out.get("ladder") or [])]
        if not legs and out.get("takeProfitPct") is not None:
            legs = [{"takeProfitPct": out.pop("takeProfitPct"), "sizePct": 100.0}]
        if i >= len(legs):
            raise ValidationFailed(f"grid: {key!r} names leg {i} but the strategy's ladder has {len(legs)} leg(s)",
                                   column=f"grid.{key}")
        legs[i][leg.group(2)] = value
        out["ladder"] = legs
        out.pop("takeProfitPct", None)
    return out


def _set_signal_path(base: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of the strategy JSON with the value at a signal path set. Every step must exist,
    except the last key inside `params`/`secondaryParams` (a parameter left at its default)."""
    import copy

    out = copy.deepcopy(base)
    parts = key.split(".")
    node: Any = out
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[:i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ValidationFailed(f"grid: {key!r}: {where} does not exist (the list has {len(node)} item(s))",
                                       column=f"grid.{key}")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                if part not in node and parts[i - 1] not in ("params", "secondaryParams") and part not in (
                        "value", "lookbackBars", "minBarsTrue"):
                    raise ValidationFailed(f"grid: {key!r}: {where} does not exist in the strategy",
                                           column=f"grid.{key}")
                node[part] = value
            else:
                if node.get(part) is None and parts[i] in ("params", "secondaryParams"):
                    node[part] = {}
                if node.get(part) is None:
                    raise ValidationFailed(f"grid: {key!r}: {where} does not exist in the strategy",
                                           column=f"grid.{key}")
                node = node[part]
        else:
            raise ValidationFailed(f"grid: {key!r}: {'.'.join(parts[:i])} is a value, not an object",
                                   column=f"grid.{key}")
    return out


def _short_hash(obj: Any, n: int = 8) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()[:n]


def _compare_metrics(metrics_table) -> dict[str, float | None]:
    values = dict(zip(metrics_table.column("metric_name").to_pylist(), metrics_table.column("metric_value").to_pylist()))
    return {k: values.get(k) for k in COMPARE_METRICS}

