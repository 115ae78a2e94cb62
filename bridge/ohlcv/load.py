"""Loading candle files (CSV or Parquet) into the candle source's table.

A file has the columns token, chain, interval (or resolution), ts (or timestamp), open, high, low,
close, volume; token, chain and interval may instead be given once for the whole file. `ts` is
ISO-8601 text (no offset = UTC) or a timestamp column; any other column is refused (as `publish`
refuses columns its type does not have); integer epochs need an explicit `ts_unit`
(s, ms or us): nothing is guessed. Loading is idempotent because the table is a
ReplacingMergeTree read with FINAL: loading the same candles twice shows them once.
Rows are checked for NULLs before they reach ClickHouse (which would turn them into 0);
OHLC rules are not checked here: broken candles are quarantined when a slice is exported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from bridge.errors import InvalidInput, ValidationFailed
from bridge.ohlcv.grid import parse_resolution
from bridge.ohlcv.tokens import canonical_token, canonical_tokens
from bridge.progress import NULL_JOB, Job

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from bridge.ohlcv.source import CandleSource

__all__ = ["FileLoad", "LoadCandlesResult", "load_candles", "read_candle_file"]

log = logging.getLogger(__name__)

_ALIASES = {"resolution": "interval", "timestamp": "ts", "token_address": "token"}
_PRICE = ("open", "high", "low", "close", "volume")
_KNOWN = ("token", "chain", "interval", "ts", *_PRICE)
BATCH_ROWS = 500_000


# The results are also the RPC contract's types (loadCandles): camelCase when encoded, returned by
# bridge.api.ohlcv as they are.


class FileLoad(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    path: str
    rows: int


class LoadCandlesResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    files: list[FileLoad]
    rows_read: int
    rows_visible: int  # rows in the table after loading (FINAL: duplicates collapsed)
    table: str
    source: str  # the DSN, password redacted


def load_candles(
    source: "CandleSource",
    paths: Sequence[str | Path],
    *,
    token: str | None = None,
    chain: str | None = None,
    interval: str | None = None,
    ts_unit: str | None = None,
    job: Job = NULL_JOB,
) -> LoadCandlesResult:
    """Insert the candles of every file into the source's table (created if missing).

    Raises:
        InvalidInput / ValidationFailed: unreadable file, missing column, NULL value, bad ts (names
            file, column and row). Nothing is inserted unless every file is valid.
        SourceUnavailable, Busy, Cancelled.
    """
    if not paths:
        raise InvalidInput("no candle files given", field="paths")
    tables = []
    for i, p in enumerate(paths):
        job.progress(i, len(paths) * 2, f"reading {Path(p).name}")
        tables.append(read_candle_file(p, token=token, chain=chain, interval=interval, ts_unit=ts_unit))
    files = [FileLoad(path=str(Path(p).resolve()), rows=t.num_rows) for p, t in zip(paths, tables)]
    with source.session():
        source.ensure_table()
        for i, t in enumerate(tables):
            job.check()
            for start in range(0, t.num_rows, BATCH_ROWS):
                source.insert(t.slice(start, BATCH_ROWS))
            job.progress(len(paths) + i + 1, len(paths) * 2, f"inserted {Path(files[i].path).name}")
        visible = source.count()
    total = sum(f.rows for f in files)
    log.info("loaded %d candles from %d file(s) into %s", total, len(files), source.info.redacted)
    return LoadCandlesResult(files=files, rows_read=total, rows_visible=visible, table=source.config.table,
                             source=source.info.redacted)


def read_candle_file(path: str | Path, *, token: str | None = None, chain: str | None = None,
                     interval: str | None = None, ts_unit: str | None = None) -> "pa.Table":
    """One CSV/Parquet file → Arrow with the logical candle fields (token, chain, interval, ts µs UTC,
    open, high, low, close, volume).

    Raises:
        InvalidInput, ValidationFailed (naming the file, column and row).
    """
    import pyarrow as pa

    path = Path(path)
    raw = _read(path)
    raw = raw.rename_columns([_ALIASES.get(n.lower(), n.lower()) for n in raw.column_names])
    extra = [c for c in raw.column_names if c not in _KNOWN]
    if extra:  # the same rule as publish: unknown columns are refused, never silently dropped
        raise ValidationFailed(
            f"{path}: unexpected column(s) {', '.join(repr(c) for c in extra)}; a candle file holds "
            f"{', '.join(_KNOWN)} (aliases: {', '.join(f'{a}={b}' for a, b in _ALIASES.items())}); "
            "drop the other columns first", column=extra[0], path=str(path), rule="unknown_column", extra=extra)
    n = raw.num_rows
    cols: dict[str, pa.ChunkedArray | pa.Array] = {}
    for name, given in (("token", token), ("chain", chain), ("interval", interval)):
        if name in raw.column_names:
            cols[name] = _text(raw.column(name), name, path)
        elif given is not None:
            if name == "interval":
                parse_resolution(given)
            cols[name] = pa.array([canonical_token(given) if name == "token" else given] * n, pa.string())
        else:
            raise ValidationFailed(f"{path}: missing column {name!r} (or give --{name} for the whole file)",
                                   column=name, path=str(path), rule="missing_column")
    if "ts" not in raw.column_names:
        raise ValidationFailed(f"{path}: missing column 'ts'", column="ts", path=str(path), rule="missing_column")
    cols["token"] = canonical_tokens(cols["token"])  # EVM addresses lowercase, as alerts store them
    cols["ts"] = _timestamps(raw.column("ts"), path, ts_unit)
    for name in _PRICE:
        if name not in raw.column_names:
            raise ValidationFailed(f"{path}: missing column {name!r}", column=name, path=str(path), rule="missing_column")
        cols[name] = _floats(raw.column(name), name, path)
    for name, arr in cols.items():
        if arr.null_count:
            row = _first_null(arr)
            raise ValidationFailed(f"{path}: empty value", column=name, row=row, path=str(path), rule="not_null")
    return pa.table(cols)


def _read(path: Path) -> "pa.Table":
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if not path.is_file():
        raise InvalidInput(f"candle file {path} does not exist", path=str(path))
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix in (".csv", ".tsv", ".txt"):
            opts = pacsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
            conv = pacsv.ConvertOptions(column_types={c: pa.string() for c in ("ts", "timestamp", "token", "chain",
                                                                                  "interval", "resolution")},
                                        strings_can_be_null=True)
            return pacsv.read_csv(path, parse_options=opts, convert_options=conv)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"cannot read candle file {path}: {exc}", path=str(path)) from None
    raise InvalidInput(f"candle file {path}: unsupported format {suffix!r} (use .csv, .tsv or .parquet)", path=str(path))


def _text(arr, name: str, path: Path):
    import pyarrow as pa

    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise ValidationFailed(f"{path}: expected text, got {arr.type}", column=name, path=str(path), rule="type")
    return arr.cast(pa.string())


def _floats(arr, name: str, path: Path):
    import pyarrow as pa

    try:
        return arr.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValidationFailed(f"{path}: not a number ({exc})", column=name, path=str(path), rule="type") from None


def _timestamps(arr, path: Path, ts_unit: str | None):
    import pyarrow as pa
    import pyarrow.compute as pc

    target = pa.timestamp("us", tz="UTC")
    t = arr.type
    if pa.types.is_timestamp(t):
        return (arr if t.tz else pc.assume_timezone(arr, "UTC")).cast(target)
    if pa.types.is_integer(t):
        if ts_unit not in ("s", "ms", "us"):
            raise ValidationFailed(f"{path}: ts holds integers; say their unit with ts_unit s, ms or us",
                                   column="ts", path=str(path), rule="ts_unit")
        return arr.cast(pa.int64()).cast(pa.timestamp(ts_unit, tz="UTC")).cast(target)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _parse_iso(arr, path)
    raise ValidationFailed(f"{path}: ts must be ISO-8601 text or a timestamp, got {t}", column="ts", path=str(path),
                           rule="type")


def _parse_iso(arr, path: Path):
    """ISO text → timestamp µs UTC via DuckDB's vectorised cast (offsets honoured, none = UTC)."""
    import pyarrow as pa

    from bridge.ohlcv._duck import arrow, connect

    con = connect()
    try:
        con.register("t", pa.table({"s": arr}))
        bad = con.execute("SELECT rn, s FROM (SELECT row_number() OVER () - 1 AS rn, s FROM t) "
                          "WHERE s IS NOT NULL AND TRY_CAST(s AS TIMESTAMPTZ) IS NULL LIMIT 1").fetchone()
        if bad:
            raise ValidationFailed(f"{path}: not an ISO-8601 timestamp", column="ts", row=int(bad[0]), value=bad[1],
                                   path=str(path), rule="type")
        out = arrow(con, "SELECT CAST(s AS TIMESTAMPTZ) AS ts FROM t").column(0)
    finally:
        con.close()
    return out.cast(pa.timestamp("us", tz="UTC"))


def _first_null(arr) -> int:
    import pyarrow.compute as pc

    return int(pc.index(pc.is_null(arr), True).as_py())
