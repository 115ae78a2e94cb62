"""DuckDB projections: deterministic, content-addressed, read-only, disposable (DESIGN.md §6).

    from bridge.projections import Projections
    proj = Projections(store)
    info = proj.build({"candles": [ohlcv_id], "alerts": [alerts_id]})
    res = proj.query(info.projection_id, "SELECT token, count(*) FROM candles GROUP BY ALL")
    con = proj.connect_readonly(info.projection_id)   # sandboxed, for in-process engines

DuckDB is imported only when a projection is built, opened or queried.
"""

from bridge.projections.models import (
    ColumnInfo,
    ProjectionResult,
    ProjectionInput,
    ProjectionStaleReason,
    QueryResult,
    TableType,
)
from bridge.projections.projections import BUILDER_VERSION, MODES, Projections, fingerprint

__all__ = [
    "BUILDER_VERSION",
    "MODES",
    "ColumnInfo",
    "ProjectionResult",
    "ProjectionInput",
    "ProjectionStaleReason",
    "Projections",
    "QueryResult",
    "TableType",
    "fingerprint",
]
