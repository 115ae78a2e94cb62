"""DuckDB helpers shared by the OHLCV modules: a small connection and Arrow results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pyarrow as pa

__all__ = ["arrow", "connect"]


def connect() -> "duckdb.DuckDBPyConnection":
    """An in-memory DuckDB connection that stays polite on a shared machine (2 threads, UTC)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute("SET TimeZone = 'UTC'")
    return con


def arrow(con: "duckdb.DuckDBPyConnection", sql: str, params: Mapping[str, Any] | None = None) -> "pa.Table":
    """Run a query and return its rows as Arrow (no DB-API copy)."""
    return con.sql(sql, params=dict(params) if params else None).to_arrow_table()
