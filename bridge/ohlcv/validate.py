"""Candle validation: split a candle table into the rows a slice may hold and the rows that go to
`ohlcv_quarantine`, with reasons. One vectorised DuckDB query, no per-candle Python.

Row rules (a row may break several; `reason` lists them joined by `;`):
    null_value              a price or the volume is NULL
    non_finite              a price or the volume is NaN or ±inf (stored as NULL in the quarantine:
                            the store refuses non-finite floats)
    high_below_open_close   high < max(open, close)
    low_above_open_close    low > min(open, close)
    negative_volume         volume < 0
Then, among rows that pass, several candles at one (token, resolution, ts):
    duplicate_ts            identical copies: the first is kept, the extra copies are quarantined
    duplicate_ts_conflict   copies that disagree: none can be trusted, all are quarantined
The store enforces the same OHLC rules on `ohlcv_slice` (bridge/store/spec.py), so the kept rows
always publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["REASONS", "Split", "split_candles"]

REASONS = (
    "null_value",
    "non_finite",
    "high_below_open_close",
    "low_above_open_close",
    "negative_volume",
    "duplicate_ts",
    "duplicate_ts_conflict",
)

_VALUES = ("open", "high", "low", "close", "volume")
_ALL_FINITE = " AND ".join(f"isfinite({c})" for c in _VALUES)
_ANY_NULL = " OR ".join(f"{c} IS NULL" for c in _VALUES)

_SQL = f"""
WITH base AS (
    SELECT row_number() OVER () AS rn, * FROM candles
),
flagged AS (
    SELECT *, concat_ws(';',
        CASE WHEN {_ANY_NULL} THEN 'null_value' END,
        CASE WHEN NOT ({_ANY_NULL}) AND NOT ({_ALL_FINITE}) THEN 'non_finite' END,
        CASE WHEN {_ALL_FINITE} AND high < greatest(open, close) THEN 'high_below_open_close' END,
        CASE WHEN {_ALL_FINITE} AND low > least(open, close) THEN 'low_above_open_close' END,
        CASE WHEN {_ALL_FINITE} AND volume < 0 THEN 'negative_volume' END
    ) AS row_reason
    FROM base
),
dups AS (
    SELECT token, resolution, ts, min(rn) AS first_rn,
           {" AND ".join(f"min({c}) = max({c})" for c in _VALUES)} AS same
    FROM flagged WHERE row_reason = ''
    GROUP BY token, resolution, ts HAVING count(*) > 1
)
SELECT f.rn, f.token, f.resolution, f.ts, f.open, f.high, f.low, f.close, f.volume,
    CASE
        WHEN f.row_reason <> '' THEN f.row_reason
        WHEN d.first_rn IS NULL THEN ''
        WHEN NOT d.same THEN 'duplicate_ts_conflict'
        WHEN f.rn = d.first_rn THEN ''
        ELSE 'duplicate_ts'
    END AS reason
FROM flagged f
LEFT JOIN dups d ON f.token = d.token AND f.resolution = d.resolution AND f.ts = d.ts
"""

_SLICE_COLUMNS = ("token", "resolution", "ts", *_VALUES)


@dataclass(frozen=True)
class Split:
    valid: "pa.Table"  # token, resolution, ts, open, high, low, close, volume
    rejected: "pa.Table"  # the same plus reason

    @property
    def rejected_count(self) -> int:
        return self.rejected.num_rows


def split_candles(candles: "pa.Table") -> Split:
    """Split `candles` (columns token, resolution, ts, open, high, low, close, volume) into kept and
    quarantined rows; input order is kept within each part."""
    from bridge.ohlcv._duck import arrow, connect

    con = connect()
    try:
        con.register("candles", candles.select(list(_SLICE_COLUMNS)))
        con.execute(f"CREATE TEMP TABLE judged AS {_SQL}")
        valid = arrow(con, f"SELECT {', '.join(_SLICE_COLUMNS)} FROM judged WHERE reason = '' ORDER BY rn")
        # The store refuses NaN/±inf even in nullable columns: those values become NULL in the
        # quarantine, and the row's reason says non_finite.
        kept_values = ", ".join(f"CASE WHEN isfinite({c}) THEN {c} END AS {c}" for c in _VALUES)
        rejected = arrow(con, f"SELECT token, resolution, ts, {kept_values}, reason FROM judged "
                              "WHERE reason <> '' ORDER BY rn")
    finally:
        con.close()
    return Split(valid=_like(valid, candles), rejected=rejected)


def _like(table: "pa.Table", model: "pa.Table") -> "pa.Table":
    """Keep the input's column types (DuckDB may widen timestamps' zone handling)."""
    schema = model.select(list(_SLICE_COLUMNS)).schema
    return table.cast(schema) if table.schema != schema else table
