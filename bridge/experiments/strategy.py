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

import json
import math
from typing import Any

import msgspec

from bridge.errors import ValidationFailed
from bridge.experiments.signals import SignalGroup, validate_signal

__all__ = ["LadderLeg", "Strategy", "StrategyConfig", "strategy_from_mapping", "SWEEPABLE", "MAX_LEGS",
           "MAX_RE_ENTRIES", "OPTIONAL_FEATURES"]

MAX_LEGS = 10
MAX_RE_ENTRIES = 10
DEFAULT_ENTRY_WAIT_SECONDS = 3600.0


class LadderLeg(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, kw_only=True,
                omit_defaults=True):
    """One profit-target leg: sell `sizePct` percent of the cycle's initial size when the price reaches
    entry × (1 + takeProfitPct/100) (100 = 2×). With a `signal`, the leg is gated: it may fill in a
    candle only if the signal was true at the close of the token's candle before it
    (docs/signals.md)."""

    take_profit_pct: float
    size_pct: float
    signal: SignalGroup | None = None


class StrategyConfig(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One strategy point. camelCase in JSON (takeProfitPct), snake_case in Python.

    Percentages are percent (50 = +50 %), costs basis points, times seconds. The fields after
    `exitAtEndOfData` (ladder, break-even, dip/rebound entries, re-entries, separate entry/exit
    slippage) are left out of the strategy's canonical JSON while they hold their defaults, so
    strategies that do not use them keep their ids.
    """

    name: str = "tp_sl_trailing"
    resolution: str | None = None            # candle resolution to use; None: the only one present
    entry_delay_seconds: float = 0.0
    max_entry_lag_seconds: float | None = None
    take_profit_pct: float | None = None     # one target for the whole position (= a one-leg 100 % ladder)
    stop_loss_pct: float | None = None
    trailing_stop_pct: float | None = None
    max_hold_seconds: float | None = None
    fee_bps: float = 0.0                     # taker fee, each fill
    slippage_bps: float = 0.0                # default of entry/exit slippage
    notional: float = 1000.0
    initial_capital: float = 10_000.0
    exit_at_end_of_data: bool = False
    # -- ladders, break-even, entries, re-entries, costs (docs/experiments.md "Strategy rules") --
    ladder: list[LadderLeg] | None = None    # profit-target legs, ascending targets, sizes sum <= 100
    break_even_trigger_pct: float | None = None  # once an earlier high reaches entry × (1 + x/100), stop >= entry
    entry_dip_pct: float | None = None       # wait for a dip to alert price × (1 − x/100) and buy there
    entry_rebound_pct: float | None = None   # buy when the price rebounds x % off its low since the alert (or the dip)
    entry_max_wait_seconds: float | None = None  # wait limit of dip/rebound entries and entry signals (None: 3600)
    re_entry_retrace_pct: float | None = None    # after a flat exit, buy back at reference × (1 − x/100)
    max_re_entries: int = 0                  # 0..10
    re_entry_size_pct: float = 100.0         # re-entry notional, percent of `notional`
    entry_slippage_bps: float | None = None  # None: slippageBps
    exit_slippage_bps: float | None = None   # None: slippageBps
    # -- indicator signals (docs/signals.md) --
    entry_signal: SignalGroup | None = None  # entry filter: enter only where it acts, within the wait limit
    exit_signal: SignalGroup | None = None   # exit the rest at the next open when it holds

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
        _finite(self, "break_even_trigger_pct", lo=0.0, lo_open=True, optional=True)
        _finite(self, "entry_dip_pct", lo=0.0, hi=100.0, hi_open=True, optional=True)
        _finite(self, "entry_rebound_pct", lo=0.0, optional=True)
        _finite(self, "entry_max_wait_seconds", lo=0.0, lo_open=True, optional=True)
        _finite(self, "re_entry_retrace_pct", lo=0.0, hi=100.0, hi_open=True, optional=True)
        _finite(self, "max_re_entries", lo=0, hi=MAX_RE_ENTRIES)
        _finite(self, "re_entry_size_pct", lo=0.0, lo_open=True, hi=100.0)
        _finite(self, "entry_slippage_bps", lo=0.0, hi=10_000.0, hi_open=True, optional=True)
        _finite(self, "exit_slippage_bps", lo=0.0, hi=10_000.0, hi_open=True, optional=True)
        if self.ladder is not None:
            if self.take_profit_pct is not None:
                raise ValidationFailed("strategy: give takeProfitPct or ladder, not both (takeProfitPct X is the "
                                       "ladder [{takeProfitPct: X, sizePct: 100}])", column="ladder")
            if not self.ladder:
                raise ValidationFailed("strategy.ladder is empty: leave it out or give at least one leg",
                                       column="ladder")
            if len(self.ladder) > MAX_LEGS:
                raise ValidationFailed(f"strategy.ladder has {len(self.ladder)} legs; at most {MAX_LEGS}",
                                       column="ladder")
            for i, leg in enumerate(self.ladder):
                _leg_value(leg.take_profit_pct, f"ladder[{i}].takeProfitPct", lo=0.0, hi=None)
                _leg_value(leg.size_pct, f"ladder[{i}].sizePct", lo=0.0, hi=100.0)
                if i and leg.take_profit_pct < self.ladder[i - 1].take_profit_pct:
                    raise ValidationFailed(f"strategy.ladder[{i}].takeProfitPct = {leg.take_profit_pct!r} is below "
                                           f"ladder[{i - 1}]: legs must be in ascending order of target",
                                           column=f"ladder[{i}].takeProfitPct", value=leg.take_profit_pct)
            total = sum(leg.size_pct for leg in self.ladder)
            if total > 100.0 + 1e-9:
                raise ValidationFailed(f"strategy.ladder sizes add up to {total:g} %, more than 100 %",
                                       column="ladder", value=total)
        if self.entry_signal is not None:
            validate_signal(self.entry_signal, "strategy.entrySignal")
        if self.exit_signal is not None:
            validate_signal(self.exit_signal, "strategy.exitSignal")
        for i, leg in enumerate(self.ladder or []):
            if leg.signal is not None:
                validate_signal(leg.signal, f"strategy.ladder[{i}].signal")
        if self.re_entry_retrace_pct is None and self.max_re_entries:
            raise ValidationFailed("strategy.maxReEntries > 0 needs reEntryRetracePct", column="maxReEntries",
                                   value=self.max_re_entries)
        return self

    def signals(self) -> list[SignalGroup]:
        """Every signal of the strategy: entry, exit, then gated legs."""
        out = [g for g in (self.entry_signal, self.exit_signal) if g is not None]
        return out + [leg.signal for leg in (self.ladder or []) if leg.signal is not None]

    def legs(self) -> list[LadderLeg]:
        """The profit-target legs the engine runs: the ladder, or takeProfitPct as one 100 % leg."""
        if self.ladder is not None:
            return list(self.ladder)
        if self.take_profit_pct is not None:
            return [LadderLeg(take_profit_pct=self.take_profit_pct, size_pct=100.0)]
        return []

    @property
    def entry_slippage(self) -> float:
        return self.slippage_bps if self.entry_slippage_bps is None else self.entry_slippage_bps

    @property
    def exit_slippage(self) -> float:
        return self.slippage_bps if self.exit_slippage_bps is None else self.exit_slippage_bps

    @property
    def wait_seconds(self) -> float:
        return DEFAULT_ENTRY_WAIT_SECONDS if self.entry_max_wait_seconds is None else self.entry_max_wait_seconds

    def to_json_dict(self) -> dict[str, Any]:
        """The canonical JSON object (camelCase): every field, except the optional features at
        their defaults (so a strategy that does not use them has the same JSON, and ids, as before
        they existed)."""
        out = msgspec.to_builtins(self)
        for name in OPTIONAL_FEATURES:
            key = _camel(name)
            if key in out and out[key] == _DEFAULTS[name]:
                del out[key]
        return out

    def canonical_json(self) -> str:
        """Sorted keys, no spaces: the text a strategy artifact stores and hashes."""
        # through the declared types first, so 100 and 100.0 (a Python int in a float field) agree
        typed = msgspec.convert(msgspec.to_builtins(self), StrategyConfig)
        return json.dumps(typed.to_json_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)


Strategy = StrategyConfig  # the PRD calls it StrategyConfig

# Fields left out of the canonical JSON while at their defaults (added after 1.0.0 of the engine).
OPTIONAL_FEATURES = tuple(StrategyConfig.__struct_fields__[StrategyConfig.__struct_fields__.index("ladder"):])
_DEFAULTS = {name: msgspec.to_builtins(default) for name, default in
             zip(StrategyConfig.__struct_fields__, StrategyConfig.__struct_defaults__)}

# Parameters a sweep may vary (resolution and name are fixed per sweep). Ladder legs are swept
# by path: `ladder.0.takeProfitPct`.
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


def _leg_value(v: float, path: str, *, lo: float, hi: float | None) -> None:
    if not math.isfinite(v) or v <= lo or (hi is not None and v > hi):
        rng = f"({lo}, {hi if hi is not None else '∞'}{']' if hi is not None else ')'}"
        raise ValidationFailed(f"strategy.{path} = {v!r} is outside {rng}", column=path, value=v)


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
