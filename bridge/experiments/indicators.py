"""Indicator columns: every (indicator, parameters) a run needs, computed once per token.

`indicator_table(con, candles, specs)` reads the candles (token, ts, open, high, low, close,
volume; one row per token and ts) in (token, ts) order, runs each distinct `IndicatorSpec` once
per token over that token's whole series with TA-Lib (vectorised C, one call per token and
indicator, no Python loop per candle), and returns an Arrow table `(token, ts, <column>...)` with
`signals.column_name(spec, field)` columns. Leading candles without a value (the warm-up) and
undefined values (a division by zero) are null, never NaN.

Causal by construction: every formula below reads the candle and earlier ones only, so appending
candles never changes an earlier value. The formulas and warm-ups are in docs/experiments.md
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


def compute_series(arrays: dict[str, Any], columns: Iterable[tuple[IndicatorSpec, str]]) -> dict[str, Any]:
    """Indicator columns for many tokens at once. `arrays`: numpy arrays `token` (any comparable
    dtype), `open`..`volume` (float64), sorted by (token, ts). Each distinct spec runs once per
    token; returns {column_name: float64 array with NaN for no value}."""
    import numpy as np

    by_spec: dict[IndicatorSpec, set[str]] = {}
    for spec, fld in columns:
        by_spec.setdefault(spec, set()).add(fld)
    tok = arrays["token"]
    n = len(tok)
    out = {column_name(s, f): np.full(n, np.nan) for s, fs in by_spec.items() for f in fs}
    if n == 0:
        return out
    bounds = np.flatnonzero(tok[1:] != tok[:-1]) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [n]))
    o, h, l, c, v = (np.ascontiguousarray(arrays[k], dtype=np.float64)  # noqa: E741
                     for k in ("open", "high", "low", "close", "volume"))
    for a, b in zip(starts.tolist(), ends.tolist()):
        for spec, fields in by_spec.items():
            vals = series_values(spec, o[a:b], h[a:b], l[a:b], c[a:b], v[a:b])
            for f in fields:
                out[column_name(spec, f)][a:b] = vals[f]
    return out


def indicator_table(con, candles: str, columns: Iterable[tuple[IndicatorSpec, str]], *,
                    tokens: str | None = None):
    """The indicator table of `candles` (a DuckDB relation: table name or parenthesised SELECT with
    token, ts (BIGINT microseconds), open, high, low, close, volume), restricted to the tokens
    `tokens` selects (a SELECT returning one `token` column) when given.

    Identical duplicate candles count once; two candles of one token at one ts with different
    values are an error.

    Raises:
        InvalidInput: conflicting duplicate candles.
    """
    import numpy as np
    import pyarrow as pa

    where = f"WHERE token IN ({tokens})" if tokens else ""
    tbl = con.sql(f"""SELECT DISTINCT token, ts, open, high, low, close, volume FROM {candles} {where}
        ORDER BY token, ts""").to_arrow_table()
    tok = tbl.column("token").to_numpy(zero_copy_only=False)
    ts = tbl.column("ts").to_numpy()
    if len(ts) > 1:
        same = (tok[1:] == tok[:-1]) & (ts[1:] == ts[:-1])
        if same.any():
            i = int(np.flatnonzero(same)[0])
            raise InvalidInput(
                f"candles of token {tok[i]!r} at ts {int(ts[i])} (us) share a timestamp with different values; "
                "the input is ambiguous: deduplicate first", token=str(tok[i]), ts=int(ts[i]))
    arrays = {"token": tok, **{k: tbl.column(k).to_numpy(zero_copy_only=False).astype(np.float64)
                               for k in ("open", "high", "low", "close", "volume")}}
    cols = compute_series(arrays, columns)
    return pa.table({"token": tbl.column("token"), "ts": tbl.column("ts"),
                     **{k: pa.array(v, pa.float64(), from_pandas=True) for k, v in sorted(cols.items())}})
