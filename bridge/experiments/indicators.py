"""Indicator columns: every (indicator, parameters) a run needs, computed once per token.

`indicator_table(con, candles, specs)` reads the candles (token, ts, open, high, low, close,
volume; one row per token and ts) in (token, ts) order, runs each distinct `IndicatorSpec` once
per token over that token's whole series with TA-Lib (vectorised C, one call per token and
indicator, no Python loop per candle), and returns an Arrow table `(token, ts, <column>...)` with
`signals.column_name(spec, field)` columns. Leading candles without a value (the warm-up) and
undefined values (a division by zero) are null, never NaN.

Causal by construction: every formula below reads the candle and earlier ones only, so appending
candles never changes an earlier value. The formulas and warm-ups are in docs/signals.md
("Indicators"); `price_change`/`volume_change` and the Ichimoku shift are computed here in numpy
and tests check them against TA-Lib's ROCR/MIDPRICE to 1e-9.
"""

from __future__ import annotations

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
                   starts=None) -> dict[str, Any]:
    """Indicator columns for many tokens at once. `arrays`: numpy arrays `open`..`volume`
    (float64) sorted by (token, ts), and either `token` (any comparable dtype) or `starts` (the
    first row of each token, ascending). Each distinct spec runs once per token; returns
    {column_name: float64 array with NaN for no value}."""
    import numpy as np

    by_spec: dict[IndicatorSpec, set[str]] = {}
    for spec, fld in columns:
        by_spec.setdefault(spec, set()).add(fld)
    n = len(arrays["close"])
    out = {column_name(s, f): np.full(n, np.nan) for s, fs in by_spec.items() for f in fs}
    if n == 0:
        return out
    if starts is None:
        tok = arrays["token"]
        starts = np.r_[0, np.flatnonzero(tok[1:] != tok[:-1]) + 1]
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.r_[starts[1:], n]
    o, h, l, c, v = (np.ascontiguousarray(arrays[k], dtype=np.float64)  # noqa: E741
                     for k in ("open", "high", "low", "close", "volume"))
    for a, b in zip(starts.tolist(), ends.tolist()):
        for spec, fields in by_spec.items():
            vals = series_values(spec, o[a:b], h[a:b], l[a:b], c[a:b], v[a:b])
            for f in fields:
                out[column_name(spec, f)][a:b] = vals[f]
    return out


def indicator_table(con, candles: str, columns: Iterable[tuple[IndicatorSpec, str]], *,
                    tokens: str | None = None, prices: tuple[str, ...] = ()):
    """The indicator table of `candles` (a DuckDB relation: table name or parenthesised SELECT with
    token, ts (BIGINT microseconds), open, high, low, close, volume), restricted to the tokens
    `tokens` selects (a SELECT returning one `token` column) when given; `prices`: candle columns
    (open, high, ...) to include as they are.

    Identical duplicate candles count once; two candles of one token at one ts with different
    values are an error.

    Raises:
        InvalidInput: conflicting duplicate candles.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    where = f"WHERE token IN ({tokens})" if tokens else ""
    tbl = con.sql(f"""SELECT CAST(token AS VARCHAR) AS token, ts, open, high, low, close, volume FROM {candles} {where}
        ORDER BY token, ts""").to_arrow_table().combine_chunks()
    n = tbl.num_rows
    if n > 1:
        # rows of one (token, ts) are adjacent after the sort: a row equal to the one before it is
        # dropped; a row that differs from the one before it is a conflict
        same_key = pc.and_(pc.equal(tbl.column("token").slice(1), tbl.column("token").slice(0, n - 1)),
                           pc.equal(tbl.column("ts").slice(1), tbl.column("ts").slice(0, n - 1)))
        same_key = same_key.to_numpy(zero_copy_only=False)
        if same_key.any():
            vals = [tbl.column(k).to_numpy(zero_copy_only=False) for k in ("open", "high", "low", "close", "volume")]
            same_vals = np.logical_and.reduce([(v[1:] == v[:-1]) | (np.isnan(v[1:]) & np.isnan(v[:-1]))
                                               for v in vals])
            bad = same_key & ~same_vals
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                tok, ts = tbl.column("token")[i].as_py(), tbl.column("ts")[i].as_py()
                raise InvalidInput(
                    f"candles of token {tok!r} at ts {ts} (us) share a timestamp with different values; "
                    "the input is ambiguous: deduplicate first", token=tok, ts=ts)
            tbl = tbl.filter(pa.array(np.r_[True, ~same_key]))
            n = tbl.num_rows
    starts = np.flatnonzero(np.r_[True, pc.not_equal(tbl.column("token").slice(1), tbl.column("token").slice(0, max(n - 1, 0)))
                                  .to_numpy(zero_copy_only=False)]) if n else np.zeros(0, np.int64)
    arrays = {k: tbl.column(k).to_numpy(zero_copy_only=False).astype(np.float64)
              for k in ("open", "high", "low", "close", "volume")}
    cols = compute_series(arrays, columns, starts=starts)
    return pa.table({"token": tbl.column("token"), "ts": tbl.column("ts"), **{k: tbl.column(k) for k in prices},
                     **{k: pa.array(v, pa.float64(), from_pandas=True) for k, v in sorted(cols.items())}})
