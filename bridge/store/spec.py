"""The artifact type registry: every artifact type, declared once.

A spec fixes, for one (artifact_type, schema_version): the columns (name, logical type,
nullability) in canonical order, the timestamp column that gives min_ts/max_ts, the sort key
that gives canonical row order, columns that may be filled from the logical key, the unique key,
row rules, and whether the type is derived (must declare input artifacts, PRD invariant 4).

Logical types are strings so this module imports without pyarrow (daemon cold start):
    string, int64, float64, bool, timestamp   (timestamp = microseconds, UTC)

The declarations are msgspec Structs, snake_case in Python and camelCase when encoded: they are
also the RPC contract's types (listArtifactTypes returns them as they are), so each field is
declared once.
"""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

__all__ = [
    "ArtifactSpec",
    "ArtifactTypeSpec",
    "Column",
    "ColumnSpec",
    "RowRule",
    "get_spec",
    "known_types",
    "latest_spec",
    "register",
    "SPECS",
]

LogicalType = Literal["string", "int64", "float64", "bool", "timestamp"]
LOGICAL_TYPES: tuple[str, ...] = get_args(LogicalType)


class ColumnSpec(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """One column: name, logical type, nullability, what it holds."""

    name: str
    type: LogicalType
    nullable: bool
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in LOGICAL_TYPES:
            raise ValueError(f"column {self.name}: unknown logical type {self.type!r}")


class RowRule(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """A row rule: a DuckDB SQL boolean expression that must hold for every row (NULL counts as held)."""

    name: str
    sql: str
    doc: str


class ArtifactTypeSpec(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """One artifact type at one schema version: columns in canonical order, the sort key (canonical
    row order), the timestamp column (minTs/maxTs), the unique key, the columns filled from the
    logical key (column → key segment), row rules, whether the type is derived (needs input
    artifacts) and whether it is a quarantine type (rejected rows, with reasons)."""

    artifact_type: str
    schema_version: int
    columns: tuple[ColumnSpec, ...]
    sort_key: tuple[str, ...]
    ts_column: str | None = None
    unique_key: tuple[str, ...] = ()
    # column name -> logical-key segment name: `token=ABC/res=1m/...` fills column `token` from `token`.
    key_columns: dict[str, str] = {}
    rules: tuple[RowRule, ...] = ()
    derived: bool = False
    quarantine: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.artifact_type}: duplicate column names")
        for col in (*self.sort_key, *self.unique_key, *self.key_columns, *([self.ts_column] if self.ts_column else [])):
            if col not in names:
                raise ValueError(f"{self.artifact_type}: {col!r} is not a column")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def dir_name(self) -> str:
        """Folder under artifacts/: `<type>/v<version>`; quarantine types under `_quarantine/`."""
        base = f"{self.artifact_type}/v{self.schema_version}"
        return f"_quarantine/{base}" if self.quarantine else base


# The short names the store's modules use for the same two types.
ArtifactSpec = ArtifactTypeSpec
Column = ColumnSpec

SPECS: dict[tuple[str, int], ArtifactSpec] = {}


def register(spec: ArtifactSpec) -> ArtifactSpec:
    key = (spec.artifact_type, spec.schema_version)
    if key in SPECS:
        raise ValueError(f"artifact type {key} registered twice")
    SPECS[key] = spec
    return spec


def known_types() -> list[str]:
    return sorted(f"{t}@v{v}" for t, v in SPECS)


def get_spec(artifact_type: str, schema_version: int) -> ArtifactSpec:
    """Raises:
    UnknownArtifactType: no such (type, version) is registered.
    """
    spec = SPECS.get((artifact_type, schema_version))
    if spec is None:
        from bridge.errors import UnknownArtifactType

        raise UnknownArtifactType(artifact_type, schema_version, known_types())
    return spec


def latest_spec(artifact_type: str) -> ArtifactSpec:
    versions = [v for t, v in SPECS if t == artifact_type]
    if not versions:
        from bridge.errors import UnknownArtifactType

        raise UnknownArtifactType(artifact_type, None, known_types())
    return SPECS[(artifact_type, max(versions))]


def C(name: str, type_: LogicalType, nullable: bool = False, doc: str = "") -> ColumnSpec:
    return ColumnSpec(name, type_, nullable, doc)


# ---------------------------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------------------------

register(ArtifactSpec(
    "alerts_v1", 1,
    columns=(
        C("alert_id", "string", doc="sha256(chat_id|message_id|token_address)[:32]"),
        C("alert_ts", "timestamp", doc="alert time, UTC"),
        C("chat_id", "string"),
        C("chat_name", "string", True),
        C("chat_type", "string", True),
        C("message_id", "int64"),
        C("caller_name", "string", True),
        C("caller_id", "string", True),
        C("author_signature", "string", True, "channel post signature"),
        C("token_address", "string"),
        C("chain", "string", doc="solana | ethereum | base | bsc | ... | unknown"),
        C("found_in", "string", doc="text | code | link | button"),
        C("is_forwarded", "bool"),
        C("forwarded_from", "string", True),
        C("reply_to_message_id", "int64", True),
        C("is_edited", "bool"),
        C("edited_ts", "timestamp", True),
        C("text", "string"),
    ),
    sort_key=("alert_ts", "alert_id"),
    ts_column="alert_ts",
    unique_key=("alert_id",),
    doc="Canonical alert events from Telegram call channels.",
))

register(ArtifactSpec(
    "alerts", 1,
    columns=(
        C("alert_id", "string"),
        C("alert_ts", "timestamp"),
        C("token_address", "string"),
        C("chain", "string"),
        C("caller", "string", True),
        C("source", "string", True),
        C("text", "string", True),
    ),
    sort_key=("alert_ts", "alert_id"),
    ts_column="alert_ts",
    unique_key=("alert_id",),
    doc="Generic alert schema (minimal columns).",
))

register(ArtifactSpec(
    "alerts_quarantine", 1,
    columns=(
        C("chat_id", "string", True),
        C("message_id", "int64", True),
        C("alert_ts", "timestamp", True),
        C("token_candidate", "string", True),
        C("reason", "string", doc="machine-readable reason code"),
        C("detail", "string", True),
        C("text", "string", True),
    ),
    sort_key=("chat_id", "message_id", "token_candidate", "reason"),
    ts_column="alert_ts",
    derived=True,
    quarantine=True,
    doc="Candidate alerts rejected by validation, with reason codes.",
))

# ---------------------------------------------------------------------------------------------
# OHLCV
# ---------------------------------------------------------------------------------------------

_CANDLE_RULES = (
    RowRule("high_ge_open_close", "high >= greatest(open, close)", "high >= max(open, close)"),
    RowRule("low_le_open_close", "low <= least(open, close)", "low <= min(open, close)"),
    RowRule("volume_non_negative", "volume >= 0", "volume >= 0"),
)

register(ArtifactSpec(
    "ohlcv_slice", 2,
    columns=(
        C("token", "string", doc="token address; filled from the logical key's token= when absent"),
        C("resolution", "string", doc="candle interval (1s, 1m, 5m, 1h, ...); from res= when absent"),
        C("ts", "timestamp", doc="candle open time, UTC"),
        C("open", "float64"),
        C("high", "float64"),
        C("low", "float64"),
        C("close", "float64"),
        C("volume", "float64"),
    ),
    sort_key=("token", "resolution", "ts"),
    ts_column="ts",
    unique_key=("token", "resolution", "ts"),
    key_columns={"token": "token", "resolution": "res"},
    rules=_CANDLE_RULES,
    doc="OHLCV candles of one or more tokens at one resolution.",
))

register(ArtifactSpec(
    "ohlcv_quarantine", 1,
    columns=(
        C("token", "string"),
        C("resolution", "string"),
        C("ts", "timestamp"),
        C("open", "float64", True),
        C("high", "float64", True),
        C("low", "float64", True),
        C("close", "float64", True),
        C("volume", "float64", True),
        C("reason", "string"),
    ),
    sort_key=("token", "resolution", "ts", "reason"),
    ts_column="ts",
    derived=False,
    quarantine=True,
    doc="Candles rejected by validation (OHLC invariants, duplicate timestamps).",
))

# ---------------------------------------------------------------------------------------------
# Coverage
# ---------------------------------------------------------------------------------------------

register(ArtifactSpec(
    "coverage_summary", 1,
    columns=(
        C("token", "string"),
        C("resolution", "string"),
        C("from_ts", "timestamp"),
        C("to_ts", "timestamp"),
        C("expected", "int64"),
        C("present", "int64"),
        C("missing", "int64"),
        C("duplicates", "int64"),
        C("off_grid", "int64"),
        C("coverage_ratio", "float64"),
    ),
    sort_key=("token", "resolution", "from_ts"),
    ts_column="from_ts",
    derived=True,
))

register(ArtifactSpec(
    "coverage_gaps", 1,
    columns=(
        C("token", "string"),
        C("resolution", "string"),
        C("gap_start", "timestamp"),
        C("gap_end", "timestamp", doc="exclusive"),
        C("missing_count", "int64"),
    ),
    sort_key=("token", "resolution", "gap_start"),
    ts_column="gap_start",
    derived=True,
))

register(ArtifactSpec(
    "alert_forward_coverage", 1,
    columns=(
        C("alert_id", "string"),
        C("token", "string"),
        C("chain", "string"),
        C("alert_ts", "timestamp"),
        C("horizon_end", "timestamp"),
        C("expected", "int64"),
        C("present", "int64"),
        C("coverage_ratio", "float64"),
        C("fully_covered", "bool"),
    ),
    sort_key=("alert_ts", "alert_id"),
    ts_column="alert_ts",
    unique_key=("alert_id",),
    derived=True,
))

# ---------------------------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------------------------

register(ArtifactSpec(
    "run_metrics", 1,
    columns=(
        C("run_id", "string"),
        C("metric_name", "string"),
        C("metric_value", "float64", True),
        C("metric_unit", "string", True),
        C("computed_at", "timestamp"),
    ),
    sort_key=("run_id", "metric_name"),
    unique_key=("run_id", "metric_name"),
    ts_column="computed_at",
))

register(ArtifactSpec(
    "experiment_trades", 1,
    columns=(
        C("experiment_id", "string"),
        C("alert_id", "string"),
        C("trade_id", "string"),
        C("token", "string"),
        C("chain", "string"),
        C("entry_ts", "timestamp"),
        C("exit_ts", "timestamp"),
        C("entry_price", "float64"),
        C("exit_price", "float64"),
        C("pnl", "float64"),
        C("pnl_pct", "float64"),
        C("duration_ms", "int64"),
        C("exit_reason", "string", doc="take_profit | stop_loss | trailing_stop | break_even | max_hold | end_of_data: "
          "the reason of the last fill"),
    ),
    sort_key=("entry_ts", "trade_id"),
    ts_column="entry_ts",
    unique_key=("trade_id",),
    derived=True,
))

register(ArtifactSpec(
    "experiment_fills", 1,
    columns=(
        C("experiment_id", "string"),
        C("alert_id", "string"),
        C("trade_id", "string"),
        C("fill_seq", "int64", doc="order of the fill within its trade, from 0 (the first entry)"),
        C("cycle", "int64", doc="0: the first position; k: the k-th re-entry"),
        C("side", "string", doc="buy | sell"),
        C("reason", "string",
          doc="entry | re_entry | take_profit | stop_loss | trailing_stop | break_even | max_hold | end_of_data"),
        C("leg", "int64", True, "ladder leg index (take_profit fills only)"),
        C("ts", "timestamp", doc="when the fill happened: the candle's open time, or its close time at end of data"),
        C("level", "float64", True, "the order level (target, stop, dip or re-entry price) before gaps and slippage"),
        C("price", "float64", doc="fill price after slippage"),
        C("qty", "float64", doc="units bought or sold"),
        C("notional", "float64", doc="qty × price"),
        C("fee", "float64", doc="fee paid on this fill (quote)"),
    ),
    sort_key=("trade_id", "fill_seq"),
    ts_column="ts",
    unique_key=("trade_id", "fill_seq"),
    derived=True,
    doc="One row per fill of an experiment's trades: entries, each ladder leg, stops, time exits, re-entries.",
))

register(ArtifactSpec(
    "strategy", 1,
    columns=(
        C("name", "string"),
        C("strategy_json", "string", doc="the strategy's canonical JSON (sorted keys, no spaces, camelCase)"),
        C("strategy_hash", "string", doc="SHA-256 of strategy_json"),
    ),
    sort_key=("name",),
    unique_key=("name",),
    doc="One strategy (bridge.experiments.strategy.StrategyConfig), content-addressed: the logical key "
        "strategy=<first 16 hex of strategy_hash>, so the same strategy is one artifact.",
))

register(ArtifactSpec(
    "experiment_metrics", 1,
    columns=(
        C("experiment_id", "string"),
        C("metric_name", "string"),
        C("metric_value", "float64", True, "null when undefined (e.g. profit factor with no losses)"),
        C("metric_unit", "string", True),
        C("computed_at", "timestamp"),
    ),
    sort_key=("experiment_id", "metric_name"),
    unique_key=("experiment_id", "metric_name"),
    derived=True,
))

register(ArtifactSpec(
    "experiment_equity_curve", 1,
    columns=(
        C("experiment_id", "string"),
        C("ts", "timestamp"),
        C("equity", "float64"),
        C("drawdown", "float64"),
        C("drawdown_pct", "float64"),
    ),
    sort_key=("experiment_id", "ts", "equity", "drawdown"),
    ts_column="ts",
    derived=True,
))

register(ArtifactSpec(
    "experiment_equity_curve", 2,
    columns=(
        C("experiment_id", "string"),
        C("ts", "timestamp", doc="grid time g: the state after the candle opening at g has closed"),
        C("equity", "float64", doc="cash + exposure"),
        C("cash", "float64"),
        C("exposure", "float64", doc="open positions at qty * latest close (no exit costs)"),
        C("open_positions", "int64"),
        C("drawdown", "float64", doc="peak - equity, the peak including the initial capital"),
        C("drawdown_pct", "float64", doc="drawdown / peak"),
    ),
    sort_key=("experiment_id", "ts"),
    ts_column="ts",
    unique_key=("experiment_id", "ts"),
    derived=True,
    doc="Mark-to-market equity of a portfolio-mode run on a fixed time grid (docs/experiments.md).",
))

register(ArtifactSpec(
    "experiment_breakdown", 1,
    columns=(
        C("experiment_id", "string"),
        C("dimension", "string", doc="caller | chat | chain | token | an alert column"),
        C("group_key", "string", doc="the group's value; '(none)' for null"),
        C("trade_count", "int64"),
        C("win_rate", "float64", True),
        C("win_rate_lo", "float64", True, "bootstrap interval; null below the minimum count"),
        C("win_rate_hi", "float64", True),
        C("mean_return", "float64", True),
        C("mean_return_lo", "float64", True),
        C("mean_return_hi", "float64", True),
        C("median_return", "float64", True),
        C("total_pnl", "float64"),
        C("ranked", "bool", doc="trade_count >= the minimum count"),
        C("rank", "int64", True, "by mean_return_lo within the dimension, 1 = highest"),
        C("confidence", "float64"),
        C("resamples", "int64"),
    ),
    sort_key=("experiment_id", "dimension", "group_key"),
    unique_key=("experiment_id", "dimension", "group_key"),
    derived=True,
    doc="Per-group trade statistics with bootstrap confidence intervals (docs/experiments.md).",
))

register(ArtifactSpec(
    "experiment_sweep_validation", 1,
    columns=(
        C("sweep_id", "string"),
        C("section", "string", doc="fold | overfit"),
        C("fold", "int64", True),
        C("sample", "string", True, "in_sample | out_of_sample"),
        C("experiment_id", "string", True, "the point chosen in-sample (fold rows)"),
        C("metric_name", "string"),
        C("metric_value", "float64", True),
        C("from_ts", "timestamp", True, "the sample's first alert time (inclusive)"),
        C("to_ts", "timestamp", True, "the sample's end (exclusive)"),
        C("detail", "string", True),
    ),
    sort_key=("sweep_id", "section", "fold", "sample", "metric_name"),
    derived=True,
    doc="Out-of-sample validation of a sweep: per fold the point chosen in-sample and its in- and "
        "out-of-sample metrics; the deflated Sharpe ratio and the PBO of the grid (docs/experiments.md).",
))

register(ArtifactSpec(
    "experiment_diagnostics", 1,
    columns=(
        C("experiment_id", "string"),
        C("alert_id", "string", True),
        C("kind", "string", doc="skipped | warning | info"),
        C("reason", "string"),
        C("detail", "string", True),
    ),
    sort_key=("experiment_id", "kind", "reason", "alert_id", "detail"),
    derived=True,
))

# ---------------------------------------------------------------------------------------------
# Ingest
# ---------------------------------------------------------------------------------------------

register(ArtifactSpec(
    "ingest_sources", 1,
    columns=(
        C("source", "string", doc="telegram | duckdb"),
        C("scope", "string", doc="telegram: the chat id; duckdb: the table name"),
        C("scope_name", "string", True, "telegram: the chat name"),
        C("scope_type", "string", True, "telegram: the chat type"),
        C("source_sha256", "string", doc="SHA-256 of the export file / database file as read"),
        C("record_count", "int64", doc="messages (telegram) or rows (duckdb) read in this scope"),
        C("first_record_id", "int64", True),
        C("last_record_id", "int64", True),
        C("first_ts", "timestamp", True, "earliest UTC record time, when known"),
        C("last_ts", "timestamp", True, "latest UTC record time, when known"),
    ),
    sort_key=("source", "scope"),
    ts_column="first_ts",
    unique_key=("source", "scope"),
    doc="One ingestion's source record (a chat of an export file, a legacy table): the input that the "
        "alerts_v1 and alerts_quarantine artifacts of that ingestion derive from. Paths live in tags "
        "and the sidecar, not in the rows, so the same file ingested from another place dedupes.",
))
