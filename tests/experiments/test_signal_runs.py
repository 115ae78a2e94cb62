"""Signals through the experiment lifecycle on a real lake: runs, sweeps over indicator
parameters (each indicator computed once per token per distinct parameter set), the report."""

from __future__ import annotations

from collections import Counter

import pytest

from bridge.experiments import indicators
from bridge.experiments.runner import Experiments
from tests.experiments.helpers import T0, candle_rows, candles_table

CREATED = "2026-02-01T00:00:00Z"


def _iso(us: int) -> str:
    from bridge.store.timeutil import iso_from_micros

    return iso_from_micros(us)


def _ramp(closes):
    out, prev = [], closes[0]
    for c in closes:
        out.append((prev, max(prev, c) * 1.002, min(prev, c) * 0.998, c))
        prev = c
    return out


def _inputs(store):
    zig = [1.0, 0.97, 0.94, 0.9, 0.93, 0.97, 1.02, 1.08, 1.05, 1.0, 0.95, 0.9, 0.88, 0.93, 0.99, 1.05, 1.1, 1.04,
           0.98, 0.96, 1.0, 1.06, 1.12, 1.2, 1.1, 1.0, 0.95, 1.0, 1.05, 1.1]
    rows = candle_rows("A", _ramp(zig)) + candle_rows("B", _ramp([x * 2 for x in zig[::-1]]))
    alerts = [{"alert_id": "a", "alert_ts": _iso(T0 + 60_000_000), "token_address": "A", "chain": "solana"},
              {"alert_id": "b", "alert_ts": _iso(T0 + 60_000_000), "token_address": "B", "chain": "solana"}]
    a = store.publish("alerts", 1, "test/sig-alerts", alerts, writer_name="test", writer_version="1")
    c = store.publish("ohlcv_slice", 2, "test/sig-candles", candles_table(rows), writer_name="test", writer_version="1")
    return a.artifact_id, c.artifact_id


def _definition(a, c):
    return {"name": "rsi entry, ema exit", "experimentId": "sig-test",
            "inputs": {"alerts": [a], "ohlcv": [c]},
            "config": {"strategy": {
                "stopLossPct": 30, "exitAtEndOfData": True, "entryMaxWaitSeconds": 1200,
                "entrySignal": {"conditions": [{"indicator": "rsi", "params": {"period": 3}, "operator": "<",
                                                "value": 30}]},
                "exitSignal": {"logic": "OR", "conditions": [
                    {"indicator": "ema", "params": {"period": 2}, "operator": "crosses_below",
                     "secondaryIndicator": "ema", "secondaryParams": {"period": 4}},
                    {"indicator": "bbands", "field": "upper", "params": {"period": 5}, "operator": "<",
                     "secondaryIndicator": "price", "secondaryField": "close"}]}}},
            "provenance": {"createdAt": CREATED}}


def test_run_with_signals_publishes_trades_and_a_report_with_charts(store, tmp_path):
    a, c = _inputs(store)
    exps = Experiments(store)
    res = exps.run(_definition(a, c))
    assert res.status == "completed"
    trades = store.read_table(res.outputs.trades).to_pylist()
    fills = store.read_table(res.outputs.fills).to_pylist()
    assert len(trades) == 2 and {f["reason"] for f in fills} >= {"entry", "exit_signal"}
    diags = store.read_table(res.outputs.diagnostics).to_pylist()
    counts = next(r["detail"] for r in diags if r["reason"] == "counts")
    assert '"entry_signal_warmup_candles"' in counts
    exps.write_report(res.run_id, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Trade charts (first 2 of 2)" in html and html.count("aria-label='price chart'") == 2
    assert html.count("aria-label='indicator panel'") == 2  # rsi_3 is an oscillator: its own panel
    assert "ema_2.value" in html and "bbands_5_2.upper" in html and "rsi_3.value" in html
    assert html.count("<title>buy entry") == 2 and html.count("<title>sell exit_signal") >= 1


def test_sweep_over_indicator_parameters_computes_each_indicator_once_per_token(store, monkeypatch):
    a, c = _inputs(store)
    calls = Counter()
    real = indicators.series_values

    def counting(spec, *args):
        calls[spec.key] += 1
        return real(spec, *args)

    monkeypatch.setattr(indicators, "series_values", counting)
    sweep = Experiments(store).sweep(_definition(a, c), {
        "entrySignal.conditions.0.value": [25, 30, 35],
        "entrySignal.conditions.0.params.period": [3, 5],
        "exitSignal.conditions.0.secondaryParams.period": [4, 6]})
    assert len(sweep.points) == 12 and all(p.status == "completed" for p in sweep.points)
    # two tokens; each distinct (indicator, params) once per token for the whole sweep
    assert calls == {"rsi_3": 2, "rsi_5": 2, "ema_2": 2, "ema_4": 2, "ema_6": 2, "bbands_5_2": 2, "price": 2}
    trades = {p.params["entrySignal.conditions.0.value"]: p.metrics["trade_count"] for p in sweep.points
              if p.params["entrySignal.conditions.0.params.period"] == 3
              and p.params["exitSignal.conditions.0.secondaryParams.period"] == 4}
    assert trades[25] <= trades[30] <= trades[35]


def test_strategy_artifacts_carry_signals_and_runs_by_id_equal_inline_runs(store):
    from bridge.experiments.strategies import Strategies

    a, c = _inputs(store)
    d = _definition(a, c)
    strategy = d["config"]["strategy"]
    ref = Strategies(store).publish(strategy)
    got = Strategies(store).get(ref.artifact_id)
    assert got.entry_signal.conditions[0].params == {"period": 3}
    assert got.exit_signal.conditions[1].secondary_field == "close"
    assert Strategies(store).publish(got).artifact_id == ref.artifact_id  # content-addressed: same strategy
    exps = Experiments(store)
    inline = exps.run(d)
    by_id = exps.run({**d, "experimentId": "sig-by-id", "inputs": {**d["inputs"], "strategies": [ref.artifact_id]},
                      "config": {}})

    def fills(run):
        t = store.read_table(run.outputs.fills).drop_columns(["experiment_id", "trade_id"])
        return t.sort_by([("alert_id", "ascending"), ("fill_seq", "ascending")])

    assert fills(by_id).equals(fills(inline)) and fills(by_id).num_rows > 0
