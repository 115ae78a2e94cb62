"""Portfolio mode and mark-to-market equity: the account pass against a per-alert reference loop
written from docs/experiments.md, the equity grid against a direct per-grid-point valuation, the
daily metrics against empyrical-reloaded, and the whole flow on a real lake."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.experiments.definition import load_definition
from bridge.experiments.engine import run_backtest
from bridge.experiments.equity import daily_equity, daily_metrics, equity_curve, portfolio_metrics
from bridge.experiments.portfolio import simulate
from bridge.experiments.strategy import LadderLeg, Strategy
from tests.experiments.helpers import MIN, T0, TS, alert_row, candle_rows, connect

DAY = 86_400_000_000


# -- the account pass ------------------------------------------------------------------------

def _trades(rows: list[dict]) -> pa.Table:
    return pa.table({
        "experiment_id": pa.array(["e"] * len(rows), pa.string()),
        "alert_id": pa.array([r["alert_id"] for r in rows], pa.string()),
        "trade_id": pa.array([r["alert_id"] for r in rows], pa.string()),
        "token": pa.array([r["token"] for r in rows], pa.string()),
        "chain": pa.array(["solana"] * len(rows), pa.string()),
        "entry_ts": pa.array([r["entry"] for r in rows], pa.int64()).cast(TS),
        "exit_ts": pa.array([r["exit"] for r in rows], pa.int64()).cast(TS),
        "entry_price": pa.array([r["entry_price"] for r in rows], pa.float64()),
        "exit_price": pa.array([r["exit_price"] for r in rows], pa.float64()),
        "pnl": pa.array([0.0] * len(rows), pa.float64()),
        "pnl_pct": pa.array([r["pnl_pct"] for r in rows], pa.float64()),
        "duration_ms": pa.array([(r["exit"] - r["entry"]) // 1000 for r in rows], pa.int64()),
        "exit_reason": pa.array(["take_profit"] * len(rows), pa.string()),
    })


def reference_account(rows, *, initial, sizing, notional, fraction, max_positions, max_token_pct, fee):
    """Per alert, in (entry time, alert id) order, recompute the account from every earlier decision
    (docs: entries before exits at the same time; book equity = cash + cost of open positions)."""
    accepted: list[tuple[dict, float]] = []
    skipped = {}
    for r in sorted(rows, key=lambda r: (r["entry"], r["alert_id"])):
        t = r["entry"]
        open_ = [(a, s) for a, s in accepted if a["exit"] >= t]
        closed = [(a, s) for a, s in accepted if a["exit"] < t]
        cash = initial - sum(s * (1 + fee) for _, s in accepted)
        cash += sum(s / a["entry_price"] * a["exit_price"] * (1 - fee) for a, s in closed)
        equity = cash + sum(s for _, s in open_)
        size = notional if sizing == "fixed" else fraction * equity
        in_token = sum(s for a, s in open_ if a["token"] == r["token"])
        if max_positions is not None and len(open_) >= max_positions:
            skipped[r["alert_id"]] = "max_positions"
        elif max_token_pct is not None and in_token + size > max_token_pct / 100 * equity * (1 + 1e-12):
            skipped[r["alert_id"]] = "token_exposure_cap"
        elif cash < size * (1 + fee) * (1 - 1e-12):
            skipped[r["alert_id"]] = "insufficient_cash"
        else:
            accepted.append((r, size))
    return {a["alert_id"]: s for a, s in accepted}, skipped


@st.composite
def _market(draw):
    n = draw(st.integers(0, 25))
    rows = []
    for i in range(n):
        entry = T0 + draw(st.integers(0, 30)) * MIN
        price = draw(st.sampled_from([0.5, 1.0, 2.0]))
        exit_price = price * draw(st.sampled_from([0.5, 0.9, 1.0, 1.2, 3.0]))
        fee = 0.001
        rows.append({"alert_id": f"a{i:02d}", "token": draw(st.sampled_from("ABC")), "entry": entry,
                     "exit": entry + draw(st.integers(0, 10)) * MIN, "entry_price": price, "exit_price": exit_price,
                     "pnl_pct": exit_price / price * (1 - fee) - (1 + fee)})
    cfg = draw(st.fixed_dictionaries({
        "sizing": st.sampled_from(["fixed", "fraction"]),
        "max_positions": st.one_of(st.none(), st.integers(1, 5)),
        "max_token_pct": st.one_of(st.none(), st.sampled_from([10.0, 25.0, 60.0])),
        "notional": st.sampled_from([100.0, 300.0]),
        "fraction": st.sampled_from([0.1, 0.3]),
    }))
    return rows, cfg


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_market())
def test_account_matches_the_reference_loop(market):
    rows, cfg = market
    fee_bps = 10.0
    kw = dict(initial_capital=1000.0, sizing=cfg["sizing"], notional=cfg["notional"],
              fraction=cfg["fraction"] if cfg["sizing"] == "fraction" else None,
              max_positions=cfg["max_positions"], max_token_exposure_pct=cfg["max_token_pct"], fee_bps=fee_bps)
    res = simulate(_trades(rows), **kw)
    want, want_skipped = reference_account(rows, initial=1000.0, sizing=cfg["sizing"], notional=cfg["notional"],
                                           fraction=cfg["fraction"], max_positions=cfg["max_positions"],
                                           max_token_pct=cfg["max_token_pct"], fee=fee_bps / 10_000)
    got = dict(zip(res.trades.column("alert_id").to_pylist(), res.positions.column("size").to_pylist()))
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-9)
    assert dict(zip(res.skipped.column("alert_id").to_pylist(), res.skipped.column("reason").to_pylist())) == want_skipped
    # pnl is the engine's per-trade return at the size taken; the final cash is the capital plus every pnl
    pnl = res.trades.column("pnl").to_pylist()
    assert pnl == pytest.approx([want[a] * r["pnl_pct"] for a in res.trades.column("alert_id").to_pylist()
                                 for r in rows if r["alert_id"] == a], rel=1e-9, abs=1e-9)
    assert res.final_cash == pytest.approx(1000.0 + sum(pnl), rel=1e-9, abs=1e-6)


def test_caps_and_cash_skip_with_reasons():
    rows = [{"alert_id": f"a{i}", "token": "T" if i < 3 else f"U{i}", "entry": T0 + i * MIN, "exit": T0 + 100 * MIN,
             "entry_price": 1.0, "exit_price": 1.0, "pnl_pct": 0.0} for i in range(6)]
    res = simulate(_trades(rows), initial_capital=1000, notional=300, max_positions=4, max_token_exposure_pct=50)
    reasons = dict(zip(res.skipped.column("alert_id").to_pylist(), res.skipped.column("reason").to_pylist()))
    # a0 takes 300 of T; a1, a2 would make 600 > 50 % of 1000; a3, a4 fit; a5: cash 100 < 300
    assert sorted(res.trades.column("alert_id").to_pylist()) == ["a0", "a3", "a4"]
    assert reasons == {"a1": "token_exposure_cap", "a2": "token_exposure_cap", "a5": "insufficient_cash"}
    res2 = simulate(_trades(rows), initial_capital=10_000, notional=100, max_positions=2)
    assert res2.trades.num_rows == 2
    assert set(res2.skipped.column("reason").to_pylist()) == {"max_positions"}


# -- mark-to-market --------------------------------------------------------------------------

def _reference_equity(positions: list[dict], fills: list[dict], candles: dict[str, list[tuple[int, float]]], grid,
                      initial):
    """Per grid point, from the docs: cash = initial + every fill's cash flow up to g (scaled to the
    size taken); each open position's units up to g valued at its token's last close <= g."""
    out = []
    for g in grid:
        cash, value = initial, 0.0
        for p in positions:
            mine = [f for f in fills if f["trade_id"] == p["trade_id"] and f["ts"] <= g]
            for f in mine:
                amount = f["notional"] * p["scale"]
                fee = f["fee"] * p["scale"]
                cash += -(amount + fee) if f["side"] == "buy" else amount - fee
            if p["entry_us"] <= g < p["exit_us"]:
                units = sum((1 if f["side"] == "buy" else -1) * f["qty"] * p["scale"] for f in mine)
                closes = [c for ts, c in candles[p["token"]] if p["entry_us"] <= ts <= g]
                value += units * closes[-1]
        out.append((cash + value, value))
    return out


def _fills_us(fills: pa.Table) -> list[dict]:
    rows = fills.to_pylist()
    for r, us in zip(rows, fills.column("ts").cast(pa.int64()).to_pylist()):
        r["ts"] = us
    return rows


@pytest.mark.parametrize("strategy", [
    Strategy(take_profit_pct=30, max_hold_seconds=600, fee_bps=10, slippage_bps=5, exit_at_end_of_data=True),
    Strategy(ladder=[LadderLeg(take_profit_pct=10, size_pct=50), LadderLeg(take_profit_pct=40, size_pct=50)],
             stop_loss_pct=8, re_entry_retrace_pct=5, max_re_entries=2, re_entry_size_pct=50, fee_bps=10,
             slippage_bps=5, exit_at_end_of_data=True),
], ids=["one-target", "ladder-and-re-entries"])
def test_equity_curve_matches_a_direct_valuation(strategy):
    up = [(1.0, 1.1, 0.99, 1.05), (1.05, 1.2, 1.0, 1.15), (1.15, 1.5, 1.1, 1.4), (1.4, 1.45, 1.3, 1.35),
          (1.35, 1.36, 1.0, 1.05), (1.05, 1.3, 1.02, 1.25)] * 2
    down = [(1.0, 1.01, 0.95, 0.97), (0.97, 0.98, 0.9, 0.92), (0.92, 1.2, 0.9, 1.1)] * 4
    candles = candle_rows("A", up) + candle_rows("B", down)
    del candles[len(up) + 5]                      # a gap in B: the last close carries forward
    con = connect([alert_row("a", "A", T0), alert_row("b", "B", T0 + MIN)], candles)
    res = run_backtest(con, "alerts", "candles", strategy)
    multiple = 1 + (strategy.max_re_entries * strategy.re_entry_size_pct / 100 if strategy.re_entry_retrace_pct else 0)
    pf = simulate(res.trades, initial_capital=1000, notional=200, fee_bps=10, capital_multiple=multiple,
                  engine_notional=strategy.notional)
    curve = equity_curve(con, pf.positions, res.fills, "candles", "1m", MIN, 1000.0, "e")
    grid = curve.column("ts").cast(pa.int64()).to_pylist()
    pos = pf.positions.to_pylist()
    by_token: dict[str, list[tuple[int, float]]] = {}
    for c in candles:
        by_token.setdefault(c["token"], []).append((c["ts"], c["close"]))
    want = _reference_equity(pos, _fills_us(res.fills), by_token, grid, 1000.0)
    assert curve.column("equity").to_pylist() == pytest.approx([w[0] for w in want], rel=1e-12)
    assert curve.column("exposure").to_pylist() == pytest.approx([w[1] for w in want], rel=1e-12, abs=1e-12)
    assert grid[0] == T0 and grid[-1] == max(p["exit_us"] for p in pos)
    eq = curve.column("equity").to_pylist()
    assert eq[-1] == pytest.approx(1000 + sum(pf.trades.column("pnl").to_pylist()))
    assert pf.final_cash == pytest.approx(eq[-1])
    dd = curve.column("drawdown").to_pylist()
    peak = 1000.0
    for e, d in zip(eq, dd):
        peak = max(peak, e)
        assert d == pytest.approx(peak - e)
    # a coarser grid samples the same series
    coarse = equity_curve(con, pf.positions, res.fills, "candles", "1m", 7 * MIN, 1000.0, "e")
    fine = dict(zip(grid, eq))
    for ts, e in zip(coarse.column("ts").cast(pa.int64()).to_pylist(), coarse.column("equity").to_pylist()):
        assert e == pytest.approx(fine.get(ts, eq[-1]))   # past the last exit: the final equity
    assert coarse.column("ts").cast(pa.int64()).to_pylist()[-1] >= grid[-1]
    assert coarse.column("equity").to_pylist()[-1] == pytest.approx(eq[-1])
    assert coarse.column("open_positions").to_pylist()[-1] == 0


def test_re_entries_reserve_their_capital():
    rows = [{"alert_id": f"a{i}", "token": f"T{i}", "entry": T0 + i * MIN, "exit": T0 + 100 * MIN,
             "entry_price": 1.0, "exit_price": 1.0, "pnl_pct": 0.0} for i in range(3)]
    # size 300, up to two re-entries of 50 %: each trade reserves 600; 1000 fits one
    res = simulate(_trades(rows), initial_capital=1000, notional=300, capital_multiple=2.0)
    assert res.trades.column("alert_id").to_pylist() == ["a0"]
    assert set(res.skipped.column("reason").to_pylist()) == {"insufficient_cash"}
    assert res.positions.column("size").to_pylist() == [300.0]


def test_equity_is_the_same_for_any_thread_count():
    rows = [(1.0, 1.1, 0.9, 1.0 + 0.01 * i) for i in range(60)]
    candles = candle_rows("A", rows) + candle_rows("B", rows[::-1])
    alerts = [alert_row(f"a{i}", "AB"[i % 2], T0 + i * MIN) for i in range(20)]
    out = []
    for threads in (1, 2):
        con = connect(alerts, candles, threads=threads)
        res = run_backtest(con, "alerts", "candles", Strategy(max_hold_seconds=900))
        pf = simulate(res.trades, initial_capital=10_000, sizing="fraction", fraction=0.05)
        out.append(equity_curve(con, pf.positions, res.fills, "candles", "1m", MIN, 10_000.0, "e"))
    assert out[0].equals(out[1])


# -- daily metrics vs empyrical -----------------------------------------------------------------

def test_daily_metrics_agree_with_empyrical():
    empyrical = pytest.importorskip("empyrical")  # declared in the test extras: present in CI
    import pandas as pd

    rng = np.random.default_rng(7)
    r = rng.normal(0.002, 0.03, 120)
    equity = 1000 * np.cumprod(1 + r)
    ours, why = daily_metrics(equity, 1000.0)
    assert not why
    s = pd.Series(r, index=pd.date_range("2026-01-01", periods=len(r), freq="D", tz="UTC"))
    assert ours["sharpe"] == pytest.approx(empyrical.sharpe_ratio(s, annualization=365), rel=1e-9)
    assert ours["sortino"] == pytest.approx(empyrical.sortino_ratio(s, annualization=365), rel=1e-9)
    assert ours["annual_volatility"] == pytest.approx(empyrical.annual_volatility(s, annualization=365), rel=1e-9)
    assert ours["annual_return"] == pytest.approx(empyrical.annual_return(s, annualization=365), rel=1e-9)
    # max drawdown and Calmar on a daily grid: our drawdown peak includes the initial capital,
    # as empyrical's does (it starts the cumulative series at 1)
    days = 1_767_225_600_000_000 + np.arange(len(r)) * DAY
    curve = pa.table({"experiment_id": ["e"] * len(r), "ts": pa.array(days, pa.int64()).cast(TS),
                      "equity": equity, "cash": equity, "exposure": np.zeros(len(r)),
                      "open_positions": pa.array([0] * len(r), pa.int64()),
                      "drawdown": np.maximum.accumulate(np.maximum(equity, 1000)) - equity,
                      "drawdown_pct": 1 - equity / np.maximum.accumulate(np.maximum(equity, 1000))})

    class _P:
        initial_capital = 1000.0

    m, _ = portfolio_metrics(curve, _P(), np.array([100.0, 100.0]))
    assert m["max_drawdown"] == pytest.approx(-empyrical.max_drawdown(s), rel=1e-9)
    assert m["calmar"] == pytest.approx(empyrical.calmar_ratio(s, annualization=365), rel=1e-9)


def test_annualised_ratios_are_null_below_30_daily_returns():
    vals, why = daily_metrics(1000 * np.cumprod(1 + np.full(29, 0.01)), 1000.0)
    assert vals["daily_return_count"] == 29
    for k in ("sharpe", "sortino", "annual_volatility", "annual_return"):
        assert vals[k] is None and "29 daily returns" in why[k]
    vals, why = daily_metrics(1000 * np.cumprod(1 + np.full(30, 0.01)), 1000.0)
    assert vals["annual_return"] is not None and vals["sharpe"] is None and "zero standard deviation" in why["sharpe"]
    assert vals["sortino"] is None and "no losing day" in why["sortino"]


def test_daily_equity_takes_each_days_last_point():
    ts = np.array([T0, T0 + DAY - MIN, T0 + DAY, T0 + 3 * DAY + MIN])
    curve = pa.table({"ts": pa.array(ts, pa.int64()).cast(TS), "equity": [1.0, 2.0, 3.0, 4.0]})
    days, eq = daily_equity(curve)
    assert list(days) == [T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY]
    assert list(eq) == [2.0, 3.0, 3.0, 4.0]


# -- definitions -------------------------------------------------------------------------------

def test_definitions_without_the_new_sections_keep_their_ids():
    body = {"name": "tp-sl test", "inputs": {"alerts": ["A1"], "ohlcv": ["C1"]},
            "config": {"strategy": {"takeProfitPct": 20, "stopLossPct": 10}, "params": {"x": 1}}}
    assert load_definition(body).experiment_id == "tp-sl-test-06613e199185"   # the id before portfolio mode
    with_pf = {**body, "config": {**body["config"], "portfolio": {"maxPositions": 5}}}
    assert load_definition(with_pf).experiment_id != "tp-sl-test-06613e199185"


@pytest.mark.parametrize("portfolio, field", [
    ({"sizing": "fraction"}, "portfolio.fraction"),
    ({"fraction": 0.2}, "portfolio.fraction"),
    ({"maxPositions": 0}, "portfolio.maxPositions"),
    ({"maxTokenExposurePct": 150}, "portfolio.maxTokenExposurePct"),
    ({"initialCapital": -1}, "portfolio.initialCapital"),
    ({"equityStepSeconds": 0}, "portfolio.equityStepSeconds"),
])
def test_bad_portfolio_fields_are_named(portfolio, field):
    from bridge.errors import ValidationFailed

    body = {"name": "x", "inputs": {"alerts": ["A1"], "ohlcv": ["C1"]},
            "config": {"strategy": {}, "portfolio": portfolio}}
    with pytest.raises(ValidationFailed, match=field.split(".")[1]):
        load_definition(body)


# -- the whole flow ----------------------------------------------------------------------------

def test_portfolio_run_publishes_mtm_equity_and_metrics(store):
    from bridge.experiments.runner import Experiments
    from bridge.store.timeutil import iso_from_micros
    from tests.experiments.helpers import candles_table

    ohlc = [(1.0, 1.05, 0.97, 1.02), (1.02, 1.1, 1.0, 1.08), (1.08, 1.3, 1.05, 1.25)] * 4
    alerts = [{"alert_id": f"a{i}", "alert_ts": iso_from_micros(T0 + i * MIN), "token_address": "AB"[i % 2],
               "chain": "solana", "caller": f"c{i % 3}"} for i in range(8)]
    a = store.publish("alerts", 1, "pf/alerts", alerts, writer_name="test", writer_version="1")
    ohlc_b = [(1.0, 1.02, 0.9, 0.95), (0.95, 1.0, 0.85, 0.9), (0.9, 0.92, 0.8, 0.85)] * 4
    c = store.publish("ohlcv_slice", 2, "pf/candles", candles_table(candle_rows("A", ohlc) + candle_rows("B", ohlc_b)),
                      writer_name="test", writer_version="1")
    d = {"name": "pf", "inputs": {"alerts": [a.artifact_id], "ohlcv": [c.artifact_id]},
         "config": {"strategy": {"takeProfitPct": 20, "maxHoldSeconds": 240, "feeBps": 10, "exitAtEndOfData": True},
                    "portfolio": {"initialCapital": 1000, "notional": 400, "maxPositions": 2},
                    "analysis": {"minCount": 2, "bootstrapResamples": 200}},
         "provenance": {"createdAt": "2026-02-01T00:00:00Z"}}
    exps = Experiments(store)
    run = exps.run(d)
    assert run.status == "completed", run.execution.error
    eq_art = store.get(run.outputs.curves)
    assert eq_art.schema_version == 2
    curve = store.read_table(run.outputs.curves)
    assert "exposure" in curve.column_names and curve.num_rows > 1
    assert max(curve.column("open_positions").to_pylist()) <= 2
    m = dict(zip(*[store.read_table(run.outputs.metrics).column(k).to_pylist() for k in ("metric_name", "metric_value")]))
    assert m["sharpe"] is None and m["trade_sharpe"] is not None   # one day of data: no annualised ratio
    assert m["daily_return_count"] == 1
    trades = store.read_table(run.outputs.trades)
    assert m["final_equity"] == pytest.approx(1000 + sum(trades.column("pnl").to_pylist()))
    diags = store.read_table(run.outputs.diagnostics).to_pylist()
    assert any(r["reason"] == "max_positions" and r["kind"] == "skipped" for r in diags)
    assert any(r["reason"] == "metric_undefined" and r["detail"].startswith("sharpe:") for r in diags)
    assert m["alerts_skipped"] == sum(1 for r in diags if r["kind"] == "skipped")
    br = store.read_table(run.outputs.breakdown).to_pylist()
    callers = [r for r in br if r["dimension"] == "caller"]
    assert sum(r["trade_count"] for r in callers) == trades.num_rows
    assert math.isclose(sum(r["total_pnl"] for r in callers), sum(trades.column("pnl").to_pylist()))
    fills = store.read_table(run.outputs.fills).to_pylist()   # scaled to the size taken
    for t in trades.to_pylist():
        flows = sum((f["notional"] - f["fee"]) if f["side"] == "sell" else -(f["notional"] + f["fee"])
                    for f in fills if f["trade_id"] == t["trade_id"])
        assert flows == pytest.approx(t["pnl"], rel=1e-9, abs=1e-9)
    assert {f["trade_id"] for f in fills} == set(trades.column("trade_id").to_pylist())
    again = exps.run(d)
    assert again.new_artifacts == 0 and again.outputs == run.outputs
