"""Looking inside one artifact's Parquet file without reading all of it: its schema, its first
rows, and per-column statistics from the file's footer (the row groups' min, max and null
counts, which the writer records; no data page is read for them).

    from bridge.store.inspect import head, column_stats
    table = head(store, artifact_id, 20)      # pyarrow Table of the first 20 rows
    stats = column_stats(store, artifact_id)  # [ColumnStats]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from bridge.store.store import Store

__all__ = ["ColumnStats", "column_stats", "head"]


class ColumnStats(msgspec.Struct, frozen=True, kw_only=True):
    """One column over the whole file. `min`/`max` are None when a row group lacks statistics
    (or the column is all null); `null_count` is None when any row group does not record it."""

    name: str
    type: str
    null_count: int | None
    min: Any = None
    max: Any = None


def head(store: "Store", artifact_id: str, n: int = 20) -> "pa.Table":
    """The first `n` rows (canonical order), reading only the row groups needed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if n < 0:
        from bridge.errors import ValidationFailed

        raise ValidationFailed("n must be >= 0", field="n", value=n)
    art = store.get(artifact_id)
    with store.files.open_input(art.path_parquet) as src, pq.ParquetFile(src) as f:  # a local file or an object
        if n == 0:
            return f.schema_arrow.empty_table()
        batches, got = [], 0
        for batch in f.iter_batches(batch_size=min(max(n, 1), 65_536)):
            batches.append(batch.slice(0, n - got))
            got += batches[-1].num_rows
            if got >= n:
                break
        return pa.Table.from_batches(batches, schema=f.schema_arrow)


def column_stats(store: "Store", artifact_id: str) -> list[ColumnStats]:
    """Per-column type, null count, min and max over the file's row groups (footer only)."""
    import pyarrow.parquet as pq

    art = store.get(artifact_id)
    with store.files.open_input(art.path_parquet) as src, pq.ParquetFile(src) as f:
        meta, arrow = f.metadata, f.schema_arrow
        out = []
        for i in range(meta.num_columns):
            path = meta.schema.column(i).path
            field = arrow.field(path) if path in arrow.names else None
            lo = hi = None
            nulls: int | None = 0
            complete = True
            for g in range(meta.num_row_groups):
                st = meta.row_group(g).column(i).statistics
                if st is None:
                    complete, nulls = False, None
                    continue
                if nulls is not None:
                    nulls = nulls + st.null_count if st.has_null_count else None
                if st.has_min_max:
                    lo = st.min if lo is None or st.min < lo else lo
                    hi = st.max if hi is None or st.max > hi else hi
                else:
                    complete = complete and st.num_values == 0  # all null: nothing to compare
            out.append(ColumnStats(name=path, type=str(field.type) if field is not None else meta.schema.column(i).physical_type,
                                   null_count=nulls, min=lo if complete else None, max=hi if complete else None))
        return out
