"""Canonical tables and the content hash (canonical form `qb-content-v1`, docs/canonical-form.md).

`load_input` turns whatever the caller has (CSV/Parquet/Arrow IPC path, pyarrow Table, pandas
DataFrame, list of row dicts) into an Arrow table. `canonicalize` fits it to its artifact spec:
spec column order and types (lossless casts only), timestamps as UTC microseconds, nullability,
finiteness, row rules, unique key, rows in canonical order. Anything that does not fit raises
ValidationFailed naming the column and the (0-based, input-order) row. Nothing becomes null.

`content_hash` hashes a canonical table column by column straight from Arrow buffers: no
per-row Python and no float-to-text, so it runs at memory bandwidth (and hashlib releases the
GIL, so columns hash in parallel threads).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bridge.errors import ValidationFailed
from bridge.store.spec import ArtifactSpec, Column

__all__ = ["CANONICAL_FORM", "arrow_schema", "canonicalize", "content_hash", "load_input", "ts_range", "ts_range_iso"]

CANONICAL_FORM = "qb-content-v1"

_ARROW_TYPES: dict[str, Callable[[], pa.DataType]] = {
    "string": pa.string,
    "int64": pa.int64,
    "float64": pa.float64,
    "bool": pa.bool_,
    "timestamp": lambda: pa.timestamp("us", tz="UTC"),
}


def arrow_type(logical: str) -> pa.DataType:
    return _ARROW_TYPES[logical]()


def arrow_schema(spec: ArtifactSpec) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in spec.columns])


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def load_input(data: Any, spec: ArtifactSpec) -> pa.Table:
    """Any supported input → an Arrow table (not yet canonical).

    Raises:
        ValidationFailed: unreadable file, unsupported input, or a value that cannot be read.
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, (str, Path)):
        return _load_path(Path(data), spec)
    if isinstance(data, list):
        return _load_rows(data, spec)
    if type(data).__module__.startswith("pandas"):
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValidationFailed(f"cannot convert the DataFrame to Arrow: {exc}") from exc
    raise ValidationFailed(
        f"unsupported data of type {type(data).__name__}: give a path (.csv, .parquet, .arrow), "
        "a pyarrow Table, a pandas DataFrame or a list of row objects"
    )


def _load_path(path: Path, spec: ArtifactSpec) -> pa.Table:
    if not path.is_file():
        raise ValidationFailed(f"no such file: {path}", path=str(path))
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            return _read_csv(path, spec, delimiter="\t" if suffix == ".tsv" else ",")
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix in (".arrow", ".ipc", ".feather", ".arrows"):
            return _read_ipc(path)
    except ValidationFailed:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise ValidationFailed(f"cannot read {path.name}: {exc}", path=str(path)) from exc
    raise ValidationFailed(
        f"unsupported file type {suffix!r} for {path.name}: use .csv, .tsv, .parquet, .arrow/.ipc/.feather",
        path=str(path),
    )


def _read_ipc(path: Path) -> pa.Table:
    import pyarrow.ipc as ipc

    try:
        with pa.memory_map(str(path)) as source:
            return ipc.open_file(source).read_all()
    except pa.ArrowInvalid:
        with pa.memory_map(str(path)) as source:
            return ipc.open_stream(source).read_all()


def _csv_types(spec: ArtifactSpec) -> dict[str, pa.DataType]:
    # Timestamps are read as text and parsed by `_cast_timestamp` (naive text means UTC, offsets
    # honoured, and a bad value is reported with its row); bools as text too ("true"/"1"/...).
    out: dict[str, pa.DataType] = {}
    for c in spec.columns:
        out[c.name] = pa.string() if c.type in ("timestamp", "string", "bool") else arrow_type(c.type)
    return out


def _read_csv(path: Path, spec: ArtifactSpec, delimiter: str) -> pa.Table:
    import pyarrow.csv as pcsv

    types = _csv_types(spec)
    parse = pcsv.ParseOptions(delimiter=delimiter)
    ts_cols = [c.name for c in spec.columns if c.type == "timestamp"]
    if ts_cols:
        # Zoned ISO-8601 text (2026-01-26T00:00:00Z, +01:00) parsed by the multi-threaded reader
        # straight into the canonical type: no text column, no single-threaded cast afterwards. It
        # gives exactly what _parse_timestamp_text gives; anything else (naive text, which means UTC,
        # a bad value, a null) fails here or is caught below and takes the text path, which says why.
        typed = {**types, **dict.fromkeys(ts_cols, arrow_type("timestamp"))}
        try:
            table = pcsv.read_csv(path, parse_options=parse, convert_options=pcsv.ConvertOptions(column_types=typed))
            if all(table.column(n).null_count == 0 for n in ts_cols if n in table.column_names):
                return table
            del table
        except pa.ArrowInvalid:
            pass
    try:
        return pcsv.read_csv(path, parse_options=parse, convert_options=pcsv.ConvertOptions(column_types=types))
    except pa.ArrowInvalid as exc:
        m = re.search(r"CSV column #(\d+)", str(exc))
        if not m:
            raise ValidationFailed(f"cannot parse {path.name} as CSV: {exc}", path=str(path)) from exc
    # A typed column failed: read that column as text and let the caster locate the row.
    bad = pcsv.open_csv(path, parse_options=parse).schema.names[int(m.group(1))]
    text_types = {**types, bad: pa.string()}
    table = pcsv.read_csv(path, parse_options=parse, convert_options=pcsv.ConvertOptions(column_types=text_types))
    if bad in spec.column_names:
        _cast_column(table.column(bad), spec.column(bad))  # raises, naming the row
    raise ValidationFailed(f"cannot parse {path.name} as CSV", column=bad, path=str(path))


_MISSING = object()


def _load_rows(rows: list, spec: ArtifactSpec) -> pa.Table:
    if not rows:
        return arrow_schema(spec).empty_table()
    names: list[str] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValidationFailed(f"row is a {type(row).__name__}, expected an object of column → value", row=i)
        for k in row:
            if k not in seen:
                seen.add(k)
                names.append(k)
    arrays = {}
    for name in names:
        values = [r.get(name, _MISSING) for r in rows]
        missing = next((i for i, v in enumerate(values) if v is _MISSING), None)
        if missing is not None:
            raise ValidationFailed("row has no value for this column (use null explicitly)", column=name, row=missing)
        arrays[name] = _array_from_values(name, values)
    return pa.table(arrays)


def _array_from_values(name: str, values: list) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        kinds = [type(v) for v in values if v is not None]
        first = kinds[0] if kinds else type(None)
        for i, v in enumerate(values):
            if v is not None and not isinstance(v, first):
                raise ValidationFailed(
                    f"mixed value types: {first.__name__} and {type(v).__name__}", column=name, row=i, value=v
                ) from None
        raise ValidationFailed("values cannot be represented", column=name) from None


# ---------------------------------------------------------------------------------------------
# Canonicalisation
# ---------------------------------------------------------------------------------------------

def parse_logical_key(logical_key: str) -> dict[str, str]:
    """`token=ABC/res=1m/from=...` → {"token": "ABC", "res": "1m", ...} (segments without '=' ignored)."""
    out: dict[str, str] = {}
    for seg in logical_key.split("/"):
        k, sep, v = seg.partition("=")
        if sep and k:
            out[k] = v
    return out


def canonicalize(table: pa.Table, spec: ArtifactSpec, logical_key: str = "", *,
                 deferred: list[Callable[[], None]] | None = None) -> pa.Table:
    """Fit `table` to `spec` and put its rows in canonical order.

    `deferred`: when given and the rows are already in canonical order, the checks that only
    read the finished table (finite floats, row rules, unique key) are not run here but appended
    to it as one callable, for the caller to run beside other work (a publish runs them with the
    content hash while the file is written) and before it registers anything; called with
    `single_thread=True` they use one thread (DuckDB's rule query otherwise takes every core).
    Rows out of order are checked here as always, so a failing row is named in input order
    either way.

    Raises:
        ValidationFailed: unknown or missing column, lossy cast, null in a non-null column,
            non-finite float, a broken row rule or a duplicate unique key; names column and row.
    """
    table = _strip_metadata(table)
    extra = [n for n in table.column_names if n not in spec.column_names]
    if extra:
        raise ValidationFailed(
            f"unexpected column {extra[0]!r} for {spec.artifact_type} v{spec.schema_version}; "
            f"expected columns: {', '.join(spec.column_names)}",
            column=extra[0],
            rule="unknown_column",
        )
    dupes = {n for n in table.column_names if table.column_names.count(n) > 1}
    if dupes:
        raise ValidationFailed("column appears twice", column=sorted(dupes)[0], rule="duplicate_column")
    key_values = parse_logical_key(logical_key)
    n = table.num_rows
    columns: list[pa.ChunkedArray] = []
    for col in spec.columns:
        if col.name in table.column_names:
            arr = _cast_column(table.column(col.name), col)
            _check_key_column(arr, col, spec, key_values)
        else:
            arr = _fill_missing(col, spec, key_values, n)
        _check_not_null(arr, col)
        columns.append(arr)
    del table  # from here on only the fitted columns are kept alive (see _take_releasing)
    out = pa.Table.from_arrays(columns, schema=arrow_schema(spec))
    del columns
    order = _canonical_order(out, spec)
    if deferred is not None and order is None:
        def checks(single_thread: bool = False) -> None:
            _check_finite(out, spec)
            _check_rules(out, spec, single_thread=single_thread)
            _check_unique(out, spec, None)

        deferred.append(checks)
        return out
    _check_finite(out, spec)
    _check_rules(out, spec)
    if order is not None:
        holder = [out]
        del out
        out = _take_releasing(holder, order)
    _check_unique(out, spec, order)
    return out


def _take_releasing(holder: list[pa.Table], order: pa.Array) -> pa.Table:
    """`table.take(order)` a column at a time, dropping each source column once it is copied, so
    a reorder needs one extra column of memory, not a second table. The caller hands the table
    over in `holder` and keeps no reference of its own."""
    table = holder.pop()
    schema = table.schema
    cols = list(table.columns)
    del table
    pool = pa.default_memory_pool()
    for i in range(len(cols)):
        if cols[i].num_chunks > 1 and not pa.types.is_primitive(cols[i].type):
            # Arrow's take concatenates the chunks of a string column while it still holds them:
            # concatenate first and drop the chunks, and the copy is not there three times at once
            cols[i] = cols[i].combine_chunks()
        cols[i] = cols[i].take(order)
        pool.release_unused()  # give the source column's pages back (the allocator keeps them otherwise)
    return pa.Table.from_arrays(cols, schema=schema)


def _strip_metadata(table: pa.Table) -> pa.Table:
    return table.replace_schema_metadata(None) if table.schema.metadata else table


def _fill_missing(col: Column, spec: ArtifactSpec, key_values: dict[str, str], n: int) -> pa.ChunkedArray:
    segment = spec.key_columns.get(col.name)
    if segment is not None and segment in key_values:
        return pa.chunked_array([pa.repeat(_key_scalar(key_values[segment], col), n)], type=arrow_type(col.type))
    if col.nullable:
        return pa.chunked_array([pa.nulls(n, arrow_type(col.type))])
    hint = f" (or name it in the logical key as {segment}=...)" if segment else ""
    raise ValidationFailed(
        f"missing required column {col.name!r} for {spec.artifact_type} v{spec.schema_version}{hint}",
        column=col.name,
        rule="missing_column",
    )


def _check_key_column(arr: pa.ChunkedArray, col: Column, spec: ArtifactSpec, key_values: dict[str, str]) -> None:
    segment = spec.key_columns.get(col.name)
    if segment is None or segment not in key_values or len(arr) == 0:
        return
    differs = pc.not_equal(arr, _key_scalar(key_values[segment], col))
    if pc.any(differs).as_py():
        row = pc.index(differs, True).as_py()
        raise ValidationFailed(
            f"value differs from the logical key's {segment}={key_values[segment]}",
            column=col.name, row=row, value=arr[row].as_py(), rule="logical_key_mismatch",
        )


def _key_scalar(text: str, col: Column) -> pa.Scalar:
    """A logical-key segment's value as a scalar of `col`'s type."""
    return _string_scalar(text) if col.type == "string" else pa.scalar(text, arrow_type(col.type))


def _string_scalar(text: str) -> pa.Scalar:
    """`pa.scalar(text, pa.string())` built from buffers: pyarrow turns a Python value into Arrow
    through code that imports pandas on first use (0.3-0.5 s in a fresh process)."""
    data = text.encode("utf-8")
    offsets = np.array([0, len(data)], dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])[0]


def _cast_column(arr: pa.ChunkedArray, col: Column) -> pa.ChunkedArray:
    target = arrow_type(col.type)
    src = arr.type
    if pa.types.is_dictionary(src):
        arr = arr.cast(src.value_type)
        src = arr.type
    if src == target:
        return arr
    if col.type == "timestamp":
        return _cast_timestamp(arr, col)
    if col.type == "string":
        if not (pa.types.is_string(src) or pa.types.is_large_string(src) or pa.types.is_integer(src)
                or pa.types.is_null(src) or pa.types.is_string_view(src)):
            raise _type_error(col, src)
    elif col.type in ("int64", "float64"):
        if not (pa.types.is_integer(src) or pa.types.is_floating(src) or pa.types.is_decimal(src)
                or pa.types.is_string(src) or pa.types.is_large_string(src) or pa.types.is_null(src)):
            raise _type_error(col, src)
    elif col.type == "bool":
        if pa.types.is_string(src) or pa.types.is_large_string(src):
            return _cast_bool_text(arr, col)
        if not (pa.types.is_null(src) or pa.types.is_boolean(src)):
            raise _type_error(col, src)
    return _safe_cast(arr, target, col)


def _type_error(col: Column, src: pa.DataType) -> ValidationFailed:
    return ValidationFailed(f"expected {col.type}, got {src}", column=col.name, rule="type")


def _safe_cast(arr: pa.ChunkedArray, target: pa.DataType, col: Column) -> pa.ChunkedArray:
    try:
        return pc.cast(arr, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        row = _first_failing_row(arr, lambda a: pc.cast(a, target, safe=True))
        value = arr[row].as_py() if row is not None else None
        raise ValidationFailed(
            f"value cannot be cast to {col.type} without loss: {exc}", column=col.name, row=row, value=value,
            rule="lossless_cast",
        ) from None


def _cast_timestamp(arr: pa.ChunkedArray, col: Column) -> pa.ChunkedArray:
    target = arrow_type("timestamp")
    src = arr.type
    if pa.types.is_string(src) or pa.types.is_large_string(src):
        return _parse_timestamp_text(arr, col)
    if pa.types.is_timestamp(src):
        if src.tz is None:  # naive timestamps are UTC by convention (docs/canonical-form.md)
            arr = pc.cast(arr, pa.timestamp(src.unit, tz="UTC"))
        return _safe_cast(arr, target, col)
    if pa.types.is_date(src) or pa.types.is_null(src):
        return _safe_cast(arr, target, col)
    raise ValidationFailed(
        f"expected a timestamp, got {src}: give ISO-8601 text (2026-01-26T00:00:00Z) or an Arrow timestamp",
        column=col.name, rule="type",
    )


def _parse_timestamp_text(arr: pa.ChunkedArray, col: Column) -> pa.ChunkedArray:
    target = arrow_type("timestamp")

    def parse(a):
        try:
            return pc.cast(a, target)  # text with Z / offsets
        except pa.ArrowInvalid:
            return pc.cast(pc.cast(a, pa.timestamp("us")), target)  # text without offset: UTC

    try:
        return pa.chunked_array([parse(chunk) for chunk in arr.chunks], type=target)
    except pa.ArrowInvalid:
        pass
    # Mixed spellings across rows: parse each row group of one spelling separately.
    text = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    has_zone = pc.match_substring_regex(text, r"([zZ]|[+-]\d\d:?\d\d)$")
    try:
        zoned = pc.cast(pc.if_else(has_zone, text, None), target)
        naive = pc.cast(pc.cast(pc.if_else(has_zone, None, text), pa.timestamp("us")), target)
        return pa.chunked_array([pc.coalesce(zoned, naive)])
    except pa.ArrowInvalid:
        row = _first_failing_row(pa.chunked_array([text]), parse)
        value = text[row].as_py() if row is not None else None
        raise ValidationFailed(
            "unparseable timestamp: use ISO-8601 such as 2026-01-26T00:00:00Z", column=col.name, row=row,
            value=value, rule="timestamp",
        ) from None


def _cast_bool_text(arr: pa.ChunkedArray, col: Column) -> pa.ChunkedArray:
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    true = pc.is_in(lowered, pa.array(["true", "1", "t", "yes"]))
    false = pc.is_in(lowered, pa.array(["false", "0", "f", "no"]))
    bad = pc.and_(pc.is_valid(arr), pc.invert(pc.or_(true, false)))
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        raise ValidationFailed("not a boolean (true/false/1/0)", column=col.name, row=row, value=arr[row].as_py(), rule="type")
    return pc.if_else(pc.is_null(arr), pa.scalar(None, pa.bool_()), true)


def _first_failing_row(arr: pa.ChunkedArray, op: Callable[[pa.Array], Any]) -> int | None:
    """Binary search for the first row on which `op` fails: O(log n) calls, no per-row loop."""
    whole = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr

    def fails(lo: int, hi: int) -> bool:
        try:
            op(whole.slice(lo, hi - lo))
            return False
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            return True

    lo, hi = 0, len(whole)
    if hi == 0 or not fails(lo, hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(lo, mid):
            hi = mid
        else:
            lo = mid
    return lo


def _check_not_null(arr: pa.ChunkedArray, col: Column) -> None:
    if not col.nullable and arr.null_count:
        row = pc.index(pc.is_null(arr), True).as_py()
        raise ValidationFailed(f"null in non-nullable column ({arr.null_count} rows)", column=col.name, row=row,
                               rule="not_null")


def _check_finite(table: pa.Table, spec: ArtifactSpec) -> None:
    """No NaN or infinity in a float column (the first such column, in spec order, is named)."""
    for col in spec.columns:
        arr = table.column(col.name)
        if col.type != "float64" or len(arr) == 0:
            continue
        bad = pc.invert(pc.is_finite(arr))
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise ValidationFailed("value is NaN or infinite", column=col.name, row=row, value=str(arr[row].as_py()),
                                   rule="finite")


def _check_rules(table: pa.Table, spec: ArtifactSpec, *, single_thread: bool = False) -> None:
    """One vectorised pass checks every rule; only on a failure is the first bad row located."""
    if not spec.rules or table.num_rows == 0:
        return
    con = _rules_connection()
    if single_thread:
        con.execute("SET threads = 1")
    try:
        con.register("t", table)
        held = con.execute(
            "SELECT " + ", ".join(f"bool_and(coalesce(({r.sql}), true))" for r in spec.rules) + " FROM t"
        ).fetchall()[0]
        for rule, ok in zip(spec.rules, held):
            if ok:
                continue
            hit = con.execute(
                f"SELECT rn, {', '.join(_q(c) for c in spec.column_names)} FROM "
                f"(SELECT row_number() OVER () - 1 AS rn, * FROM t) WHERE NOT coalesce(({rule.sql}), true) "
                "ORDER BY rn LIMIT 1"
            ).fetchall()[0]
            row = dict(zip(("rn", *spec.column_names), hit))
            raise ValidationFailed(
                f"row breaks rule {rule.name}: {rule.doc}", row=int(row["rn"]), rule=rule.name,
                values={k: _plain(v) for k, v in row.items() if k != "rn"},
            )
    finally:
        con.unregister("t")
        if single_thread:
            con.execute("RESET threads")


_RULES = threading.local()


def _rules_connection():
    """An in-memory DuckDB connection per thread, reused (opening one costs ~10 ms)."""
    con = getattr(_RULES, "con", None)
    if con is None:
        import duckdb

        con = _RULES.con = duckdb.connect()
    return con


def _plain(v: Any) -> Any:
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sort_columns(spec: ArtifactSpec) -> list[str]:
    """The sort key, made total: when the unique key lies inside it, it already is; otherwise
    every other column follows as a tie-breaker (ties are then identical rows)."""
    if spec.unique_key and set(spec.unique_key) <= set(spec.sort_key):
        return list(spec.sort_key)
    return [*spec.sort_key, *(c for c in spec.column_names if c not in spec.sort_key)]


def _unique_is_sort_prefix(spec: ArtifactSpec) -> bool:
    return bool(spec.unique_key) and tuple(spec.sort_key[: len(spec.unique_key)]) == tuple(spec.unique_key)


def _canonical_order(table: pa.Table, spec: ArtifactSpec) -> pa.Array | None:
    """Indices putting rows in canonical order, or None when they already are."""
    if table.num_rows < 2:
        return None
    cols = _sort_columns(spec)
    if _is_sorted(table, cols):
        return None
    key = _composite_key(table, cols)
    if key is not None:
        order = np.argsort(key)
        del key
        return pa.Array.from_buffers(pa.int64(), len(order), [None, pa.py_buffer(order)])
    # General case: strings replaced by their ranks (Arrow sorts integers far faster), then Arrow.
    keys = {}
    for c in cols:
        col = table.column(c)
        keys[f"k{len(keys)}"] = _string_rank(col) if pa.types.is_string(col.type) and col.null_count == 0 else col
    return pc.sort_indices(pa.table(keys), sort_keys=[(k, "ascending") for k in keys])


def _composite_key(table: pa.Table, cols: Sequence[str]) -> np.ndarray | None:
    """Pack the sort columns into one uint64 per row (same order) when their ranges fit in 64
    bits: strings by rank among distinct values, integers and timestamps as offsets from their
    minimum, bools as one bit. One numpy sort of uint64 then orders the table. The key is built
    a chunk at a time from views of the Arrow buffers: no copy of a whole column."""
    parts: list[tuple[pa.ChunkedArray, str, int, int]] = []  # (codes source, kind, minimum, bits)
    for c in cols:
        col = table.column(c)
        if col.null_count:
            return None
        if pa.types.is_string(col.type):
            ranks = _string_rank(col)
            parts.append((ranks, "int32", 0, (int(pc.max(ranks).as_py() or 0)).bit_length()))
        elif pa.types.is_timestamp(col.type) or pa.types.is_integer(col.type):
            if not (pa.types.is_timestamp(col.type) or col.type == pa.int64()):
                col = col.cast(pa.int64())
            mm = pc.min_max(col)
            lo, hi = (int(x.cast(pa.int64()).as_py()) for x in (mm["min"], mm["max"]))
            parts.append((col, "int64", lo, (hi - lo).bit_length()))
        elif pa.types.is_boolean(col.type):
            parts.append((col.cast(pa.uint8()), "uint8", 0, int(bool(pc.any(col).as_py()))))
        else:
            return None
    if sum(bits for *_, bits in parts) > 64:
        return None
    key = np.zeros(table.num_rows, dtype=np.uint64)
    for source, kind, lo, bits in parts:
        if not bits:
            continue
        key <<= np.uint64(bits)
        at = 0
        for chunk in source.chunks:
            v = _values(chunk, kind)
            if kind == "int64":  # offset from the minimum, in uint64 arithmetic (no overflow)
                v = v.view(np.uint64) - np.uint64(lo % (1 << 64))
            key[at : at + len(v)] |= v.astype(np.uint64, copy=False)
            at += len(v)
    return key


def _string_rank(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each value's rank among the column's distinct values (int32, byte order), chunk for chunk."""
    distinct = pc.unique(col)
    return pc.index_in(col, value_set=distinct.take(pc.sort_indices(distinct)))


_SPLIT_ROWS = 1 << 20  # from this many rows the order check runs as two halves on two threads


def _is_sorted(table: pa.Table, cols: Sequence[str]) -> bool:
    """Vectorised check of non-decreasing order on `cols` (lexicographic); any null means "sort it".
    A large table is checked as two halves of its adjacent pairs at once (the kernels release the
    GIL; nothing else runs yet while the rows are being fitted)."""
    n = table.num_rows
    if any(table.column(c).null_count for c in cols):
        return False  # rare: let the sort handle null placement
    if n <= _SPLIT_ROWS:
        return _pairs_sorted(table, cols, 0, n - 1)
    half = (n - 1) // 2
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="qb-order-check") as pool:
        return all(pool.map(lambda r: _pairs_sorted(table, cols, *r), [(0, half), (half, n - 1)]))


def _pairs_sorted(table: pa.Table, cols: Sequence[str], lo: int, hi: int) -> bool:
    """Row i ≤ row i + 1 on `cols` for every i in [lo, hi)."""
    m = hi - lo
    if m <= 0:
        return True
    undecided = None  # rows i where all previous key columns are equal between row i and i+1
    for c in cols:
        a = table.column(c)
        prev, nxt = a.slice(lo, m), a.slice(lo + 1, m)
        lt, gt = _less_greater(prev, nxt)
        if undecided is None:
            if gt is not None and pc.any(gt).as_py():
                return False
            undecided = pc.invert(lt)
        else:
            if gt is not None and pc.any(pc.and_(undecided, gt)).as_py():
                return False
            undecided = pc.and_(undecided, pc.invert(lt))
        if not pc.any(undecided).as_py():
            return True
    return True


def _less_greater(prev: pa.ChunkedArray, nxt: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray | None]:
    """(prev < nxt, prev > nxt), elementwise; None for the second when no pair descends. A string
    column of runs (a token, a resolution) is compared for equality once and only its few unequal
    pairs for order, when those pairs are all ascending: one string comparison a row, not two."""
    if pa.types.is_string(prev.type):
        ne = pc.not_equal(prev, nxt)
        if (pc.sum(ne).as_py() or 0) * 8 <= len(ne):
            # (filter, not take: Arrow's take would concatenate a chunked string column first)
            if pc.all(pc.less(prev.filter(ne), nxt.filter(ne))).as_py() is not False:
                return ne, None  # every unequal pair ascends: less = unequal, greater = none
    return pc.less(prev, nxt), pc.greater(prev, nxt)


def _check_unique(table: pa.Table, spec: ArtifactSpec, order: pa.Array | None) -> None:
    if not spec.unique_key or table.num_rows < 2:
        return
    n = table.num_rows
    if _unique_is_sort_prefix(spec):
        equal = None
        for c in spec.unique_key:
            a = table.column(c)
            e = pc.equal(a.slice(0, n - 1), a.slice(1, n - 1))
            equal = e if equal is None else pc.and_(equal, e)
        if not pc.any(equal).as_py():
            return
        i = pc.index(equal, True).as_py() + 1
    else:
        counts = table.group_by(list(spec.unique_key)).aggregate([([], "count_all")])
        if counts.num_rows == n:
            return
        dup = counts.filter(pc.greater(counts.column("count_all"), 1)).slice(0, 1)
        mask = None
        for c in spec.unique_key:
            e = pc.equal(table.column(c), dup.column(c)[0])
            mask = e if mask is None else pc.and_(mask, e)
        i = pc.indices_nonzero(mask)[1].as_py()
    row = order[i].as_py() if order is not None else i
    raise ValidationFailed(
        f"duplicate {'/'.join(spec.unique_key)}: each must appear once",
        column=spec.unique_key[0] if len(spec.unique_key) == 1 else ",".join(spec.unique_key),
        row=row, value={c: _plain(table.column(c)[i].as_py()) for c in spec.unique_key}, rule="unique",
    )


def ts_range_iso(table: pa.Table, spec: ArtifactSpec) -> tuple[str | None, str | None]:
    """(min_ts, max_ts) as the manifest writes them, or (None, None)."""
    from bridge.store.timeutil import iso_from_micros

    lo, hi = ts_range(table, spec)
    return (iso_from_micros(lo) if lo is not None else None, iso_from_micros(hi) if hi is not None else None)


def ts_range(table: pa.Table, spec: ArtifactSpec) -> tuple[int | None, int | None]:
    """(min, max) of the spec's timestamp column in epoch microseconds, or (None, None)."""
    if not spec.ts_column or table.num_rows == 0:
        return None, None
    mm = pc.min_max(table.column(spec.ts_column))
    lo, hi = mm["min"], mm["max"]
    if not lo.is_valid:
        return None, None
    return lo.cast(pa.int64()).as_py(), hi.cast(pa.int64()).as_py()


# ---------------------------------------------------------------------------------------------
# Content hash
# ---------------------------------------------------------------------------------------------

def content_hash(table: pa.Table, spec: ArtifactSpec, *, threads: int = 2) -> str:
    """SHA-256 of the canonical form of a canonical table (see docs/canonical-form.md)."""
    header = {
        "form": CANONICAL_FORM,
        "artifact_type": spec.artifact_type,
        "schema_version": spec.schema_version,
        "columns": [[c.name, c.type, c.nullable] for c in spec.columns],
        "rows": table.num_rows,
    }
    cols = [(c, table.column(c.name)) for c in spec.columns]
    if threads > 1 and table.num_rows > 100_000:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            digests = list(pool.map(lambda ca: _column_digest(*ca), cols))
    else:
        digests = [_column_digest(c, a) for c, a in cols]
    h = hashlib.sha256()
    h.update(json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    for d in digests:
        h.update(d)
    return h.hexdigest()


def _column_digest(col: Column, arr: pa.ChunkedArray) -> bytes:
    """sha256(validity bytes ‖ value bytes): validity one byte a row (only for nullable columns);
    fixed-width values little-endian with nulls as 0; strings as u64 lengths then UTF-8 bytes."""
    h = hashlib.sha256()
    chunks = [c for c in arr.chunks if len(c)]
    if col.nullable:
        for c in chunks:
            h.update(_validity_bytes(c))
    if col.type == "string":
        chunks = [pc.fill_null(c, "") if c.null_count else c for c in chunks]
        for c in chunks:
            for piece in _string_lengths(c):
                h.update(piece)
        for c in chunks:
            h.update(_string_data(c))
    else:
        for c in chunks:
            for piece in _fixed_bytes(c, col.type):
                h.update(piece)
    return h.digest()


def _validity_bytes(chunk: pa.Array) -> bytes | memoryview:
    if chunk.null_count == 0:
        return b"\x01" * len(chunk)
    return memoryview(_values(pc.is_valid(chunk).cast(pa.uint8()), np.uint8))


def _values(chunk: pa.Array, dtype) -> np.ndarray:
    """A fixed-width array's values as a numpy view of its data buffer (no copy; nulls are
    whatever the buffer holds). `Array.to_numpy` would do, but it imports pandas on first use
    (0.3-0.5 s in a fresh process, holding the GIL the Parquet writer's thread needs)."""
    dt = np.dtype(dtype)
    return np.frombuffer(chunk.buffers()[1], dtype=dt, count=len(chunk), offset=chunk.offset * dt.itemsize)


def _offsets(chunk: pa.Array) -> np.ndarray:
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    return np.frombuffer(chunk.buffers()[1], dtype=width, count=len(chunk) + 1, offset=chunk.offset * np.dtype(width).itemsize)


_NEGATIVE_ZERO = np.uint64(1 << 63)  # the bits of -0.0
_SLICE = 1 << 20  # rows per piece of a temporary copy: the hash's extra memory stays ~8 MB a thread


def _string_lengths(chunk: pa.Array) -> Iterator[memoryview]:
    off = _offsets(chunk)
    buf = np.empty(min(len(chunk), _SLICE), dtype="<u8")  # one buffer, refilled for every piece
    for i in range(0, len(chunk), _SLICE):
        m = min(_SLICE, len(chunk) - i)
        np.subtract(off[i + 1 : i + m + 1], off[i : i + m], out=buf[:m], casting="unsafe")
        yield memoryview(buf[:m])


def _string_data(chunk: pa.Array) -> memoryview:
    off = _offsets(chunk)
    data = chunk.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(off[0]) : int(off[-1])]


def _fixed_bytes(chunk: pa.Array, logical: str) -> Iterator[memoryview]:
    if chunk.null_count:
        chunk = pc.fill_null(chunk, False if logical == "bool" else 0)
    if logical == "bool":
        yield memoryview(_values(chunk.cast(pa.uint8()), np.uint8))
        return
    values = _values(chunk, np.float64 if logical == "float64" else np.int64)
    little = values.dtype.newbyteorder("<")
    for i in range(0, len(values), _SLICE):
        piece = values[i : i + _SLICE]
        if logical == "float64" and (piece.view(np.uint64) == _NEGATIVE_ZERO).any():
            piece = piece + 0.0  # -0.0 → 0.0 (a copy only where there is one); NaN/inf were rejected
        yield memoryview(piece.astype(little, copy=False))
