"""Query results: Arrow batches to JSON-safe rows, or to a Parquet / Arrow IPC / CSV file.

JSON-safe values (docs/projections.md, "Result values"):
    timestamps           ISO-8601 UTC with `Z`, 6 fractional digits (9 for nanosecond types);
                         a timestamp without time zone is taken as UTC (the lake stores UTC)
    dates / times        ISO-8601 (`2026-01-26`, `12:00:00`)
    floating point       numbers; NaN, +inf and -inf become the strings "NaN", "Infinity",
                         "-Infinity" (JSON has no such numbers; nothing becomes null)
    integers             numbers (beyond 2**53 a JavaScript reader loses precision)
    DECIMAL / HUGEINT    integers when the scale is 0, else exact decimal strings ("1.50")
    BLOB                 lowercase hex strings
    INTERVAL             {"months", "days", "nanoseconds"}
    LIST / STRUCT / MAP  arrays / objects / arrays of [key, value], values converted as above
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from bridge.errors import InvalidInput
from bridge.store.files import fsync_dir, fsync_file

__all__ = ["FORMATS", "OutputTarget", "json_rows", "json_value", "write_batches"]

FORMATS = {"parquet": ".parquet", "arrow": ".arrow", "csv": ".csv"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_UNIT_US = {"s": 1_000_000, "ms": 1_000, "us": 1}


def json_rows(table: pa.Table) -> list[list[Any]]:
    """Rows of `table` as lists of JSON-safe values, column by column (no per-row Arrow access)."""
    columns = [_column(table.column(i)) for i in range(table.num_columns)]
    if not columns:
        return [[] for _ in range(table.num_rows)]
    return [list(row) for row in zip(*columns)]


def _column(arr: pa.ChunkedArray) -> list[Any]:
    t = arr.type
    if pa.types.is_dictionary(t):
        return _column(arr.cast(t.value_type))
    if pa.types.is_timestamp(t):
        return _timestamps(arr)
    if pa.types.is_floating(t):
        return [_float(v) for v in arr.to_pylist()]
    if pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t):
        return arr.to_pylist()
    return [json_value(v) for v in arr.to_pylist()]


def _timestamps(arr: pa.ChunkedArray) -> list[str | None]:
    unit = arr.type.unit
    ints = pc.cast(arr, pa.int64()).to_pylist()
    if unit == "ns":
        return [None if v is None else _iso_ns(v) for v in ints]
    scale = _UNIT_US[unit]
    return [None if v is None else _iso_us(v * scale) for v in ints]


def _iso_us(micros: int) -> str:
    try:
        return (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except OverflowError:  # DuckDB's ±infinity timestamps and years beyond 9999
        return "infinity" if micros > 0 else "-infinity"


def _iso_ns(nanos: int) -> str:
    secs, ns = divmod(nanos, 1_000_000_000)
    try:
        return (_EPOCH + timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ns:09d}Z"
    except OverflowError:
        return "infinity" if nanos > 0 else "-infinity"


def _float(v: float | None) -> float | str | None:
    if v is None or math.isfinite(v):
        return v
    if math.isnan(v):
        return "NaN"
    return "Infinity" if v > 0 else "-Infinity"


def json_value(v: Any) -> Any:
    """One Python value (from Arrow's to_pylist) as a JSON-safe value; see the module docstring."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, Decimal):
        return _decimal(v)
    if isinstance(v, datetime):
        aware = v if v.tzinfo is not None else v.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, (date, time)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return {"months": 0, "days": v.days, "nanoseconds": (v.seconds * 1_000_000 + v.microseconds) * 1000}
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    if isinstance(v, tuple) and hasattr(v, "months") and hasattr(v, "nanoseconds"):  # MonthDayNano
        return {"months": v.months, "days": v.days, "nanoseconds": v.nanoseconds}
    if isinstance(v, (list, tuple)):
        return [json_value(x) for x in v]
    return str(v)  # UUID and anything else with a canonical text form


def _decimal(v: Decimal) -> int | str:
    if not v.is_finite():
        return str(v)
    if v == v.to_integral_value() and v.as_tuple().exponent >= 0:
        return int(v)
    return str(v)


@dataclass(frozen=True)
class OutputTarget:
    """A checked destination for query output (see Projections._output_target)."""

    path: Path
    fmt: str
    overwrite: bool = False


def write_batches(reader: pa.RecordBatchReader, path: Path, fmt: str, *, overwrite: bool = False) -> int:
    """Stream `reader` into `path` (written beside it, fsynced, then moved into place in one step);
    return the row count. Without `overwrite` an existing file is never replaced, even one that
    appeared while the result was being written (the move is a hard link, which refuses).

    Raises:
        InvalidInput: unknown format, a column type the format cannot hold (e.g. a LIST in CSV), or
            `path` exists and `overwrite` is false.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}", field="output.format")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        rows = _write(reader, tmp, fmt)
        fsync_file(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            _place_new(tmp, path)
        fsync_dir(path.parent)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(f"cannot write this result as {fmt}: {exc}", field="output.format", format=fmt) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def _place_new(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)  # atomic, and refuses an existing name
    except FileExistsError:
        raise InvalidInput(f"output file {path} already exists; choose another path, or pass overwrite "
                           "(CLI: --overwrite) to replace it", field="output.path", value=str(path)) from None
    except OSError:  # a file system without hard links: check, then rename
        if path.exists():
            raise InvalidInput(f"output file {path} already exists; choose another path, or pass overwrite "
                               "(CLI: --overwrite) to replace it", field="output.path", value=str(path)) from None
        os.replace(tmp, path)


def _write(reader: pa.RecordBatchReader, tmp: Path, fmt: str) -> int:
    rows = 0
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(str(tmp), reader.schema, compression="zstd") as w:
            for batch in _batches(reader):
                w.write_batch(batch)
                rows += batch.num_rows
    elif fmt == "arrow":
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, reader.schema) as w:
            for batch in _batches(reader):
                w.write_batch(batch)
                rows += batch.num_rows
    else:
        import pyarrow.csv as pcsv

        with pcsv.CSVWriter(str(tmp), reader.schema) as w:
            for batch in _batches(reader):
                w.write_batch(batch)
                rows += batch.num_rows
    return rows


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return
