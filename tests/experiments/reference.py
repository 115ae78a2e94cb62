"""An independent, deliberately plain reference backtest: per alert, one candle at a time, in Python.

It implements the rules of docs/experiments.md ("Engine rules") from the prose, not from the SQL,
so comparing it with bridge.experiments.engine checks the engine fill for fill. Inputs are lists
of dicts (alerts: alert_id, alert_ts (epoch µs), token_address, chain; candles: token, resolution,
ts (µs), open, high, low, close, volume) and a Strategy.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pandas as pd

from tests.experiments.signal_reference import evaluate_group

US = 1_000_000


def _acting(cs: list[dict], group) -> list[bool]:
    """Signal acting at each candle's open: true at the close of the token's previous candle
    (docs/signals.md), evaluated candle by candle by the plain signal reference."""
    if group is None:
        return []
    df = pd.DataFrame({k: [c[k] for c in cs] for k in ("open", "high", "low", "close", "volume")})
    sig, _ = evaluate_group(msgspec.to_builtins(group), df)
    return [False] + sig[:-1]


def reference_backtest(alerts: list[dict[str, Any]], candles: list[dict[str, Any]], s, *,
                       resolution: str = "1m", step_us: int = 60 * US, date_from_us=None,
                       date_to_us=None) -> dict[str, dict]:
    """alert_id -> {"skip": reason} or {"entry_us", "exit_us", "entry_price", "exit_price", "pnl",
    "pnl_pct", "exit_reason", "fills": [fill dicts in order]}."""
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
        out[alert_id] = _one(a, sorted_series, s, step_us)
    return out


def _us(seconds):
    return None if seconds is None else round(seconds * US)


def _entry(cs, i, s, wait_end, gate):
    """(index, price before slippage, level, intra) of the first entry, or a skip reason.
    `gate(j)`: the entry signal acts at candle j (always, without an entry signal)."""
    ac = cs[i]
    p0 = ac["open"]
    dip, reb = s.entry_dip_pct, s.entry_rebound_pct
    if dip is None and reb is None and s.entry_signal is None:
        return i, p0, None, False
    if dip is None and reb is None:
        for j in range(i, len(cs)):
            if cs[j]["ts"] >= wait_end:
                break
            if gate(j):
                return j, cs[j]["open"], None, False
        return "entry_signal_not_met" if cs[-1]["ts"] >= wait_end else "insufficient_horizon"
    level = p0 * (1 - dip / 100) if dip is not None else None
    armed = dip is None
    low = p0 if dip is None else None   # lowest price seen since the alert (or since the dip), earlier candles
    for j in range(i, len(cs)):
        c = cs[j]
        if c["ts"] >= wait_end:
            break
        if not armed:
            if c["low"] <= level:
                if reb is None:
                    if gate(j):
                        return j, min(c["open"], level), level, c["open"] > level
                    continue
                armed, low = True, min(level, c["low"])
            continue
        trigger = low * (1 + reb / 100)
        if c["high"] >= trigger and gate(j):
            return j, max(c["open"], trigger), trigger, c["open"] < trigger
        low = min(low, c["low"])
    if cs[-1]["ts"] < wait_end:
        return "insufficient_horizon"
    return "entry_signal_not_met" if s.entry_signal is not None else "entry_not_triggered"


def _stop(s, e, high):
    """(level, reason) of the stop for a candle whose earlier highs since entry peak at `high`."""
    cands = []
    if s.stop_loss_pct is not None:
        cands.append((e * (1 - s.stop_loss_pct / 100), "stop_loss"))
    if s.break_even_trigger_pct is not None and high >= e * (1 + s.break_even_trigger_pct / 100):
        cands.append((e, "break_even"))
    if s.trailing_stop_pct is not None:
        cands.append((high * (1 - s.trailing_stop_pct / 100), "trailing_stop"))
    if not cands:
        return None, None
    level = max(v for v, _ in cands)
    return level, next(r for v, r in cands if v == level)  # ties: stop_loss, then break_even, then trailing


def _one(a, series, s, step_us) -> dict:
    if a["alert_ts"] is None or a["token_address"] is None:
        return {"skip": "invalid_alert"}
    cs = series.get(a["token_address"])
    if not cs:
        return {"skip": "no_candles_for_token"}
    target = a["alert_ts"] + _us(s.entry_delay_seconds)
    i = 0
    while i < len(cs) and cs[i]["ts"] < target:
        i += 1
    if i == len(cs):
        return {"skip": "no_candles_after_alert"}
    if s.max_entry_lag_seconds is not None and cs[i]["ts"] - target > _us(s.max_entry_lag_seconds):
        return {"skip": "entry_lag_exceeded"}
    entry_act, exit_act = _acting(cs, s.entry_signal), _acting(cs, s.exit_signal)
    leg_acts = [_acting(cs, leg.signal) for leg in s.legs()]
    got = _entry(cs, i, s, target + _us(s.wait_seconds), lambda j: not entry_act or entry_act[j])
    if isinstance(got, str):
        return {"skip": got}
    j0, e, level, intra = got
    deadline = cs[j0]["ts"] + _us(s.max_hold_seconds) if s.max_hold_seconds is not None else None
    legs = [(leg.take_profit_pct, leg.size_pct) for leg in s.legs()]
    eslip, xslip, fee = s.entry_slippage / 10000, s.exit_slippage / 10000, s.fee_bps / 10000
    max_cycles = 1 + (s.max_re_entries if s.re_entry_retrace_pct is not None else 0)
    fills: list[dict] = []
    cycle, size = 0, 1.0
    while True:
        price = e * (1 + eslip)
        notional = size * s.notional
        qty = notional / price
        fills.append(dict(cycle=cycle, side="buy", reason="entry" if cycle == 0 else "re_entry", leg=None,
                          ts=cs[j0]["ts"], level=level, price=price, qty=qty, notional=notional))

        def sell(reason, leg, ts, lvl, fill, part):
            p = fill * (1 - xslip)
            q = qty * part
            fills.append(dict(cycle=cycle, side="sell", reason=reason, leg=leg, ts=ts, level=lvl, price=p, qty=q,
                              notional=q * p))

        targets = [e * (1 + tp / 100) for tp, _ in legs]
        done = [False] * len(legs)
        filled = 0.0
        high = e
        flat = None  # (index, "legs" | "stop" | "max_hold" | "exit_signal")

        def gate(k, j):
            return not leg_acts[k] or leg_acts[k][j]

        for j in range(j0, len(cs)):
            c = cs[j]
            rest = (100 - filled) / 100
            if deadline is not None and c["ts"] >= deadline:
                sell("max_hold", None, c["ts"], None, c["open"], rest)
                flat = (j, "max_hold")
                break
            if exit_act and j > j0 and exit_act[j]:
                sell("exit_signal", None, c["ts"], None, c["open"], rest)
                flat = (j, "exit_signal")
                break
            first_intra = j == j0 and intra
            stop, why = _stop(s, e, high)
            if stop is not None and not first_intra and c["open"] <= stop:
                sell(why, None, c["ts"], stop, c["open"], rest)
                flat = (j, "stop")
                break
            if not first_intra:
                for k, t in enumerate(targets):
                    if not done[k] and c["open"] >= t and gate(k, j):
                        done[k], filled = True, filled + legs[k][1]
                        sell("take_profit", k, c["ts"], t, c["open"], legs[k][1] / 100)
                if filled >= 100 - 1e-9:
                    flat = (j, "legs")
                    break
            rest = (100 - filled) / 100
            if stop is not None and c["low"] <= stop:
                sell(why, None, c["ts"], stop, stop, rest)
                flat = (j, "stop")
                break
            if not first_intra:
                for k, t in enumerate(targets):
                    if not done[k] and c["high"] >= t and gate(k, j):
                        done[k], filled = True, filled + legs[k][1]
                        sell("take_profit", k, c["ts"], t, t, legs[k][1] / 100)
                if filled >= 100 - 1e-9:
                    flat = (j, "legs")
                    break
                high = max(high, c["high"])
        if flat is None:  # the data ended with the position open
            if not s.exit_at_end_of_data:
                return {"skip": "insufficient_horizon"}
            sell("end_of_data", None, cs[-1]["ts"] + step_us, None, cs[-1]["close"], (100 - filled) / 100)
            break
        jf, how = flat
        if how in ("max_hold", "exit_signal") or cycle + 1 >= max_cycles:
            break
        ref = targets[-1] if how == "legs" else e
        lvl = ref * (1 - s.re_entry_retrace_pct / 100)
        nxt = None
        for j in range(jf + 1, len(cs)):
            c = cs[j]
            if deadline is not None and c["ts"] >= deadline:
                break
            if c["low"] <= lvl:
                nxt = j
                break
        if nxt is None:
            break
        cycle, size = cycle + 1, s.re_entry_size_pct / 100
        j0, e, level, intra = nxt, min(cs[nxt]["open"], lvl), lvl, cs[nxt]["open"] > lvl
    for f in fills:
        f["fee"] = f["notional"] * fee
    buys = [f for f in fills if f["side"] == "buy"]
    sells = [f for f in fills if f["side"] == "sell"]
    proceeds = sum(f["qty"] * f["price"] * (1 - fee) for f in sells)
    cost = sum(f["notional"] * (1 + fee) for f in buys)
    pnl = proceeds - cost
    entry_price = buys[0]["price"] if len(buys) == 1 else sum(f["notional"] for f in buys) / sum(f["qty"] for f in buys)
    exit_price = sells[0]["price"] if len(sells) == 1 else \
        sum(f["qty"] * f["price"] for f in sells) / sum(f["qty"] for f in sells)
    return {"entry_us": buys[0]["ts"], "exit_us": fills[-1]["ts"], "exit_reason": fills[-1]["reason"],
            "entry_price": entry_price, "exit_price": exit_price, "pnl": pnl, "pnl_pct": pnl / s.notional,
            "fills": fills}
