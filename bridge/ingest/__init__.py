"""Alert ingestion (FR-4): Telegram Desktop JSON exports and legacy DuckDB alert tables →
alerts_v1 + alerts_quarantine artifacts with provenance and lineage (docs/ingest.md).

    from bridge.ingest import ingest_telegram, migrate_duckdb, canonical_alerts
    report = ingest_telegram(store, "result.json")          # IngestReport
    report = migrate_duckdb(store, "alerts.duckdb", table="alerts", mapping={"token_address": "mint"})
    table = canonical_alerts(store, chat_id="777")          # pyarrow.Table, deduped by alert_id

Names load lazily: importing this package does not import pyarrow or DuckDB.
"""

from __future__ import annotations

from bridge._lazy import lazy_exports

__all__ = ["ChatReport", "IngestReport", "canonical_alerts", "ingest_telegram", "migrate_duckdb"]

_WHERE = {
    "ChatReport": "bridge.ingest.report",
    "IngestReport": "bridge.ingest.report",
    "canonical_alerts": "bridge.ingest.pipeline",
    "ingest_telegram": "bridge.ingest.pipeline",
    "migrate_duckdb": "bridge.ingest.legacy",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
