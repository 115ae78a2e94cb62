"""Import of the researchers' scenario format (their TypeScript simulator's JSON) into StrategyConfig.

A file is one scenario, or `{version, global: {defaults}, scenarios: [...]}`; each scenario's
sections (`stopLoss`, `entry`, `reEntry`, `costs`) are merged key by key over `global.defaults`.
Unknown fields are refused with their path; every field that maps with a different rule gets a
note. The mapping and the differences are tabled in docs/experiments.md ("Importing scenarios").

    from bridge.experiments.scenario import convert_scenarios
    for c in convert_scenarios(json.load(open("scenarios.json"))):
        c.name, c.strategy, c.notes
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from bridge.errors import ValidationFailed
from bridge.experiments.signals import INDICATORS, SignalGroup, signal_indicators, validate_signal
from bridge.experiments.strategy import LadderLeg, StrategyConfig

__all__ = ["ConvertedScenario", "DEFAULT_TAKER_FEE_BPS", "convert_scenarios"]

DEFAULT_TAKER_FEE_BPS = 25.0      # the simulator's default
DEFAULT_MAX_WAIT_MINUTES = 60.0   # the simulator's default

NoneOr = Literal["none"] | None


class _T(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class _Leg(_T):
    target: float
    percent: float


class _StopLoss(_T):
    initial: float | None = None
    trailing: float | NoneOr = None


class _Entry(_T):
    initialEntry: float | NoneOr = None       # noqa: N815 (their names)
    trailingEntry: float | NoneOr = None      # noqa: N815
    maxWaitTime: float | None = None          # noqa: N815


class _ReEntry(_T):
    trailingReEntry: float | NoneOr = None    # noqa: N815
    maxReEntries: int | None = None           # noqa: N815
    sizePercent: float | None = None          # noqa: N815


class _Costs(_T):
    entrySlippageBps: float | None = None     # noqa: N815
    exitSlippageBps: float | None = None      # noqa: N815
    takerFeeBps: float | None = None          # noqa: N815
    borrowAprBps: float | None = None         # noqa: N815


class _Scenario(_T):
    name: str | None = None
    data: dict[str, Any] | None = None        # alert selection: not part of a strategy
    strategy: list[_Leg] | None = None
    stopLoss: _StopLoss | None = None         # noqa: N815
    entry: _Entry | None = None
    reEntry: _ReEntry | None = None           # noqa: N815
    costs: _Costs | None = None
    entrySignal: Any = None                   # noqa: N815 (a SignalGroup, decoded with its path)
    exitSignal: Any = None                    # noqa: N815


_SECTIONS = ("stopLoss", "entry", "reEntry", "costs")
_TOP = ("version", "global", "scenarios")


@dataclass
class ConvertedScenario:
    name: str
    strategy: StrategyConfig
    notes: list[str] = field(default_factory=list)


def convert_scenarios(data: Any) -> list[ConvertedScenario]:
    """Every scenario of a file (or one scenario object) as a validated StrategyConfig with notes.

    Raises:
        ValidationFailed: an unknown field (its path), a value out of range, an unsupported feature.
    """
    if not isinstance(data, dict):
        raise ValidationFailed("a scenario file is a JSON object", path="$")
    if "scenarios" in data:
        extra = sorted(set(data) - set(_TOP))
        if extra:
            raise ValidationFailed(f"$: unknown field {extra[0]!r} (a scenario file has {', '.join(_TOP)})",
                                   path=f"$.{extra[0]}")
        glob = data.get("global") or {}
        if not isinstance(glob, dict) or set(glob) - {"defaults"}:
            raise ValidationFailed("$.global: expected {\"defaults\": {...}}", path="$.global")
        defaults = glob.get("defaults") or {}
        _decode(defaults, "$.global.defaults")
        scenarios = data["scenarios"]
        if not isinstance(scenarios, list) or not scenarios:
            raise ValidationFailed("$.scenarios must be a non-empty list", path="$.scenarios")
        items = [(f"$.scenarios[{i}]", s) for i, s in enumerate(scenarios)]
    else:
        defaults, items = {}, [("$", data)]
    out, names = [], set()
    for path, raw in items:
        if not isinstance(raw, dict):
            raise ValidationFailed(f"{path}: a scenario is a JSON object", path=path)
        merged = _merge(defaults, raw)
        sc = _decode(merged, path)
        c = _convert(sc, path, fallback_name=f"scenario-{len(out) + 1}")
        if c.name in names:
            raise ValidationFailed(f"{path}.name: {c.name!r} is used by an earlier scenario", path=f"{path}.name")
        names.add(c.name)
        out.append(c)
    return out


def _merge(defaults: dict, scenario: dict) -> dict:
    out = {k: v for k, v in defaults.items()}
    for k, v in scenario.items():
        if k in _SECTIONS and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def _decode(obj: Any, path: str) -> _Scenario:
    try:
        return msgspec.convert(obj, _Scenario)
    except msgspec.ValidationError as exc:
        msg = str(exc).replace("`$", f"`{path}")
        if " - at `" not in msg:
            msg = f"{msg} - at `{path}`"
        raise ValidationFailed(f"scenario: {msg}", path=path) from None


def _signal(raw: Any, path: str, notes: list[str]) -> SignalGroup:
    """Their signal group is ours (a subset: no params); indicators take the documented default
    periods (docs/signals.md), noted once per indicator."""
    try:
        g = msgspec.convert(raw, SignalGroup)
    except msgspec.ValidationError as exc:
        msg = str(exc).replace("`$", f"`{path}")
        if " - at `" not in msg:
            msg = f"{msg} - at `{path}`"
        raise ValidationFailed(f"scenario: {msg}", path=path) from None
    validate_signal(g, path)
    used = sorted({spec for spec, _ in signal_indicators(g)})
    defaults = [f"{s.name}({', '.join(f'{p[0]}={v:g}' for p, v in zip(INDICATORS[s.name].params, s.params))})"
                for s in used if INDICATORS[s.name].params]
    if defaults:
        notes.append(f"{path.rsplit('.', 1)[-1]}: periods not given in the scenario, defaults used: {', '.join(defaults)}")
    return g


def _pct(x: float) -> float:
    return round(x * 100.0, 9)


def _convert(sc: _Scenario, path: str, *, fallback_name: str) -> ConvertedScenario:
    notes: list[str] = []
    fields: dict[str, Any] = {"name": sc.name or fallback_name}
    if sc.data is not None:
        notes.append("data (the alert selection) is not part of a strategy: choose the alerts with inputs.alerts")
    for sig, key in (("entrySignal", "entry_signal"), ("exitSignal", "exit_signal")):
        if getattr(sc, sig) is not None:
            fields[key] = _signal(getattr(sc, sig), f"{path}.{sig}", notes)
    if sc.strategy:
        legs = []
        for i, leg in enumerate(sc.strategy):
            if not leg.target > 1:
                raise ValidationFailed(f"{path}.strategy[{i}].target = {leg.target!r}: a profit target is a multiple "
                                       "of the entry price above 1 (2 = 2×)", path=f"{path}.strategy[{i}].target")
            if not 0 < leg.percent <= 1:
                raise ValidationFailed(f"{path}.strategy[{i}].percent = {leg.percent!r} is outside (0, 1]",
                                       path=f"{path}.strategy[{i}].percent")
            legs.append(LadderLeg(take_profit_pct=_pct(leg.target - 1), size_pct=_pct(leg.percent)))
        fields["ladder"] = legs
        if len(legs) > 1:
            notes.append("strategy: several legs can fill in one candle when its range reaches them (the simulator "
                         "fills one leg per candle)")
    sl = sc.stopLoss
    if sl is not None:
        if sl.initial is not None:
            if not -0.99 <= sl.initial < 0:
                raise ValidationFailed(f"{path}.stopLoss.initial = {sl.initial!r} is outside [-0.99, 0) (0 would stop "
                                       "at the entry price at once; leave it out for no stop)",
                                       path=f"{path}.stopLoss.initial")
            fields["stop_loss_pct"] = _pct(-sl.initial)
        if isinstance(sl.trailing, (int, float)):
            if sl.trailing < 0:
                raise ValidationFailed(f"{path}.stopLoss.trailing = {sl.trailing!r} must be >= 0 or \"none\"",
                                       path=f"{path}.stopLoss.trailing")
            fields["break_even_trigger_pct"] = _pct(sl.trailing)
            notes.append("stopLoss.trailing: the stop moves to the entry price from the candle after the one whose "
                         "high reached the trigger (a candle's own high never moves its own stop)")
    en = sc.entry
    if en is not None:
        dip = en.initialEntry if isinstance(en.initialEntry, (int, float)) else None
        reb = en.trailingEntry if isinstance(en.trailingEntry, (int, float)) else None
        if dip is not None:
            if not -0.99 <= dip <= 0:
                raise ValidationFailed(f"{path}.entry.initialEntry = {dip!r} is outside [-0.99, 0]",
                                       path=f"{path}.entry.initialEntry")
            if dip < 0:
                fields["entry_dip_pct"] = _pct(-dip)
        if reb is not None:
            if reb < 0:
                raise ValidationFailed(f"{path}.entry.trailingEntry = {reb!r} must be >= 0 or \"none\"",
                                       path=f"{path}.entry.trailingEntry")
            fields["entry_rebound_pct"] = _pct(reb)
            notes.append("entry.trailingEntry: the rebound is measured from the lowest low of the candles before "
                         "the current one (the simulator finds the low of the whole wait window first: look-ahead)")
        if "entry_dip_pct" in fields or "entry_rebound_pct" in fields or "entry_signal" in fields:
            wait = en.maxWaitTime if en.maxWaitTime is not None else DEFAULT_MAX_WAIT_MINUTES
            if not wait > 0:
                raise ValidationFailed(f"{path}.entry.maxWaitTime = {wait!r} must be > 0 (minutes)",
                                       path=f"{path}.entry.maxWaitTime")
            fields["entry_max_wait_seconds"] = float(wait) * 60.0
    re_ = sc.reEntry
    if re_ is not None and isinstance(re_.trailingReEntry, (int, float)) and (re_.maxReEntries or 0) > 0:
        if not 0 <= re_.trailingReEntry < 1:
            raise ValidationFailed(f"{path}.reEntry.trailingReEntry = {re_.trailingReEntry!r} is outside [0, 1)",
                                   path=f"{path}.reEntry.trailingReEntry")
        if not 0 <= re_.maxReEntries <= 10:
            raise ValidationFailed(f"{path}.reEntry.maxReEntries = {re_.maxReEntries!r} is outside 0..10",
                                   path=f"{path}.reEntry.maxReEntries")
        size = re_.sizePercent if re_.sizePercent is not None else 1.0
        if not 0 < size <= 1:
            raise ValidationFailed(f"{path}.reEntry.sizePercent = {size!r} is outside (0, 1]",
                                   path=f"{path}.reEntry.sizePercent")
        fields["re_entry_retrace_pct"] = _pct(re_.trailingReEntry)
        fields["max_re_entries"] = re_.maxReEntries
        fields["re_entry_size_pct"] = _pct(size)
        notes.append("reEntry: a re-entry waits until the position is flat (after a stop, or after the last ladder "
                     "leg), from the next candle on, and buys sizePercent of the first position's notional")
    co = sc.costs
    fee = co.takerFeeBps if co is not None and co.takerFeeBps is not None else None
    if fee is None:
        fee = DEFAULT_TAKER_FEE_BPS
        notes.append(f"costs.takerFeeBps not given: the simulator's default {DEFAULT_TAKER_FEE_BPS:g} bps")
    fields["fee_bps"] = float(fee)
    if co is not None:
        if co.entrySlippageBps is not None:
            fields["entry_slippage_bps"] = float(co.entrySlippageBps)
        if co.exitSlippageBps is not None:
            fields["exit_slippage_bps"] = float(co.exitSlippageBps)
        if co.borrowAprBps:
            raise ValidationFailed(f"{path}.costs.borrowAprBps = {co.borrowAprBps!r}: borrow costs apply to short "
                                   "positions and this engine is long-only; set it to 0", path=f"{path}.costs.borrowAprBps")
    try:
        strategy = StrategyConfig(**fields).validate()
    except ValidationFailed as exc:
        raise ValidationFailed(f"{path}: {exc}", path=path) from None
    return ConvertedScenario(name=strategy.name, strategy=strategy, notes=notes)
