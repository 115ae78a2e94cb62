"""Candle validation: split a candle table into the rows a slice may hold and the rows that go to
`ohlcv_quarantine`, with reasons. Vectorised pyarrow compute (no per-candle Python, and no DuckDB
connection: opening one costs ~10 ms, which dominated small slices in batch exports).

Row rules (a row may break several; `reason` lists them joined by `;`, in this order):
    null_value              a price or the volume is NULL
    non_finite              a price or the volume is NaN or ±inf (stored as NULL in the quarantine:
                            the store refuses non-finite floats)
    high_below_open_close   high < max(open, close)
    low_above_open_close    low > min(open, close)
    negative_volume         volume < 0
Then, among rows that pass, several candles at one (token, resolution, ts):
    duplicate_ts            identical copies: the first (in input order) is kept, the extra copies
                            are quarantined
    duplicate_ts_conflict   copies that disagree: none can be trusted, all are quarantined
The store enforces the same OHLC rules on `ohlcv_slice` (bridge/store/spec.py), so the kept rows
always publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["REASONS", "ROW_RULES", "Split", "split_candles"]

ROW_RULES = ("null_value", "non_finite", "high_below_open_close", "low_above_open_close", "negative_volume")
REASONS = (*ROW_RULES, "duplicate_ts", "duplicate_ts_conflict")

_VALUES = ("open", "high", "low", "close", "volume")
_KEY = ("token", "resolution", "ts")
_SLICE_COLUMNS = (*_KEY, *_VALUES)


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
    import pyarrow as pa
    import pyarrow.compute as pc

    t = candles.select(list(_SLICE_COLUMNS)).combine_chunks()
    for name in _VALUES:
        if t.schema.field(name).type != pa.float64():
            t = t.set_column(t.schema.get_field_index(name), name, t.column(name).cast(pa.float64()))
    reason = _row_reasons(t)
    ok = pc.equal(reason, "")
    if pc.any(ok).as_py():
        dup = _duplicate_reasons(t.filter(ok))
        if dup is not None:
            reason = pc.replace_with_mask(_array(reason), _array(ok), _array(dup))
            ok = pc.equal(reason, "")
    valid = t.filter(ok)
    bad = t.filter(pc.invert(ok))
    rejected = pa.table({
        **{k: bad.column(k) for k in _KEY},
        # the store refuses NaN/±inf even in nullable columns: NULL there, the reason says non_finite
        **{c: pc.if_else(pc.is_finite(bad.column(c)), bad.column(c), pa.scalar(None, pa.float64()))
           for c in _VALUES},
        "reason": _array(reason).filter(pc.invert(ok)),
    })
    return Split(valid=valid, rejected=rejected)


def _row_reasons(t: "pa.Table") -> "pa.Array":
    """Per row: the `;`-joined codes of the row rules it breaks, '' when none. Each rule sets one bit;
    the bit pattern indexes a table of the 32 possible reason texts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = {n: _array(t.column(n)) for n in _VALUES}
    o, h, lo, c, v = (cols[n] for n in _VALUES)
    any_null = _any(pc.is_null(cols[n]) for n in _VALUES)
    finite = _all(pc.fill_null(pc.is_finite(cols[n]), False) for n in _VALUES)
    checks = (
        any_null,
        pc.and_(pc.invert(any_null), pc.invert(finite)),
        pc.and_(finite, pc.fill_null(pc.less(h, pc.max_element_wise(o, c)), False)),
        pc.and_(finite, pc.fill_null(pc.greater(lo, pc.min_element_wise(o, c)), False)),
        pc.and_(finite, pc.fill_null(pc.less(v, 0.0), False)),
    )
    bits = pa.array([0] * t.num_rows, pa.int64()) if t.num_rows else pa.array([], pa.int64())
    for i, mask in enumerate(checks):
        bits = pc.add(bits, pc.multiply(pc.cast(mask, pa.int64()), 1 << i))
    texts = pa.array([";".join(r for i, r in enumerate(ROW_RULES) if p & (1 << i)) for p in range(1 << len(ROW_RULES))])
    return _array(pc.take(texts, bits))


def _duplicate_reasons(t: "pa.Table") -> "pa.Array | None":
    """For rows that passed the row rules: '' / duplicate_ts / duplicate_ts_conflict, in t's order;
    None when no (token, resolution, ts) repeats (the common case, decided without grouping)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = t.num_rows
    if n < 2:
        return None
    idx = pa.array(range(n), pa.int64())
    order = pc.sort_indices(t.append_column("_i", idx), sort_keys=[(k, "ascending") for k in (*_KEY, "_i")])
    s = {k: _array(c) for k, c in zip(t.column_names, t.take(order).columns)}
    same_key = _all(pc.equal(s[k].slice(1), s[k].slice(0, n - 1)) for k in _KEY)
    if not pc.any(same_key).as_py():
        return None
    same_vals = _all(pc.equal(s[k].slice(1), s[k].slice(0, n - 1)) for k in _VALUES)
    equal_prev = pa.concat_arrays([pa.array([False]), same_key])
    differs_prev = pa.concat_arrays([pa.array([False]), pc.and_(same_key, pc.invert(same_vals))])
    run = pc.cumulative_sum(pc.cast(pc.invert(equal_prev), pa.int64()))  # 1-based run number per row
    runs = pa.table({"run": run, "conflict": differs_prev, "one": pa.array([1] * n, pa.int64())}) \
        .group_by("run").aggregate([("conflict", "any"), ("one", "sum")])
    runs = runs.take(pc.sort_indices(runs, sort_keys=[("run", "ascending")]))
    row_run = pc.subtract(run, 1)
    conflict = pc.take(runs.column("conflict_any"), row_run)
    size = pc.take(runs.column("one_sum"), row_run)
    dup_sorted = pc.if_else(
        pc.equal(size, 1), "",
        pc.if_else(conflict, "duplicate_ts_conflict", pc.if_else(equal_prev, "duplicate_ts", "")),
    )
    # back to t's order: position order[j] gets dup_sorted[j]
    return _array(pc.take(dup_sorted, pc.sort_indices(order)))


def _array(x) -> "pa.Array":
    """One contiguous Array (compute results on a ChunkedArray stay chunked)."""
    import pyarrow as pa

    return x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x


def _any(masks) -> "pa.Array":
    import pyarrow.compute as pc

    out = None
    for m in masks:
        out = m if out is None else pc.or_(out, m)
    return out


def _all(masks) -> "pa.Array":
    import pyarrow.compute as pc

    out = None
    for m in masks:
        out = m if out is None else pc.and_(out, m)
    return out
