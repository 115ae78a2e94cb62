"""Signals in strategies: declaration, validation paths, scenario import, sweep paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.errors import ValidationFailed
from bridge.experiments.runner import _apply_grid_point, _check_grid
from bridge.experiments.scenario import convert_scenarios
from bridge.experiments.strategy import StrategyConfig, strategy_from_mapping

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "strategy-scenarios.json"  # the researchers' example
RSI = {"conditions": [{"indicator": "rsi", "field": "value", "operator": "<", "value": 30}]}
CROSS = {"conditions": [{"indicator": "ema", "params": {"period": 9}, "operator": "crosses_below",
                         "secondaryIndicator": "ema", "secondaryParams": {"period": 21}}]}


def test_strategy_carries_signals_and_round_trips():
    s = strategy_from_mapping({"takeProfitPct": 50, "entrySignal": RSI, "exitSignal": CROSS,
                               "entryMaxWaitSeconds": 600})
    again = strategy_from_mapping(json.loads(s.canonical_json()))
    assert again == s and len(s.signals()) == 2
    assert '"entrySignal":{"conditions":[{"indicator":"rsi","operator":"<","value":30.0}]}' \
        in s.canonical_json()
    plain = strategy_from_mapping({"ladder": [{"takeProfitPct": 100, "sizePct": 50}]})
    assert "signal" not in plain.canonical_json() and "Signal" not in plain.canonical_json()
    gated = strategy_from_mapping({"ladder": [{"takeProfitPct": 100, "sizePct": 50, "signal": RSI}]})
    assert gated.signals() == [gated.ladder[0].signal]


@pytest.mark.parametrize("mapping, msg", [
    ({"entrySignal": {"conditions": [{"indicator": "rsii", "operator": "<", "value": 1}]}},
     r"strategy\.entrySignal\.conditions\[0\]\.indicator: unknown indicator 'rsii'"),
    ({"exitSignal": {"logic": "OR", "conditions": [], "groups": [
        {"conditions": [{"indicator": "macd", "field": "hist", "operator": "<", "value": 0}]}]}},
     r"strategy\.exitSignal\.groups\[0\]\.conditions\[0\]\.field: unknown field 'hist' of macd"),
    ({"ladder": [{"takeProfitPct": 100, "sizePct": 50,
                  "signal": {"conditions": [{"indicator": "custom", "operator": ">", "value": 1}]}}]},
     r"strategy\.ladder\[0\]\.signal\.conditions\[0\]\.indicator: indicator 'custom' is not supported"),
    ({"entrySignal": {"conditions": [{"indicator": "ema", "operator": "crosses_above", "secondaryIndicator": "ema"}]}},
     r"strategy\.entrySignal\.conditions\[0\]: compares ema_20\.value with itself"),
    ({"entrySignal": {"conditions": [{"indicator": "rsi", "operator": "crosses", "value": 1}]}},
     r"Invalid enum value 'crosses' - at `\$\.entrySignal\.conditions\[0\]\.operator`"),
])
def test_bad_signals_in_a_strategy_name_their_path(mapping, msg):
    with pytest.raises(ValidationFailed, match=msg):
        strategy_from_mapping(mapping)


def test_the_researchers_fixture_imports_with_default_periods():
    out = {c.name: c for c in convert_scenarios(json.loads(FIXTURE.read_text()))}
    c = out["rsi-filtered-entry"]
    s: StrategyConfig = c.strategy
    assert s.entry_signal.conditions[0].indicator == "rsi" and s.entry_signal.conditions[0].value == 35
    assert s.exit_signal.logic == "OR" and s.exit_signal.conditions[1].lookback_bars == 5
    assert "entrySignal: periods not given in the scenario, defaults used: rsi(period=14)" in c.notes
    assert any("price_change(period=1), rsi(period=14)" in n for n in c.notes)
    assert s.entry_max_wait_seconds == 3600.0
    assert all(out[n].strategy.entry_signal is None for n in out if n != "rsi-filtered-entry")


@pytest.mark.parametrize("signal, msg", [
    ({"logic": "AND", "conditions": [{"indicator": "custom", "field": "value", "operator": ">", "value": 1}]},
     r"\$\.scenarios\[0\]\.entrySignal\.conditions\[0\]\.indicator: indicator 'custom' is not supported: we run no user code"),
    ({"logic": "AND", "conditions": [{"indicator": "rsi", "field": "value", "operator": "~", "value": 1}]},
     r"Invalid enum value '~' - at `\$\.scenarios\[0\]\.entrySignal\.conditions\[0\]\.operator`"),
    ({"logic": "XOR", "conditions": []}, r"at `\$\.scenarios\[0\]\.entrySignal\.logic`"),
    ({"logic": "AND", "conditions": [{"indicator": "rsi", "field": "value", "operator": ">", "value": 1, "code": "x"}]},
     r"Object contains unknown field `code` - at `\$\.scenarios\[0\]\.entrySignal\.conditions\[0\]`"),
])
def test_import_refuses_bad_signals_with_their_path(signal, msg):
    with pytest.raises(ValidationFailed, match=msg):
        convert_scenarios({"version": "1", "scenarios": [{"name": "x", "strategy": [{"target": 2, "percent": 1}],
                                                          "entrySignal": signal}]})


def test_sweep_paths_into_signals():
    base = strategy_from_mapping({"takeProfitPct": 50, "entrySignal": RSI, "exitSignal": CROSS}).to_json_dict()
    grid = _check_grid({"entrySignal.conditions.0.value": [25, 30, 35],
                        "entrySignal.conditions.0.params.period": [7, 14],
                        "exitSignal.conditions.0.secondaryParams.period": [21, 50]})
    s = strategy_from_mapping(_apply_grid_point(base, {k: v[-1] for k, v in grid.items()}))
    c = s.entry_signal.conditions[0]
    assert c.value == 35 and c.params == {"period": 14}
    assert s.exit_signal.conditions[0].secondary_params == {"period": 50}
    assert base["entrySignal"]["conditions"][0]["value"] == 30  # the base is not modified
    with pytest.raises(ValidationFailed, match=r"entrySignal\.conditions\.3 does not exist"):
        _apply_grid_point(base, {"entrySignal.conditions.3.value": 1})
    with pytest.raises(ValidationFailed, match=r"entrySignal\.conditions\.0\.nope does not exist"):
        _apply_grid_point(base, {"entrySignal.conditions.0.nope": 1})
    with pytest.raises(ValidationFailed, match=r"params\.length: unknown parameter of rsi"):
        strategy_from_mapping(_apply_grid_point(base, {"entrySignal.conditions.0.params.length": 3}))
