"""A plain reference for signals, written from docs/signals.md, not
from the SQL: indicators straight from TA-Lib (VWMA as TA-Lib SUM(close*volume)/SUM(volume),
Ichimoku lines as TA-Lib MIDPRICE shifted with pandas), conditions and groups evaluated candle by candle in Python."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import talib


def reference_indicator(name: str, params: dict[str, float], fld: str, df: pd.DataFrame) -> list[float | None]:
    """One indicator field over one token's candles (df sorted by ts), None where no value."""
    o, h, lo, c, v = (df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume"))
    p = {k: int(x) if float(x).is_integer() else float(x) for k, x in params.items()}
    if name == "rsi":
        x = talib.RSI(c, p.get("period", 14))
    elif name == "macd":
        m, s, hist = talib.MACD(c, p.get("fast", 12), p.get("slow", 26), p.get("signal", 9))
        x = {"macd": m, "signal": s, "histogram": hist}[fld]
    elif name == "sma":
        x = talib.SMA(c, p.get("period", 20))
    elif name == "ema":
        x = talib.EMA(c, p.get("period", 20))
    elif name == "vwma":
        n = p.get("period", 20)
        pv, vol = talib.SUM(c * v, n), talib.SUM(v, n)
        x = np.where(vol > 0, pv / np.where(vol > 0, vol, 1.0), np.nan)
    elif name == "bbands":
        k = float(p.get("stddev", 2.0))
        up, mid, low = talib.BBANDS(c, p.get("period", 20), k, k, 0)
        x = {"upper": up, "middle": mid, "lower": low}[fld]
    elif name == "atr":
        x = talib.ATR(h, lo, c, p.get("period", 14))
    elif name == "ichimoku_cloud":
        t, k, b, d = p.get("tenkan", 9), p.get("kijun", 26), p.get("senkou_b", 52), p.get("displacement", 26)
        mid = lambda n: pd.Series(talib.MIDPRICE(h, lo, n))  # noqa: E731  (max(high) + min(low)) / 2
        x = {"tenkan": mid(t), "kijun": mid(k), "senkou_a": ((mid(t) + mid(k)) / 2).shift(d),
             "senkou_b": mid(b).shift(d)}[fld].to_numpy()
    elif name in ("price_change", "volume_change"):
        s = df["close" if name == "price_change" else "volume"]
        n = p.get("period", 1)
        prev = s.shift(n)
        x = np.where(prev != 0, s / prev.where(prev != 0) - 1, np.nan)
    elif name == "price":
        x = df[fld].to_numpy(np.float64)
    else:
        raise ValueError(name)
    return [None if (e is None or math.isnan(e) or math.isinf(e)) else float(e) for e in np.asarray(x, np.float64)]


def _cmp(op: str, a: float, b: float) -> bool:
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b, "==": a == b, "!=": a != b}[op]


def evaluate_condition(cond: dict[str, Any], df: pd.DataFrame) -> tuple[list[bool], list[bool]]:
    """(holds, lacks_history) per candle."""
    lhs = reference_indicator(cond["indicator"], cond.get("params", {}), cond.get("field", "value"), df)
    if cond.get("secondaryIndicator") is not None:
        rhs = reference_indicator(cond["secondaryIndicator"], cond.get("secondaryParams", {}),
                                  cond.get("secondaryField") or cond.get("field", "value"), df)
    else:
        rhs = [float(cond["value"])] * len(df)
    op = cond["operator"]
    raw, lacks = [], []
    for t in range(len(df)):
        if op in ("crosses_above", "crosses_below"):
            vals = [lhs[t], rhs[t]] + ([lhs[t - 1], rhs[t - 1]] if t > 0 else [None, None])
            if any(x is None for x in vals):
                raw.append(False)
                lacks.append(True)
                continue
            if op == "crosses_above":
                raw.append(lhs[t] > rhs[t] and lhs[t - 1] <= rhs[t - 1])
            else:
                raw.append(lhs[t] < rhs[t] and lhs[t - 1] >= rhs[t - 1])
            lacks.append(False)
        else:
            if lhs[t] is None or rhs[t] is None:
                raw.append(False)
                lacks.append(True)
            else:
                raw.append(_cmp(op, lhs[t], rhs[t]))
                lacks.append(False)
    n, m = cond.get("lookbackBars") or 1, cond.get("minBarsTrue") or 1
    held = []
    for t in range(len(df)):
        window = raw[max(0, t - n + 1): t + 1]
        held.append(sum(window) >= m)
    return held, lacks


def evaluate_group(group: dict[str, Any], df: pd.DataFrame) -> tuple[list[bool], list[bool]]:
    """(signal at each candle's close, some condition lacked history)."""
    parts = [evaluate_condition(c, df) for c in group.get("conditions", [])]
    parts += [evaluate_group(g, df) for g in group.get("groups", [])]
    n = len(df)
    combine = all if group.get("logic", "AND") == "AND" else any
    sig = [combine(p[0][t] for p in parts) for t in range(n)]
    lacks = [any(p[1][t] for p in parts) for t in range(n)]
    return sig, lacks
