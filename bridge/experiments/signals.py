"""Declarative indicator signals: the types, their validation and the indicator catalogue.

A signal is a group `{logic: AND|OR, conditions: [...], groups: [...]}` (groups nest); a condition
compares one indicator field with a constant (`value`) or with a second indicator field
(`secondaryIndicator`), candle by candle, optionally "true in at least `minBarsTrue` of the last
`lookbackBars` candles". docs/signals.md has the exact rules:

- every indicator is computed per token over that token's candles of the run's resolution, in
  ts order, causally (a candle's value uses that candle and earlier ones only);
- a condition is evaluated at the close of each candle; it is false where an operand has no value
  yet (warm-up), and such candles are counted in the diagnostics;
- a signal true at candle t acts at the open of the token's next candle t+1.

Periods and other parameters are `params` of the condition (`{"period": 14}`); a parameter left
out takes the documented default (`INDICATORS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import msgspec

from bridge.errors import ValidationFailed

__all__ = [
    "INDICATORS", "OPERATORS", "IndicatorDef", "IndicatorSpec", "SignalCondition", "SignalGroup",
    "column_name", "condition_operands", "signal_indicators", "validate_signal",
]

Operator = Literal[">", ">=", "<", "<=", "==", "!=", "crosses_above", "crosses_below"]
OPERATORS: tuple[str, ...] = (">", ">=", "<", "<=", "==", "!=", "crosses_above", "crosses_below")
MAX_LOOKBACK = 100_000


class _S(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, kw_only=True, omit_defaults=True):
    pass


class SignalCondition(_S):
    """One comparison, evaluated at the close of every candle.

    `indicator`/`field`/`params`: the left operand (e.g. `rsi`, `value`, `{"period": 14}`);
    the right operand is `value`, or `secondaryIndicator`/`secondaryField`/`secondaryParams`
    (secondaryField defaults to `field`). `lookbackBars`/`minBarsTrue`: the condition holds at a
    candle when its comparison held in at least minBarsTrue of the last lookbackBars candles
    (that candle included); both default to 1.
    """

    indicator: str
    operator: Operator
    field: str = "value"
    value: float | None = None
    params: dict[str, float] = {}
    secondary_indicator: str | None = None
    secondary_field: str | None = None
    secondary_params: dict[str, float] = {}
    lookback_bars: int | None = None
    min_bars_true: int | None = None


class SignalGroup(_S):
    """`logic` over the group's conditions and nested groups (at least one of either)."""

    logic: Literal["AND", "OR"] = "AND"
    conditions: list[SignalCondition] = []
    groups: list["SignalGroup"] = []


@dataclass(frozen=True)
class IndicatorDef:
    """One indicator of the catalogue: parameters (name, default, smallest value, integer?),
    fields, the warm-up in candles per field (`warmup(params, field)`: the number of leading
    candles of a token without a value), and where the numbers come from."""

    name: str
    params: tuple[tuple[str, float, float, bool], ...]
    fields: tuple[str, ...]
    source: str


INDICATORS: dict[str, IndicatorDef] = {d.name: d for d in (
    IndicatorDef("rsi", (("period", 14, 2, True),), ("value",), "TA-Lib RSI (Wilder)"),
    IndicatorDef("macd", (("fast", 12, 2, True), ("slow", 26, 2, True), ("signal", 9, 1, True)),
                 ("macd", "signal", "histogram"), "TA-Lib MACD"),
    IndicatorDef("sma", (("period", 20, 2, True),), ("value",), "TA-Lib SMA"),
    IndicatorDef("ema", (("period", 20, 2, True),), ("value",), "TA-Lib EMA"),
    IndicatorDef("vwma", (("period", 20, 1, True),), ("value",), "TA-Lib SUM(close*volume)/SUM(volume)"),
    IndicatorDef("bbands", (("period", 20, 2, True), ("stddev", 2.0, 0.0, False)),
                 ("upper", "middle", "lower"), "TA-Lib BBANDS (SMA middle, population stddev)"),
    IndicatorDef("atr", (("period", 14, 1, True),), ("value",), "TA-Lib ATR (Wilder)"),
    IndicatorDef("ichimoku_cloud", (("tenkan", 9, 2, True), ("kijun", 26, 2, True), ("senkou_b", 52, 2, True),
                                    ("displacement", 26, 0, True)),
                 ("tenkan", "kijun", "senkou_a", "senkou_b"), "TA-Lib MIDPRICE, shifted by displacement"),
    IndicatorDef("price_change", (("period", 1, 1, True),), ("value",), "close / close n candles earlier - 1"),
    IndicatorDef("volume_change", (("period", 1, 1, True),), ("value",), "volume / volume n candles earlier - 1"),
    IndicatorDef("price", (), ("open", "high", "low", "close", "volume"), "the candle itself"),
)}


@dataclass(frozen=True, order=True)
class IndicatorSpec:
    """An indicator with every parameter resolved: what is computed once per token."""

    name: str
    params: tuple[float, ...]

    @property
    def key(self) -> str:
        return "_".join([self.name, *(_fmt(p) for p in self.params)])

    def param(self, name: str) -> float:
        names = [p[0] for p in INDICATORS[self.name].params]
        return self.params[names.index(name)]

    def warmup(self, field: str) -> int:
        """Leading candles of a token without a value (TA-Lib's lookback)."""
        p = dict(zip((q[0] for q in INDICATORS[self.name].params), (int(v) if v == int(v) else v
                                                                      for v in self.params)))
        n = self.name
        if n in ("rsi", "atr", "price_change", "volume_change"):
            return int(p["period"])
        if n in ("sma", "ema", "vwma", "bbands"):
            return int(p["period"]) - 1
        if n == "macd":
            return int(p["slow"]) - 1 + int(p["signal"]) - 1
        if n == "ichimoku_cloud":
            t, k, b, d = int(p["tenkan"]) - 1, int(p["kijun"]) - 1, int(p["senkou_b"]) - 1, int(p["displacement"])
            return {"tenkan": t, "kijun": k, "senkou_a": max(t, k) + d, "senkou_b": b + d}[field]
        return 0


def _fmt(v: float) -> str:
    if v == int(v):
        return str(int(v))
    return repr(float(v)).replace(".", "p").replace("-", "m")


def column_name(spec: IndicatorSpec, field: str) -> str:
    """The indicator table's column of one field, e.g. `rsi_14__value`, `bbands_20_2__lower`."""
    return f"{spec.key}__{field}"


def _spec(name: str, params: dict[str, float], path: str, ppath: str) -> IndicatorSpec:
    if name == "custom":
        raise ValidationFailed(
            f"{path}: indicator 'custom' is not supported: we run no user code; express the signal "
            f"with the built-in indicators ({', '.join(INDICATORS)})", column=path, value=name)
    d = INDICATORS.get(name)
    if d is None:
        raise ValidationFailed(f"{path}: unknown indicator {name!r} (known: {', '.join(INDICATORS)})",
                               column=path, value=name)
    known = [p[0] for p in d.params]
    for k in params:
        if k not in known:
            raise ValidationFailed(
                f"{ppath}.{k}: unknown parameter of {name} (parameters: {', '.join(known) or 'none'})",
                column=f"{ppath}.{k}", value=k)
    values = []
    for pname, default, lo, integer in d.params:
        v = params.get(pname, default)
        where = f"{ppath}.{pname}"
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValidationFailed(f"{where}: must be a finite number", column=where, value=v)
        if integer and v != int(v):
            raise ValidationFailed(f"{where}: must be a whole number of candles, got {v!r}", column=where, value=v)
        if v < lo or v > MAX_LOOKBACK:
            raise ValidationFailed(f"{where}: {v!r} is outside [{lo:g}, {MAX_LOOKBACK}]", column=where, value=v)
        values.append(float(v))
    spec = IndicatorSpec(name, tuple(values))
    if name == "macd" and spec.param("fast") >= spec.param("slow"):
        raise ValidationFailed(f"{ppath}: macd needs fast < slow, got fast={_fmt(spec.param('fast'))} "
                               f"slow={_fmt(spec.param('slow'))}", column=ppath)
    return spec


def condition_operands(c: SignalCondition, path: str = "condition"
                       ) -> tuple[tuple[IndicatorSpec, str], tuple[IndicatorSpec, str] | None]:
    """((spec, field), (spec, field) or None for a constant), validated.

    Raises:
        ValidationFailed: unknown indicator, parameter or field, `custom`, a missing or doubled
            right operand, or a bad lookback; the message starts with the condition's path.
    """
    lhs = _spec(c.indicator, c.params, f"{path}.indicator", f"{path}.params")
    _field(lhs, c.field, f"{path}.field")
    rhs = None
    if c.secondary_indicator is not None:
        if c.value is not None:
            raise ValidationFailed(f"{path}: give either value or secondaryIndicator, not both", column=path)
        rspec = _spec(c.secondary_indicator, c.secondary_params, f"{path}.secondaryIndicator",
                      f"{path}.secondaryParams")
        rfield = c.secondary_field if c.secondary_field is not None else c.field
        _field(rspec, rfield, f"{path}.secondaryField" if c.secondary_field is not None else f"{path}.field")
        rhs = (rspec, rfield)
        if rhs == (lhs, c.field):
            raise ValidationFailed(
                f"{path}: compares {lhs.key}.{c.field} with itself; give the two indicators different params "
                f"(e.g. params {{\"period\": 9}} and secondaryParams {{\"period\": 21}})", column=path)
    else:
        if c.secondary_field is not None or c.secondary_params:
            raise ValidationFailed(f"{path}: secondaryField/secondaryParams need a secondaryIndicator", column=path)
        if c.value is None:
            raise ValidationFailed(f"{path}.value: a condition needs a value or a secondaryIndicator",
                                   column=f"{path}.value")
        if not math.isfinite(c.value):
            raise ValidationFailed(f"{path}.value: must be finite", column=f"{path}.value", value=c.value)
    n, m = c.lookback_bars, c.min_bars_true
    if n is not None and not 1 <= n <= MAX_LOOKBACK:
        raise ValidationFailed(f"{path}.lookbackBars: {n} is outside [1, {MAX_LOOKBACK}]",
                               column=f"{path}.lookbackBars", value=n)
    if m is not None and not 1 <= m <= (n or 1):
        raise ValidationFailed(f"{path}.minBarsTrue: {m} is outside [1, lookbackBars={n or 1}]",
                               column=f"{path}.minBarsTrue", value=m)
    return (lhs, c.field), rhs


def _field(spec: IndicatorSpec, field: str, path: str) -> None:
    fields = INDICATORS[spec.name].fields
    if field not in fields:
        raise ValidationFailed(f"{path}: unknown field {field!r} of {spec.name} (fields: {', '.join(fields)})",
                               column=path, value=field)


def validate_signal(g: SignalGroup, path: str = "signal") -> SignalGroup:
    """Check a whole group tree; returns it.

    Raises:
        ValidationFailed: the first problem, with its path (e.g. `entrySignal.groups[0].conditions[1].field`).
    """
    if not g.conditions and not g.groups:
        raise ValidationFailed(f"{path}: a signal group needs at least one condition or group", column=path)
    for i, c in enumerate(g.conditions):
        condition_operands(c, f"{path}.conditions[{i}]")
    for i, sub in enumerate(g.groups):
        validate_signal(sub, f"{path}.groups[{i}]")
    return g


def signal_indicators(g: SignalGroup) -> set[tuple[IndicatorSpec, str]]:
    """Every (indicator, field) a signal reads."""
    out: set[tuple[IndicatorSpec, str]] = set()
    for c in g.conditions:
        lhs, rhs = condition_operands(c)
        out.add(lhs)
        if rhs is not None:
            out.add(rhs)
    for sub in g.groups:
        out |= signal_indicators(sub)
    return out
