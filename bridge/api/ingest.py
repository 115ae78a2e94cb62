"""Ingestion methods on the wire: ingestTelegram (one or more export files) and migrateDuckdb.

Both are long-running: they report `$/progress` through `ctx.job` and stop at the next safe
point when cancelled (a cancelled Telegram parse publishes nothing; see docs/ingest.md).
Wire types mirror bridge.ingest's IngestReport in camelCase. Nothing heavy is imported at module
import time: bridge.ingest loads inside the handlers.
"""

from __future__ import annotations

from typing import Any

import msgspec

from bridge.api._method import Method, Wire
from bridge.errors import Cancelled, InvalidInput, ValidationFailed

__all__ = [
    "DECLARATIONS",
    "METHODS",
    "ChatReportWire",
    "IngestReportWire",
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


class ChatReportWire(Wire):
    chat_id: str
    chat_name: str | None = None
    chat_type: str | None = None
    section: str = "root"
    messages: int = 0
    logical_key: str | None = None
    covered_from: str | None = None
    covered_to: str | None = None
    alerts_found: int = 0
    alerts_published: int = 0
    quarantined: int = 0
    source_artifact_id: str | None = None
    alerts_artifact_id: str | None = None
    quarantine_artifact_id: str | None = None
    deduped: bool = False
    skipped: str | None = None


class IngestReportWire(Wire):
    source: str
    path: str
    sha256: str | None = None
    messages_read: int = 0
    alerts: int = 0
    duplicates: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    skipped: dict[str, int] = {}
    unmapped_columns: list[str] = []
    logical_keys: list[str] = []
    chats: list[ChatReportWire] = []
    artifact_ids: list[str] = []
    new_artifact_ids: list[str] = []


class IngestTelegramResult(Wire):
    reports: list[IngestReportWire]


def to_wire(report: Any) -> IngestReportWire:
    return msgspec.convert(report, IngestReportWire, from_attributes=True)


def _job(ctx: Any) -> Any:
    from bridge.progress import NULL_JOB

    return getattr(ctx, "job", None) or NULL_JOB


def ingest_telegram(ctx: Any, params: IngestTelegramParams) -> IngestTelegramResult:
    from bridge.ingest import ingest_telegram as run

    if not params.paths:
        raise InvalidInput("give at least one export path", field="paths")
    return IngestTelegramResult(reports=[to_wire(run(ctx.store, p, assume_tz=params.assume_tz, job=_job(ctx)))
                                         for p in params.paths])


def migrate_duckdb(ctx: Any, params: MigrateDuckdbParams) -> IngestReportWire:
    from bridge.ingest import migrate_duckdb as run

    return to_wire(run(ctx.store, params.path, params.table, params.mapping or None,
                       defaults=params.defaults or None, assume_tz=params.assume_tz, job=_job(ctx)))


_ERRORS = (InvalidInput, ValidationFailed, Cancelled)

# One declaration per method; METHODS turns them into bridge.api._method.Method objects.
DECLARATIONS: list[dict[str, Any]] = [
    dict(name="ingestTelegram", params=IngestTelegramParams, result=IngestTelegramResult, errors=_ERRORS,
         handler=ingest_telegram, long_running=True,
         doc="Ingest Telegram Desktop JSON exports into alerts_v1 + alerts_quarantine artifacts (idempotent)."),
    dict(name="migrateDuckdb", params=MigrateDuckdbParams, result=IngestReportWire, errors=_ERRORS,
         handler=migrate_duckdb, long_running=True,
         doc="Migrate a legacy DuckDB alerts table into alerts_v1 + alerts_quarantine artifacts."),
]


METHODS = [Method(**d) for d in DECLARATIONS]
