"""Indicator columns: every (indicator, parameters) a run needs, computed once per token.

`indicator_table(con, candles, specs)` reads the candles (token, ts, open, high, low, close,
volume; one row per token and ts) in (token, ts) order, runs each distinct `IndicatorSpec` once
per token from the token's first candle with TA-Lib (vectorised C, one call per token and
indicator, no Python loop per candle), and returns an Arrow table `(token, ts, seg, core,
<column>...)` with `signals.column_name(spec, field)` columns: every candle, or with `windows`
only the candles of those windows (reading each token only up to the last candle they need).
Leading candles without a value (the warm-up) and undefined values (a division by zero) are null,
never NaN.

Causal by construction: every formula below reads the candle and earlier ones only, so appending
candles never changes an earlier value. The formulas and warm-ups are in docs/signals.md
("Indicators"); `price_change`/`volume_change` and the Ichimoku shift are computed here in numpy
and tests check them against TA-Lib's ROCR/MIDPRICE to 1e-9.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from bridge.errors import InvalidInput
from bridge.experiments.signals import IndicatorSpec, column_name

__all__ = ["compute_series", "indicator_table", "series_values"]


def series_values(spec: IndicatorSpec, o, h, l, c, v) -> dict[str, Any]:  # noqa: E741
    """Every field of one indicator over one token's candles (float64 numpy arrays in ts order);
    NaN where there is no value."""
    import numpy as np
    import talib

    name = spec.name
    p = {k[0]: val for k, val in zip(_params(name), spec.params)}
    if name == "rsi":
        return {"value": talib.RSI(c, timeperiod=int(p["period"]))}
    if name == "macd":
        m, s, hist = talib.MACD(c, fastperiod=int(p["fast"]), slowperiod=int(p["slow"]), signalperiod=int(p["signal"]))
        return {"macd": m, "signal": s, "histogram": hist}
    if name == "sma":
        return {"value": talib.SMA(c, timeperiod=int(p["period"]))}
    if name == "ema":
        return {"value": talib.EMA(c, timeperiod=int(p["period"]))}
    if name == "vwma":
        n = int(p["period"])
        pv, vol = talib.SUM(c * v, timeperiod=n), talib.SUM(v, timeperiod=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"value": np.where(vol > 0, pv / np.where(vol > 0, vol, 1.0), np.nan)}
    if name == "bbands":
        k = float(p["stddev"])
        up, mid, low = talib.BBANDS(c, timeperiod=int(p["period"]), nbdevup=k, nbdevdn=k, matype=0)
        return {"upper": up, "middle": mid, "lower": low}
    if name == "atr":
        return {"value": talib.ATR(h, l, c, timeperiod=int(p["period"]))}
    if name == "ichimoku_cloud":
        d = int(p["displacement"])
        tenkan = talib.MIDPRICE(h, l, timeperiod=int(p["tenkan"]))
        kijun = talib.MIDPRICE(h, l, timeperiod=int(p["kijun"]))
        span_b = talib.MIDPRICE(h, l, timeperiod=int(p["senkou_b"]))
        return {"tenkan": tenkan, "kijun": kijun, "senkou_a": _shift((tenkan + kijun) / 2.0, d),
                "senkou_b": _shift(span_b, d)}
    if name in ("price_change", "volume_change"):
        x = c if name == "price_change" else v
        return {"value": _change(x, int(p["period"]))}
    if name == "price":
        return {"open": o, "high": h, "low": l, "close": c, "volume": v}
    raise InvalidInput(f"unknown indicator {name!r}")  # validated earlier; never reached


def _params(name: str):
    from bridge.experiments.signals import INDICATORS

    return INDICATORS[name].params


def _shift(x, d: int):
    """x moved d candles later: out[t] = x[t - d] (the value known d candles ago)."""
    import numpy as np

    if d == 0:
        return x
    out = np.full_like(x, np.nan)
    out[d:] = x[:-d]
    return out


def _change(x, n: int):
    """x[t] / x[t - n] - 1; NaN for the first n candles and where x[t - n] == 0."""
    import numpy as np

    out = np.full_like(x, np.nan)
    if len(x) > n:
        prev = x[:-n]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[n:] = np.where(prev != 0, x[n:] / np.where(prev != 0, prev, 1.0) - 1.0, np.nan)
    return out


def compute_series(arrays: dict[str, Any], columns: Iterable[tuple[IndicatorSpec, str]], *,
                   starts=None, keep=None) -> dict[str, Any]:
    """Indicator columns for many tokens at once. `arrays`: numpy arrays `open`..`volume`
    (float64) sorted by (token, ts), and either `token` (any comparable dtype) or `starts` (the
    first row of each token, ascending). Each distinct spec runs once per token, over all the
    token's rows; `keep` (a boolean mask over the rows) returns only the kept rows' values.
    Returns {column_name: float64 array with NaN for no value}."""
    import numpy as np

    by_spec: dict[IndicatorSpec, set[str]] = {}
    for spec, fld in columns:
        by_spec.setdefault(spec, set()).add(fld)
    n = len(arrays["close"])
    n_out = n if keep is None else int(np.count_nonzero(keep))
    out = {column_name(s, f): np.full(n_out, np.nan) for s, fs in by_spec.items() for f in fs}
    if n == 0 or n_out == 0:
        return out
    if starts is None:
        tok = arrays["token"]
        starts = np.r_[0, np.flatnonzero(tok[1:] != tok[:-1]) + 1]
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.r_[starts[1:], n]
    o, h, l, c, v = (np.ascontiguousarray(arrays[k], dtype=np.float64)  # noqa: E741
                     for k in ("open", "high", "low", "close", "volume"))
    # where each token's kept rows go in the output
    at = starts if keep is None else np.r_[0, np.cumsum(keep)][starts]
    for a, b, k0 in zip(starts.tolist(), ends.tolist(), at.tolist()):
        mask = None if keep is None else keep[a:b]
        if mask is not None and not mask.any():
            continue
        for spec, fields in by_spec.items():
            vals = series_values(spec, o[a:b], h[a:b], l[a:b], c[a:b], v[a:b])
            for f in fields:
                x = vals[f] if mask is None else vals[f][mask]
                out[column_name(spec, f)][k0:k0 + len(x)] = x
    return out


def indicator_table(con, candles: str, columns: Iterable[tuple[IndicatorSpec, str]], *,
                    tokens: str | None = None, windows: str | None = None, depth: int = 0,
                    through_hi: bool = False, prices: tuple[str, ...] = ()):
    """The indicator table of `candles` (a DuckDB relation: table name or parenthesised SELECT with
    token, ts (BIGINT microseconds), open, high, low, close, volume).

    Rows: every candle of every token, or of the tokens `tokens` selects (a SELECT returning one
    `token` column), or, with `windows` (a SELECT returning `token`, `lo_us`, `hi_us`, BIGINT µs),
    only the candles the windows need: for each window, from `depth` candles before the token's
    first candle with ts >= lo_us through its first candle with ts >= hi_us (its last candle when
    there is none or hi_us is NULL; lo_us NULL: from its first candle); the union over windows.
    `through_hi`: each window ends at its last candle with ts <= hi_us instead (no look-up of the
    candle after it).
    Every indicator is computed from the token's first candle over every candle up to the last one
    a window needs, so each value equals the one the token's whole series gives (the indicators are
    causal); only the rows returned are restricted. Columns: token, ts, `seg` (BIGINT: one number
    per run of consecutive returned candles of one token; window functions over the rows
    partition by it), `core` (BOOLEAN: the candle is inside a window, not only among the `depth`
    before one; a window without a candle at or after lo_us has the token's last candle), the
    `prices` candle columns (open, high, ...) as they are, and one column per (indicator, field).

    Identical duplicate candles count once; two candles of one token at one ts with different
    values are an error (among the candles read: each token's, up to the last one needed).

    Raises:
        InvalidInput: conflicting duplicate candles.
    """
    import numpy as np
    import pyarrow as pa

    if windows is None:
        where = f"WHERE CAST(token AS VARCHAR) IN ({tokens})" if tokens else ""
        windows = (f"SELECT DISTINCT CAST(token AS VARCHAR) AS token, NULL::BIGINT AS lo_us, NULL::BIGINT AS hi_us "
                   f"FROM {candles} {where}")
    tk = f"_ind_tk_{uuid.uuid4().hex[:10]}"
    # per token: the last candle any window needs (its first candle at or after the largest hi_us;
    # none, or a NULL hi_us: the token's last candle); tokens numbered in name order
    last = "SELECT token, hi AS last_ts FROM wt" if through_hi else f"""
        SELECT wt.token, min(c.ts) AS last_ts FROM {candles} c JOIN wt ON CAST(c.token AS VARCHAR) = wt.token
        AND c.ts >= wt.hi GROUP BY wt.token"""
    con.execute(f"""CREATE TEMP TABLE {tk} AS
        WITH w AS (SELECT CAST(token AS VARCHAR) AS token, hi_us FROM ({windows}) WHERE token IS NOT NULL),
        wt AS (SELECT token, CASE WHEN bool_or(hi_us IS NULL) THEN NULL ELSE max(hi_us) END AS hi FROM w GROUP BY token),
        last AS ({last})
        SELECT wt.token, (row_number() OVER (ORDER BY wt.token) - 1)::INTEGER AS tid, last.last_ts
        FROM wt LEFT JOIN last ON last.token = wt.token""")
    try:
        names = con.sql(f"SELECT token FROM {tk} ORDER BY tid").to_arrow_table().column(0).combine_chunks()
        win = con.sql(f"""SELECT tk.tid, coalesce(w.lo_us, {-_BIG}) AS lo_us, coalesce(w.hi_us, {_BIG}) AS hi_us
            FROM ({windows}) w JOIN {tk} tk ON tk.token = CAST(w.token AS VARCHAR) ORDER BY tk.tid""").fetchnumpy()
        tbl = con.sql(f"""SELECT tk.tid, c.ts, c.open, c.high, c.low, c.close, c.volume
            FROM {candles} c JOIN {tk} tk ON CAST(c.token AS VARCHAR) = tk.token
            WHERE c.ts <= coalesce(tk.last_ts, {_BIG}) ORDER BY tk.tid, c.ts""").to_arrow_table().combine_chunks()
        # (a candle without ts has no place in the series: `c.ts <= ...` leaves it out, as every
        # join of the engine does)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {tk}")
    tid = tbl.column("tid").to_numpy(zero_copy_only=False)
    ts = tbl.column("ts").to_numpy(zero_copy_only=False)
    arrays = {k: tbl.column(k).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
              for k in ("open", "high", "low", "close", "volume")}
    rows = _dedup(tid, ts, arrays, names)  # the fetched rows kept (None: all)
    if rows is not None:
        tid, ts, arrays = tid[rows], ts[rows], {k: v[rows] for k, v in arrays.items()}
    n = len(ts)
    starts = np.flatnonzero(np.r_[True, tid[1:] != tid[:-1]]) if n else np.zeros(0, np.int64)
    ends = np.r_[starts[1:], n].astype(np.int64)
    keep, core = _window_rows(tid, ts, starts, ends, np.asarray(win["tid"], dtype=np.int32),
                              np.asarray(win["lo_us"], dtype=np.int64), np.asarray(win["hi_us"], dtype=np.int64),
                              int(depth), through_hi)
    cols = compute_series(arrays, columns, starts=starts, keep=keep)
    del arrays
    idx = np.flatnonzero(keep)
    taken = idx if rows is None else rows[idx]
    seg = np.cumsum(np.r_[True, (np.diff(idx) != 1) | (tid[idx][1:] != tid[idx][:-1])] if len(idx) else
                    np.zeros(0, bool), dtype=np.int64)
    token = pa.DictionaryArray.from_arrays(pa.array(tid[idx], pa.int32()), names.cast(pa.string()))
    return pa.table({"token": token, "ts": pa.array(ts[idx], pa.int64()), "seg": pa.array(seg, pa.int64()),
                     "core": pa.array(core[idx]),
                     **{k: tbl.column(k).take(pa.array(taken)) for k in prices},
                     **{k: pa.array(v, pa.float64(), from_pandas=True) for k, v in sorted(cols.items())}})


_BIG = 9_223_372_036_854_775_807


def _dedup(tid, ts, arrays, names):
    """The rows to keep (indices), or None for all: a row equal to the one before it (same token,
    ts and values) is dropped; a row with the same token and ts but different values is an error.

    Raises:
        InvalidInput: conflicting duplicates.
    """
    import numpy as np

    if len(ts) < 2:
        return None
    same_key = (tid[1:] == tid[:-1]) & (ts[1:] == ts[:-1])
    if not same_key.any():
        return None
    same_vals = np.logical_and.reduce([(v[1:] == v[:-1]) | (np.isnan(v[1:]) & np.isnan(v[:-1]))
                                       for v in arrays.values()])
    bad = same_key & ~same_vals
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        tok, t = names[int(tid[i])].as_py(), int(ts[i])
        raise InvalidInput(
            f"candles of token {tok!r} at ts {t} (us) share a timestamp with different values; "
            "the input is ambiguous: deduplicate first", token=tok, ts=t)
    return np.flatnonzero(np.r_[True, ~same_key])


def _window_rows(tid, ts, starts, ends, w_tid, w_lo, w_hi, depth: int, through_hi: bool = False):
    """(keep, core): boolean masks of the rows (sorted by tid, ts) inside some window: core from
    the token's first row with ts >= lo (its last row if none) through its first row with ts >= hi
    (its last row if none; with through_hi, its last row with ts <= hi, at least the first);
    keep adds the `depth` rows before each window. One vectorised
    searchsorted per token over all its windows (windows sorted by tid)."""
    import numpy as np

    n = len(ts)
    diff = np.zeros(n + 1, dtype=np.int64)
    dcore = np.zeros(n + 1, dtype=np.int64)
    if n == 0 or len(w_tid) == 0:
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    spans = {int(t): (int(a), int(b)) for t, a, b in zip(tid[starts], starts, ends)}
    bounds = np.flatnonzero(np.r_[True, w_tid[1:] != w_tid[:-1], True])
    for i, j in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        span = spans.get(int(w_tid[i]))
        if span is None:  # no candles
            continue
        a, b = span
        t = ts[a:b]
        first = np.minimum(a + np.searchsorted(t, w_lo[i:j], "left"), b - 1)
        hi = a + np.searchsorted(t, w_hi[i:j], "right") - 1 if through_hi else a + np.searchsorted(t, w_hi[i:j], "left")
        hi = np.maximum(np.minimum(hi, b - 1), first)
        lo = np.maximum(first - depth, a)
        np.add.at(diff, lo, 1)
        np.add.at(diff, hi + 1, -1)
        np.add.at(dcore, first, 1)
        np.add.at(dcore, hi + 1, -1)
    return np.cumsum(diff[:-1]) > 0, np.cumsum(dcore[:-1]) > 0
