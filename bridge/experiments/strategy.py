"""The strategy parameters of a backtest, their validation and their exact meaning.

Long-only, one position per alert, fixed notional. All percentages are percent (50 = +50 %),
fees and slippage are basis points (10 = 0.10 %), times are seconds. docs/experiments.md has
the full rules; the short version:

- entry: the open of the first candle with ts >= alert_ts + entry_delay_seconds
  (skipped as `entry_lag_exceeded` if that candle is more than max_entry_lag_seconds late);
- levels are relative to the entry candle's open (the market price, before slippage):
  take-profit = open * (1 + take_profit_pct/100), stop = open * (1 - stop_loss_pct/100),
  trailing = max(entry open, highs of the *earlier* candles since entry) * (1 - trailing_stop_pct/100);
- max hold: candles with ts < entry_ts + max_hold_seconds are checked for levels; otherwise the
  position exits at the open of the first candle with ts >= that deadline (`max_hold`).
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from bridge.errors import ValidationFailed

__all__ = ["Strategy", "StrategyConfig", "strategy_from_mapping", "SWEEPABLE"]


class StrategyConfig(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One strategy point. camelCase in JSON (takeProfitPct), snake_case in Python."""

    name: str = "tp_sl_trailing"
    resolution: str | None = None            # candle resolution to use; None: the only one present
    entry_delay_seconds: float = 0.0
    max_entry_lag_seconds: float | None = None
    take_profit_pct: float | None = None
    stop_loss_pct: float | None = None
    trailing_stop_pct: float | None = None
    max_hold_seconds: float | None = None
    fee_bps: float = 0.0
    slippage_bps: float = 0.0
    notional: float = 1000.0
    initial_capital: float = 10_000.0
    exit_at_end_of_data: bool = False

    def validate(self) -> "StrategyConfig":
        """Raises:
        ValidationFailed: a parameter is out of range (names the parameter).
        """
        _finite(self, "entry_delay_seconds", lo=0.0)
        _finite(self, "max_entry_lag_seconds", lo=0.0, optional=True)
        _finite(self, "take_profit_pct", lo=0.0, lo_open=True, optional=True)
        _finite(self, "stop_loss_pct", lo=0.0, lo_open=True, hi=100.0, hi_open=True, optional=True)
        _finite(self, "trailing_stop_pct", lo=0.0, lo_open=True, hi=100.0, hi_open=True, optional=True)
        _finite(self, "max_hold_seconds", lo=0.0, lo_open=True, optional=True)
        _finite(self, "fee_bps", lo=0.0, hi=10_000.0, hi_open=True)
        _finite(self, "slippage_bps", lo=0.0, hi=10_000.0, hi_open=True)
        _finite(self, "notional", lo=0.0, lo_open=True)
        _finite(self, "initial_capital", lo=0.0, lo_open=True)
        return self

    def to_json_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


Strategy = StrategyConfig  # the PRD calls it StrategyConfig

# Parameters a sweep may vary (resolution and name are fixed per sweep).
SWEEPABLE = tuple(f for f in StrategyConfig.__struct_fields__ if f not in ("name", "resolution"))


def strategy_from_mapping(data: Any) -> Strategy:
    """A Strategy from a JSON-like mapping (camelCase or snake_case keys).

    Raises:
        ValidationFailed: unknown key, wrong type or out-of-range value (names the field).
    """
    if isinstance(data, Strategy):
        return data.validate()
    if not isinstance(data, dict):
        raise ValidationFailed("strategy must be an object", column="strategy", value=data)
    camel = {_camel(k): v for k, v in data.items()}
    try:
        return msgspec.convert(camel, StrategyConfig).validate()
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"invalid strategy: {exc}", column="strategy") from None


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _finite(s: Strategy, name: str, *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False, optional: bool = False) -> None:
    v = getattr(s, name)
    if v is None:
        if optional:
            return
        raise ValidationFailed(f"strategy.{_camel(name)} is required", column=_camel(name))
    bad = not math.isfinite(v)
    bad = bad or (lo is not None and (v <= lo if lo_open else v < lo))
    bad = bad or (hi is not None and (v >= hi if hi_open else v > hi))
    if bad:
        rng = f"{'(' if lo_open else '['}{lo}, {hi if hi is not None else '∞'}{')' if hi_open or hi is None else ']'}"
        raise ValidationFailed(f"strategy.{_camel(name)} = {v!r} is outside {rng}", column=_camel(name), value=v)
