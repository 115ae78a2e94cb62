"""OHLCV slices (FR-5): candles from ClickHouse (chDB embedded by default, or a server over HTTP,
both through clickhouse-connect) → validated `ohlcv_slice` v2 artifacts, quarantine, coverage.

    from bridge.store import Store
    from bridge.ohlcv import CandleSource, load_candles, export_slice, slice_coverage
    store = Store("./lake")
    source = CandleSource.for_lake(store.lake)            # chdb://<lake>/sources/chdb
    load_candles(source, ["candles.parquet"])
    res = export_slice(store, source, "TokA", "solana", "1m", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z")
    cov = slice_coverage(store, [res.artifact_id])

Importing this package is cheap: pyarrow, DuckDB, clickhouse-connect and chDB load only when a
function needs them. docs/ohlcv.md has the details.
"""

from bridge.ohlcv.coverage import AlertCoverage, SliceCoverage, alert_forward_coverage, slice_coverage
from bridge.ohlcv.grid import Resolution, TimeRange, parse_resolution, slice_logical_key
from bridge.ohlcv.load import LoadCandlesResult, load_candles
from bridge.ohlcv.sample import generate_candles, write_candles
from bridge.ohlcv.slices import BatchExportResult, SliceResult, export_slice, export_slices_for_alerts
from bridge.ohlcv.source import CandleSource, ColumnMap, SourceConfig, default_dsn, parse_dsn

__all__ = [
    "AlertCoverage",
    "BatchExportResult",
    "CandleSource",
    "ColumnMap",
    "LoadCandlesResult",
    "Resolution",
    "SliceCoverage",
    "SliceResult",
    "SourceConfig",
    "TimeRange",
    "alert_forward_coverage",
    "default_dsn",
    "export_slice",
    "export_slices_for_alerts",
    "generate_candles",
    "load_candles",
    "parse_dsn",
    "parse_resolution",
    "slice_coverage",
    "slice_logical_key",
    "write_candles",
]
