"""Experiment methods on the wire: runExperiment, runSweep (long-running, progress + cancel),
listRuns, getRun, writeReport.

The definition and result types are the domain's own msgspec Structs (camelCase, unknown fields
refused): bridge.experiments.definition.ExperimentDefinition / ExperimentResult and
bridge.experiments.definition.SweepResult. Handlers are thin and import the domain inside, so the
daemon starts without DuckDB or pyarrow. DECLARATIONS name each method once; METHODS turns them
into bridge.api._method.Method objects.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from bridge.api._method import Method, Wire
from bridge.errors import (
    ArtifactNotFound,
    Busy,
    Cancelled,
    InvalidInput,
    InvalidState,
    RunNotFound,
    UnknownInputArtifact,
    ValidationFailed,
)
from bridge.experiments.definition import ExperimentDefinition, ExperimentResult, SweepResult
from bridge.experiments.options import SweepValidation

__all__ = [
    "DECLARATIONS",
    "METHODS",
    "GetRunParams",
    "ListRunsParams",
    "ListRunsResult",
    "RunExperimentParams",
    "RunSweepParams",
    "WriteReportParams",
    "WriteReportResult",
    "WriteSweepReportParams",
    "WriteSweepReportResult",
    "get_run",
    "list_runs",
    "run_experiment",
    "run_sweep",
    "write_report",
    "write_sweep_report",
]




class RunExperimentParams(Wire):
    """Run a definition; optionally also write its HTML report to `reportPath`."""

    definition: ExperimentDefinition
    report_path: str | None = None


class RunSweepParams(Wire):
    """A grid of strategy parameters (camelCase names, e.g. takeProfitPct) → value lists; with
    `validation`, the out-of-sample folds, deflated Sharpe ratio and PBO too."""

    definition: ExperimentDefinition
    grid: dict[str, list[Any]]
    validation: SweepValidation | None = None


class ListRunsParams(Wire):
    experiment_id: str | None = None
    status: Literal["pending", "running", "completed", "failed"] | None = None
    sweep_id: str | None = None
    limit: int = msgspec.field(default=100)


class ListRunsResult(Wire):
    runs: list[ExperimentResult]


class GetRunParams(Wire):
    """A run id, or an experiment id (its latest run)."""

    run_id: str


class WriteReportParams(Wire):
    """`path`: where to write the HTML (default: <lake>/reports/<experimentId>.html)."""

    run_id: str
    path: str | None = None


class WriteReportResult(Wire):
    run_id: str
    experiment_id: str
    path: str


class WriteSweepReportParams(Wire):
    """`path`: where to write the HTML (default: <lake>/reports/<sweepId>.html)."""

    sweep_id: str
    path: str | None = None


class WriteSweepReportResult(Wire):
    sweep_id: str
    path: str


# -- handlers ----------------------------------------------------------------------------------


def _job(ctx):
    from bridge.progress import NULL_JOB

    return getattr(ctx, "job", None) or NULL_JOB


def _experiments(ctx):
    from bridge.experiments.runner import Experiments

    return Experiments(ctx.store)


def run_experiment(ctx, params: RunExperimentParams) -> ExperimentResult:
    exps = _experiments(ctx)
    res = exps.run(params.definition, job=_job(ctx))
    if params.report_path:
        exps.write_report(res.run_id, params.report_path)
    return res


def run_sweep(ctx, params: RunSweepParams) -> SweepResult:
    return _experiments(ctx).sweep(params.definition, params.grid, job=_job(ctx), validation=params.validation)


def list_runs(ctx, params: ListRunsParams) -> ListRunsResult:
    if params.limit < 1 or params.limit > 10_000:
        raise ValidationFailed("limit must be between 1 and 10000", column="limit", value=params.limit)
    runs = _experiments(ctx).list_runs(experiment_id=params.experiment_id, status=params.status,
                                       sweep_id=params.sweep_id, limit=params.limit)
    return ListRunsResult(runs=runs)


def get_run(ctx, params: GetRunParams) -> ExperimentResult:
    return _experiments(ctx).get_run(params.run_id)


def write_report(ctx, params: WriteReportParams) -> WriteReportResult:
    exps = _experiments(ctx)
    run = exps.get_run(params.run_id)
    path = params.path or str(ctx.store.lake.root / "reports" / f"{run.experiment_id}.html")
    return WriteReportResult(run_id=run.run_id, experiment_id=run.experiment_id, path=exps.write_report(run.run_id, path))


def write_sweep_report(ctx, params: WriteSweepReportParams) -> WriteSweepReportResult:
    path = params.path or str(ctx.store.lake.root / "reports" / f"{params.sweep_id}.html")
    return WriteSweepReportResult(sweep_id=params.sweep_id,
                                  path=_experiments(ctx).write_sweep_report(params.sweep_id, path))


# -- declarations ------------------------------------------------------------------------------

_RUN_ERRORS = (ValidationFailed, UnknownInputArtifact, InvalidState, InvalidInput, ArtifactNotFound, Busy, Cancelled)

DECLARATIONS: list[dict[str, Any]] = [
    dict(name="runExperiment", params=RunExperimentParams, result=ExperimentResult, errors=_RUN_ERRORS,
         handler=run_experiment, long_running=True,
         doc="Validate and freeze the inputs, build or reuse their projection, backtest, publish trades, metrics, "
             "equity curve and diagnostics with lineage, and record the run (pending → running → completed | "
             "failed). Cancel leaves no outputs; re-running the same definition publishes nothing new."),
    dict(name="runSweep", params=RunSweepParams, result=SweepResult, errors=_RUN_ERRORS,
         handler=run_sweep, long_running=True,
         doc="Run a grid of strategy parameters over one projection in one SQL pass; one run record per point "
             "(experiment id <id>--<hash>) and a comparison of their metrics; with `validation`, the best point "
             "chosen in-sample and evaluated out-of-sample per fold, the deflated Sharpe ratio and the PBO, "
             "published as an experiment_sweep_validation artifact."),
    dict(name="listRuns", params=ListRunsParams, result=ListRunsResult, errors=(ValidationFailed,),
         handler=list_runs, long_running=False, doc="Experiment runs, newest first, with inputs and outputs."),
    dict(name="getRun", params=GetRunParams, result=ExperimentResult, errors=(RunNotFound,),
         handler=get_run, long_running=False, doc="One run (or an experiment's latest run) with inputs and outputs."),
    dict(name="writeReport", params=WriteReportParams, result=WriteReportResult,
         errors=(RunNotFound, ArtifactNotFound, ValidationFailed), handler=write_report, long_running=True,
         doc="Write a self-contained HTML report (equity and drawdown SVG, metrics, trades, lineage)."),
    dict(name="writeSweepReport", params=WriteSweepReportParams, result=WriteSweepReportResult,
         errors=(RunNotFound, ArtifactNotFound, ValidationFailed), handler=write_sweep_report, long_running=True,
         doc="Write a self-contained HTML report of a sweep: the points, a heat map of two parameters, the "
             "in-sample vs out-of-sample folds, the deflated Sharpe ratio and the PBO."),
]


METHODS = [Method(**d) for d in DECLARATIONS]
