"""OHLCV methods on the wire: loadCandles, exportSlice, exportSlicesForAlerts, sliceCoverage,
alertForwardCoverage.

The results are bridge.ohlcv's own Structs (camelCase on the wire, declared once, returned as
they are; the coverage results are the totals and first rows of the domain's Arrow tables). Times are ISO-8601 UTC with `Z`, durations
text like `90s`, `30m`, `24h`, `2d`. Every method takes an optional `source` (DSN, table, column
mapping); by default the lake's embedded chDB. Handlers are thin and import the domain inside
(chDB, pyarrow and DuckDB load only when a candle method runs). Long methods (loadCandles,
exportSlice, exportSlicesForAlerts, the coverage ones) report progress and honour cancel through
`ctx.job`. METHODS declares each method once (bridge/api/_method.py).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from bridge.api._method import Method, Wire
from bridge.errors import ArtifactNotFound, Busy, Cancelled, InvalidInput, SourceUnavailable, ValidationFailed
from bridge.ohlcv.coverage import (
    AlertCoverageResult,
    AlertCoverageRow,
    CoverageGapRow,
    CoverageSummaryRow,
    SliceCoverageResult,
)
from bridge.ohlcv.load import FileLoad, LoadCandlesResult
from bridge.ohlcv.slices import BatchExportResult, SliceResult

__all__ = [
    "METHODS",
    "AlertCoverageParams",
    "AlertCoverageResult",
    "AlertCoverageRow",
    "BatchExportResult",
    "CoverageGapRow",
    "CoverageSummaryRow",
    "ExportSliceParams",
    "ExportSlicesForAlertsParams",
    "FileLoad",
    "LoadCandlesParams",
    "LoadCandlesResult",
    "SliceCoverageParams",
    "SliceCoverageResult",
    "SliceResult",
    "SourceParams",
    "alert_forward_coverage",
    "export_slice",
    "export_slices_for_alerts",
    "load_candles",
    "slice_coverage",
]


# -- params ------------------------------------------------------------------------------------


class SourceParams(Wire):
    """Where candles live. `dsn`: chdb:///abs/path or http(s)://user:password@host:port/db
    (default: the lake's chDB). `columns`: candle field → source column (chain may be null)."""

    dsn: str | None = None
    table: str = "candles"
    columns: dict[str, str | None] = {}
    final: bool = True


class LoadCandlesParams(Wire):
    paths: list[str]
    token: str | None = None
    chain: str | None = None
    interval: str | None = None
    ts_unit: Literal["s", "ms", "us"] | None = None
    source: SourceParams | None = None


class ExportSliceParams(Wire):
    """One slice: candles of `token` at `resolution` with from <= ts < to."""

    token: str
    resolution: str
    from_: str = msgspec.field(name="from")
    to: str
    chain: str | None = None
    refresh: bool = False
    source: SourceParams | None = None


class ExportSlicesForAlertsParams(Wire):
    alerts_artifact_id: str
    resolution: str = "1m"
    before: str = "1h"
    after: str = "24h"
    refresh: bool = False
    source: SourceParams | None = None


class SliceCoverageParams(Wire):
    slice_ids: list[str]
    publish: bool = True
    max_rows: int = 1000


class AlertCoverageParams(Wire):
    alerts_artifact_id: str
    horizon: str = "24h"
    resolution: str = "1m"
    slice_ids: list[str] | None = None
    publish: bool = True
    max_rows: int = 1000


# -- handlers ----------------------------------------------------------------------------------


def _job(ctx):
    from bridge.progress import NULL_JOB

    return getattr(ctx, "job", None) or NULL_JOB


def _source(ctx, params: SourceParams | None):
    from bridge.ohlcv.source import CandleSource

    p = params or SourceParams()
    return CandleSource.for_lake(ctx.lake, p.dsn, table=p.table, columns=dict(p.columns), final=p.final)


def load_candles(ctx, params: LoadCandlesParams) -> LoadCandlesResult:
    from bridge.ohlcv.load import load_candles as load

    return load(_source(ctx, params.source), params.paths, token=params.token, chain=params.chain,
                interval=params.interval, ts_unit=params.ts_unit, job=_job(ctx))


def export_slice(ctx, params: ExportSliceParams) -> SliceResult:
    from bridge.ohlcv.slices import export_slice as export

    return export(ctx.store, _source(ctx, params.source), params.token, params.chain, params.resolution,
                  params.from_, params.to, refresh=params.refresh, job=_job(ctx))


def export_slices_for_alerts(ctx, params: ExportSlicesForAlertsParams) -> BatchExportResult:
    from bridge.ohlcv.slices import export_slices_for_alerts as export

    return export(ctx.store, _source(ctx, params.source), params.alerts_artifact_id, params.before, params.after,
                  params.resolution, refresh=params.refresh, job=_job(ctx))


def slice_coverage(ctx, params: SliceCoverageParams) -> SliceCoverageResult:
    from bridge.ohlcv.coverage import slice_coverage as coverage

    return coverage(ctx.store, params.slice_ids, publish=params.publish, job=_job(ctx)).result(params.max_rows)


def alert_forward_coverage(ctx, params: AlertCoverageParams) -> AlertCoverageResult:
    from bridge.ohlcv.coverage import alert_forward_coverage as coverage

    cov = coverage(ctx.store, params.alerts_artifact_id, params.horizon, params.resolution,
                   slice_ids=params.slice_ids, publish=params.publish, job=_job(ctx))
    return cov.result(params.max_rows)


# -- declarations ------------------------------------------------------------------------------

_SOURCE_ERRORS = (InvalidInput, ValidationFailed, SourceUnavailable, Busy, Cancelled)
_STORE_ERRORS = (ArtifactNotFound, InvalidInput, ValidationFailed, Cancelled)

METHODS = [
    Method("loadCandles", LoadCandlesParams, LoadCandlesResult, load_candles, errors=_SOURCE_ERRORS,
           long_running=True,
           doc="Load candle CSV/Parquet files into the candle source's table (idempotent: ReplacingMergeTree "
               "+ FINAL)."),
    Method("exportSlice", ExportSliceParams, SliceResult, export_slice, errors=_SOURCE_ERRORS, long_running=True,
           doc="Export candles of one token at one resolution over [from, to) as an ohlcv_slice v2 artifact "
               "(broken candles to ohlcv_quarantine); an active slice with the same key is reused without a query."),
    Method("exportSlicesForAlerts", ExportSlicesForAlertsParams, BatchExportResult, export_slices_for_alerts,
           errors=(ArtifactNotFound, *_SOURCE_ERRORS), long_running=True,
           doc="One slice per merged window [alert - before, alert + after) around the alerts of an alerts "
               "artifact."),
    Method("sliceCoverage", SliceCoverageParams, SliceCoverageResult, slice_coverage, errors=_STORE_ERRORS,
           long_running=True,
           doc="Expected vs present candles, gaps, duplicates and off-grid candles of slices; published as "
               "coverage_summary + coverage_gaps."),
    Method("alertForwardCoverage", AlertCoverageParams, AlertCoverageResult, alert_forward_coverage,
           errors=_STORE_ERRORS, long_running=True,
           doc="For each alert: is [alert_ts, alert_ts + horizon] covered by candles; published as "
               "alert_forward_coverage."),
]
