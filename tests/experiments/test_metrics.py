"""Metrics, equity curve and diagnostics: hand-computed values, nulls for undefined values, and
tables that the store accepts under the experiment_* specs."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from bridge.experiments.engine import run_backtest
from bridge.experiments.metrics import result_tables
from bridge.experiments.strategy import Strategy
from tests.experiments.helpers import MIN, T0, alert_row, candle_rows, connect

AT = datetime(2026, 2, 1, tzinfo=timezone.utc)
FLAT = (1.0, 1.0, 1.0, 1.0)
UP = (1.0, 1.3, 0.95, 1.1)      # touches +20 %
DOWN = (1.0, 1.05, 0.85, 0.9)   # touches -10 %


def _tables(alerts, candles, strategy):
    res = run_backtest(connect(alerts, candles), "alerts", "candles", strategy, experiment_id="e1")
    return res, result_tables(res, AT)


def _metrics(tables):
    return {r["metric_name"]: r["metric_value"] for r in tables["metrics"].to_pylist()}


def test_hand_computed_metrics_and_equity():
    # three tokens: win +20 % (exit minute 1), loss -10 % (minute 2), win +20 % (minute 2)
    c = (candle_rows("A", [FLAT, UP]) + candle_rows("B", [FLAT, FLAT, DOWN]) + candle_rows("C", [FLAT, FLAT, UP]))
    alerts = [alert_row("a", "A", T0), alert_row("b", "B", T0), alert_row("c", "C", T0), alert_row("x", "NONE", T0)]
    s = Strategy(take_profit_pct=20, stop_loss_pct=10, notional=100, initial_capital=1000)
    res, t = _tables(alerts, c, s)
    m = _metrics(t)
    assert m["trade_count"] == 3 and m["alerts_considered"] == 4 and m["alerts_skipped"] == 1
    assert m["win_rate"] == pytest.approx(2 / 3)
    assert m["total_pnl"] == pytest.approx(30) and m["total_return"] == pytest.approx(0.03)
    assert m["mean_return"] == pytest.approx(0.1) and m["median_return"] == pytest.approx(0.2)
    assert m["profit_factor"] == pytest.approx(4.0)
    assert m["expectancy"] == pytest.approx(10)
    assert m["mean_hold"] == pytest.approx((60 + 120 + 120) / 3)
    rets = [0.2, -0.1, 0.2]
    mean, sd = sum(rets) / 3, math.sqrt(sum((r - 0.1) ** 2 for r in rets) / 2)
    years = 2 * 60 / (365.25 * 86400)
    assert m["sharpe"] == pytest.approx(mean / sd * math.sqrt(3 / years))
    eq = t["equity"].to_pylist()
    # minute 1: +20 -> 1020; minute 2: -10 + 20 -> 1030 (one point per exit time)
    assert [round(r["equity"], 9) for r in eq] == [1020, 1030]
    assert [r["drawdown"] for r in eq] == [0, 0]
    assert m["max_drawdown"] == 0
    units = {r["metric_name"]: r["metric_unit"] for r in t["metrics"].to_pylist()}
    assert units["sharpe"] == "ratio" and units["mean_hold"] == "seconds"
    assert set(t["metrics"].column("computed_at").to_pylist()) == {AT}


def test_drawdown_from_running_peak():
    c = candle_rows("A", [FLAT, UP]) + candle_rows("B", [FLAT, FLAT, DOWN]) + candle_rows("C", [FLAT, FLAT, FLAT, DOWN])
    alerts = [alert_row("a", "A", T0), alert_row("b", "B", T0), alert_row("c", "C", T0)]
    _, t = _tables(alerts, c, Strategy(take_profit_pct=20, stop_loss_pct=10, notional=100, initial_capital=1000))
    eq = t["equity"].to_pylist()
    assert [round(r["equity"], 9) for r in eq] == [1020, 1010, 1000]
    assert [round(r["drawdown"], 9) for r in eq] == [0, 10, 20]
    assert eq[-1]["drawdown_pct"] == pytest.approx(20 / 1020)
    assert _metrics(t)["max_drawdown"] == pytest.approx(20 / 1020)


def test_undefined_metrics_are_null_with_a_reason():
    c = candle_rows("A", [FLAT, UP])
    _, t = _tables([alert_row("a", "A", T0)], c, Strategy(take_profit_pct=20))
    m = _metrics(t)
    assert m["profit_factor"] is None and m["sharpe"] is None
    diag = {r["detail"].split(":")[0] for r in t["diagnostics"].to_pylist() if r["reason"] == "metric_undefined"}
    assert {"profit_factor", "sharpe"} <= diag
    assert all(v is None or math.isfinite(v) for v in m.values())


def test_no_trades_gives_nulls_and_empty_curve():
    _, t = _tables([alert_row("a", "NONE", T0)], candle_rows("A", [FLAT]), Strategy(take_profit_pct=20))
    m = _metrics(t)
    assert m["trade_count"] == 0 and m["win_rate"] is None and m["total_pnl"] == 0
    assert t["equity"].num_rows == 0
    skipped = [r for r in t["diagnostics"].to_pylist() if r["kind"] == "skipped"]
    assert skipped == [{"experiment_id": "e1", "alert_id": "a", "kind": "skipped", "reason": "no_candles_for_token",
                        "detail": "token NONE"}]


def test_tables_publish_under_the_specs(store):
    c = candle_rows("A", [FLAT, UP]) + candle_rows("B", [FLAT, FLAT, DOWN])
    _, t = _tables([alert_row("a", "A", T0), alert_row("b", "B", T0 + MIN)], c, Strategy(take_profit_pct=20, stop_loss_pct=10))
    src = store.publish("alerts", 1, "test/alerts", [{"alert_id": "a", "alert_ts": "2026-01-01T00:00:00Z",
                                                      "token_address": "A", "chain": "solana"}])
    for kind, typ in (("trades", "experiment_trades"), ("metrics", "experiment_metrics"),
                      ("equity", "experiment_equity_curve"), ("diagnostics", "experiment_diagnostics")):
        res = store.publish(typ, 1, f"experiment=e1/{kind}", t[kind], input_artifact_ids=[src.artifact_id])
        assert res.artifact.row_count == t[kind].num_rows
