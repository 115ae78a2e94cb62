"""Ingestion methods on the wire: ingestTelegram (one or more export files) and migrateDuckdb.

Both are long-running: they report `$/progress` through `ctx.job` and stop at the next safe
point when cancelled (a cancelled Telegram parse publishes nothing; see docs/ingest.md).
The result is bridge.ingest's own IngestReport (camelCase when encoded), returned as it is. This
module is imported on the first ingestion call (bridge/api/_index.py); the parser and the
publishing code behind the report load inside the handlers.
"""

from __future__ import annotations

from typing import Any


from bridge.api._method import Method, Wire
from bridge.errors import Cancelled, InvalidInput, ValidationFailed
from bridge.ingest.report import ChatReport, IngestReport

__all__ = [
    "DECLARATIONS",
    "METHODS",
    "ChatReport",
    "IngestReport",
    "IngestTelegramParams",
    "IngestTelegramResult",
    "MigrateDuckdbParams",
    "ingest_telegram",
    "migrate_duckdb",
]




class IngestTelegramParams(Wire):
    paths: list[str]
    assume_tz: str | None = None  # read local `date` in this zone when `date_unixtime` is absent


class MigrateDuckdbParams(Wire):
    path: str
    table: str = "alerts"
    mapping: dict[str, str] = {}           # alerts_v1 column -> source column
    defaults: dict[str, str] = {}          # alerts_v1 column -> constant
    assume_tz: str | None = None           # zone of naive timestamps (default UTC)


class IngestTelegramResult(Wire):
    reports: list[IngestReport]


def _job(ctx: Any) -> Any:
    from bridge.progress import NULL_JOB

    return getattr(ctx, "job", None) or NULL_JOB


def ingest_telegram(ctx: Any, params: IngestTelegramParams) -> IngestTelegramResult:
    from bridge.ingest import ingest_telegram as run

    if not params.paths:
        raise InvalidInput("give at least one export path", field="paths")
    return IngestTelegramResult(reports=[run(ctx.store, p, assume_tz=params.assume_tz, job=_job(ctx)) for p in params.paths])


def migrate_duckdb(ctx: Any, params: MigrateDuckdbParams) -> IngestReport:
    from bridge.ingest import migrate_duckdb as run

    return run(ctx.store, params.path, params.table, params.mapping or None,
               defaults=params.defaults or None, assume_tz=params.assume_tz, job=_job(ctx))


_ERRORS = (InvalidInput, ValidationFailed, Cancelled)

# One declaration per method; METHODS turns them into bridge.api._method.Method objects.
DECLARATIONS: list[dict[str, Any]] = [
    dict(name="ingestTelegram", params=IngestTelegramParams, result=IngestTelegramResult, errors=_ERRORS,
         handler=ingest_telegram, long_running=True,
         doc="Ingest Telegram Desktop JSON exports into alerts_v1 + alerts_quarantine artifacts (idempotent)."),
    dict(name="migrateDuckdb", params=MigrateDuckdbParams, result=IngestReport, errors=_ERRORS,
         handler=migrate_duckdb, long_running=True,
         doc="Migrate a legacy DuckDB alerts table into alerts_v1 + alerts_quarantine artifacts."),
]


METHODS = [Method(**d) for d in DECLARATIONS]
