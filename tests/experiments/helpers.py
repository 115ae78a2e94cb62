"""Small builders for experiment tests: candles from OHLC tuples, alerts, a DuckDB connection."""

from __future__ import annotations

import duckdb
import pyarrow as pa

MIN = 60_000_000  # one minute in µs
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
TS = pa.timestamp("us", tz="UTC")


def candle_rows(token: str, ohlc: list[tuple[float, float, float, float]], *, start_us: int = T0,
                step_us: int = MIN, resolution: str = "1m") -> list[dict]:
    return [{"token": token, "resolution": resolution, "ts": start_us + i * step_us, "open": o, "high": h,
             "low": lo, "close": c, "volume": 1.0} for i, (o, h, lo, c) in enumerate(ohlc)]


def alert_row(alert_id: str, token: str, ts_us: int, chain: str = "solana") -> dict:
    return {"alert_id": alert_id, "alert_ts": ts_us, "token_address": token, "chain": chain}


def candles_table(rows: list[dict]) -> pa.Table:
    return pa.table({
        "token": pa.array([r["token"] for r in rows], pa.string()),
        "resolution": pa.array([r["resolution"] for r in rows], pa.string()),
        "ts": pa.array([r["ts"] for r in rows], pa.int64()).cast(TS),
        **{k: pa.array([float(r[k]) for r in rows], pa.float64()) for k in ("open", "high", "low", "close", "volume")},
    })


def alerts_table(rows: list[dict]) -> pa.Table:
    return pa.table({
        "alert_id": pa.array([r["alert_id"] for r in rows], pa.string()),
        "alert_ts": pa.array([r["alert_ts"] for r in rows], pa.int64()).cast(TS),
        "token_address": pa.array([r["token_address"] for r in rows], pa.string()),
        "chain": pa.array([r["chain"] for r in rows], pa.string()),
    })


def connect(alerts: list[dict], candles: list[dict], *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    a, c = alerts_table(alerts), candles_table(candles)  # noqa: F841 (replacement scans)
    con.execute("CREATE TABLE alerts AS SELECT * FROM a")
    con.execute("CREATE TABLE candles AS SELECT * FROM c")
    return con
