"""An independent, deliberately plain reference backtest: per alert, per candle, in Python.

It implements the rules of docs/experiments.md ("Engine rules") from the prose, not from the SQL,
so comparing it with bridge.experiments.engine checks the engine. Inputs are lists of dicts
(alerts: alert_id, alert_ts (epoch µs), token_address, chain; candles: token, resolution, ts (µs),
open, high, low, close, volume) and a Strategy.
"""

from __future__ import annotations

from typing import Any

US = 1_000_000


def reference_backtest(alerts: list[dict[str, Any]], candles: list[dict[str, Any]], s, *,
                       resolution: str = "1m", date_from_us=None, date_to_us=None) -> dict[str, dict]:
    """alert_id -> {"skip": reason} or {"entry_us", "exit_us", "entry_price", "exit_price", "pnl",
    "pnl_pct", "exit_reason"}."""
    by_token: dict[str, dict[int, dict]] = {}
    for c in candles:
        if c["resolution"] != resolution:
            continue
        series = by_token.setdefault(c["token"], {})
        key = (c["open"], c["high"], c["low"], c["close"], c["volume"])
        if c["ts"] in series and series[c["ts"]]["key"] != key:
            raise ValueError(f"conflicting candles {c['token']} {c['ts']}")
        series[c["ts"]] = {**c, "key": key}
    sorted_series = {t: [v[ts] for ts in sorted(v)] for t, v in by_token.items()}

    seen: dict[str, dict] = {}
    for a in alerts:
        seen[a["alert_id"]] = a
    out = {}
    for alert_id, a in seen.items():
        ts = a["alert_ts"]
        if ts is not None and date_from_us is not None and ts < date_from_us:
            continue
        if ts is not None and date_to_us is not None and ts >= date_to_us:
            continue
        out[alert_id] = _one(a, sorted_series, s)
    return out


def _one(a, series, s) -> dict:
    if a["alert_ts"] is None or a["token_address"] is None:
        return {"skip": "invalid_alert"}
    cs = series.get(a["token_address"])
    if not cs:
        return {"skip": "no_candles_for_token"}
    target = a["alert_ts"] + round(s.entry_delay_seconds * US)
    i = 0
    while i < len(cs) and cs[i]["ts"] < target:
        i += 1
    if i == len(cs):
        return {"skip": "no_candles_after_alert"}
    entry = cs[i]
    if s.max_entry_lag_seconds is not None and entry["ts"] - target > round(s.max_entry_lag_seconds * US):
        return {"skip": "entry_lag_exceeded"}
    ref = entry["open"]
    deadline = entry["ts"] + round(s.max_hold_seconds * US) if s.max_hold_seconds is not None else None
    tp = ref * (1 + s.take_profit_pct / 100) if s.take_profit_pct is not None else None
    sl = ref * (1 - s.stop_loss_pct / 100) if s.stop_loss_pct is not None else None
    running_high = ref  # highs of candles before the current one, since entry
    exit_ = None
    for c in cs[i:]:
        if deadline is not None and c["ts"] >= deadline:
            exit_ = (c["ts"], "max_hold", c["open"])
            break
        trail = running_high * (1 - s.trailing_stop_pct / 100) if s.trailing_stop_pct is not None else None
        stop, stop_reason = sl, "stop_loss"
        if trail is not None and (stop is None or trail > stop):
            stop, stop_reason = trail, "trailing_stop"
        if stop is not None and c["open"] <= stop:
            exit_ = (c["ts"], stop_reason, c["open"])
        elif tp is not None and c["open"] >= tp:
            exit_ = (c["ts"], "take_profit", c["open"])
        elif stop is not None and c["low"] <= stop:
            exit_ = (c["ts"], stop_reason, stop)
        elif tp is not None and c["high"] >= tp:
            exit_ = (c["ts"], "take_profit", tp)
        if exit_:
            break
        running_high = max(running_high, c["high"])
    if exit_ is None:
        if not s.exit_at_end_of_data:
            return {"skip": "insufficient_horizon"}
        exit_ = (cs[-1]["ts"], "end_of_data", cs[-1]["close"])
    slip, fee = s.slippage_bps / 10000, s.fee_bps / 10000
    entry_price = ref * (1 + slip)
    exit_price = exit_[2] * (1 - slip)
    qty = s.notional / entry_price
    pnl = qty * exit_price * (1 - fee) - s.notional * (1 + fee)
    return {"entry_us": entry["ts"], "exit_us": exit_[0], "exit_reason": exit_[1], "entry_price": entry_price,
            "exit_price": exit_price, "pnl": pnl, "pnl_pct": pnl / s.notional}
