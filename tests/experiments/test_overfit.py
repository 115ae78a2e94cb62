"""Deflated Sharpe ratio and PBO on synthetic grids where the answer is known, the breakdown's
intervals, and out-of-sample sweeps on a real lake."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from bridge.experiments.breakdown import breakdown_table
from bridge.experiments.overfit import deflated_sharpe, expected_max_sharpe, pbo_cscv, sharpe_per_period
from tests.experiments.helpers import MIN, T0, candle_rows, candles_table

# -- DSR and PBO -------------------------------------------------------------------------------


def test_pure_noise_pbo_near_half_and_dsr_not_significant():
    pbos, dsrs = [], []
    for seed in range(12):
        m = np.random.default_rng(seed).normal(0, 0.02, (480, 30))
        pbos.append(pbo_cscv(m, 8)["pbo"])
        dsrs.append(deflated_sharpe(m)["dsr"])
    assert 0.35 <= float(np.mean(pbos)) <= 0.65
    assert sum(d > 0.95 for d in dsrs) <= 2 and float(np.median(dsrs)) < 0.95


def test_planted_edge_pbo_low_and_dsr_significant():
    for seed in range(4):
        m = np.random.default_rng(100 + seed).normal(0, 0.02, (480, 30))
        m[:, 11] += 0.006  # one trial with a real edge (SR 0.3 per observation)
        p = pbo_cscv(m, 8)
        assert p["pbo"] < 0.1 and p["combinations"] == math.comb(8, 4)
        d = deflated_sharpe(m)
        assert d["best"] == 11 and d["dsr"] > 0.95 and d["sr"] > d["sr0"]


def test_expected_max_sharpe_matches_a_monte_carlo():
    rng = np.random.default_rng(3)
    var, n = 0.04, 50
    sim = rng.normal(0, math.sqrt(var), (40_000, n)).max(axis=1).mean()
    assert expected_max_sharpe(var, n) == pytest.approx(sim, rel=0.03)


def test_dsr_follows_the_paper_formula_by_hand():
    from scipy.stats import kurtosis, norm, skew

    m = np.random.default_rng(5).standard_t(5, (300, 6)) * 0.01 + 0.001
    d = deflated_sharpe(m)
    sr = m.mean(axis=0) / m.std(axis=0, ddof=1)
    b = int(np.argmax(sr))
    g = 0.5772156649015329
    sr0 = math.sqrt(np.var(sr, ddof=1)) * ((1 - g) * norm.ppf(1 - 1 / 6) + g * norm.ppf(1 - 1 / (6 * math.e)))
    g3, g4 = skew(m[:, b]), kurtosis(m[:, b], fisher=False)
    z = (sr[b] - sr0) * math.sqrt(299) / math.sqrt(1 - g3 * sr[b] + (g4 - 1) / 4 * sr[b] ** 2)
    assert d["dsr"] == pytest.approx(norm.cdf(z), rel=1e-12) and d["best"] == b


def test_too_little_data_gives_null_with_a_reason():
    p = pbo_cscv(np.zeros((10, 3)), 16)
    assert p["pbo"] is None and "needs at least 32" in p["reason"]
    d = deflated_sharpe(np.zeros((10, 3)))
    assert d["dsr"] is None and "constant" in d["reason"]
    assert np.isnan(sharpe_per_period(np.ones((5, 1))))[0]


def test_results_are_plain_python_values_the_rpc_can_encode():
    import msgspec

    m = np.random.default_rng(5).normal(0.01, 0.1, size=(64, 4))
    for out in (deflated_sharpe(m), pbo_cscv(m, 4)):
        msgspec.json.encode(out)  # numpy scalars (e.g. scipy's norm.ppf) raise TypeError here
    assert type(expected_max_sharpe(0.02, 4)) is float


def test_cscv_sharpe_from_blocks_equals_direct_computation():
    """The matrix-product shortcut gives the same in-sample winner as computing each split directly."""
    m = np.random.default_rng(9).normal(0, 1, (64, 5))
    p = pbo_cscv(m, 4)
    import itertools

    from scipy.stats import rankdata

    blocks = np.array_split(np.arange(64), 4)
    logits = []
    for combo in itertools.combinations(range(4), 2):
        is_rows = np.concatenate([blocks[b] for b in combo])
        oos_rows = np.concatenate([blocks[b] for b in range(4) if b not in combo])
        best = int(np.argmax(sharpe_per_period(m[is_rows])))
        w = rankdata(sharpe_per_period(m[oos_rows]))[best] / 6
        logits.append(math.log(w / (1 - w)))
    assert p["logits"] == pytest.approx(logits, rel=1e-9)


# -- breakdown ---------------------------------------------------------------------------------

def _trades(ret: list[float], tokens: list[str]) -> pa.Table:
    n = len(ret)
    return pa.table({"alert_id": [f"a{i}" for i in range(n)], "token": tokens, "chain": ["solana"] * n,
                     "pnl_pct": ret, "pnl": [r * 100 for r in ret]})


def test_breakdown_counts_intervals_and_ranks():
    rng = np.random.default_rng(1)
    good = list(rng.normal(0.05, 0.1, 200))
    bad = list(rng.normal(-0.02, 0.1, 200))
    few = [0.5, 0.6]
    ret = good + bad + few
    callers = ["good"] * 200 + ["bad"] * 200 + ["few"] * 2
    trades = _trades(ret, ["T"] * len(ret))
    dims = pa.table({"alert_id": [f"a{i}" for i in range(len(ret))], "caller": callers, "chat": [None] * len(ret)})
    t = breakdown_table("e", trades, dims, min_count=10, resamples=1000, seed=4)
    rows = {(r["dimension"], r["group_key"]): r for r in t.to_pylist()}
    g, b, f = rows[("caller", "good")], rows[("caller", "bad")], rows[("caller", "few")]
    assert g["trade_count"] == 200 and f["trade_count"] == 2 and not f["ranked"] and f["rank"] is None
    assert f["mean_return_lo"] is None and f["mean_return"] == pytest.approx(0.55)  # best mean, but not ranked
    assert g["rank"] == 1 and b["rank"] == 2
    for r in (g, b):
        assert r["mean_return_lo"] < r["mean_return"] < r["mean_return_hi"]
        se = np.std(good if r is g else bad, ddof=1) / math.sqrt(200)
        assert r["mean_return_hi"] - r["mean_return_lo"] == pytest.approx(2 * 1.96 * se, rel=0.15)
        assert r["win_rate_lo"] <= r["win_rate"] <= r["win_rate_hi"]
    assert rows[("chat", "(none)")]["trade_count"] == len(ret)
    assert t.equals(breakdown_table("e", trades, dims, min_count=10, resamples=1000, seed=4))  # deterministic
    # groups' intervals do not depend on which other groups exist
    sub = breakdown_table("e", trades.slice(0, 200), dims, min_count=10, resamples=1000, seed=4).to_pylist()
    assert next(r for r in sub if r["group_key"] == "good")["mean_return_lo"] == g["mean_return_lo"]


# -- out-of-sample sweeps on a lake ----------------------------------------------------------------

def _lake_inputs(store):
    from bridge.store.timeutil import iso_from_micros

    rng = np.random.default_rng(2)
    alerts, rows = [], []
    for i in range(40):
        tok = f"T{i}"
        alerts.append({"alert_id": f"a{i:02d}", "alert_ts": iso_from_micros(T0 + i * 30 * MIN), "token_address": tok,
                       "chain": "solana", "caller": f"c{i % 4}"})
        price, ohlc = 1.0, []
        for _ in range(40):
            nxt = price * float(np.exp(rng.normal(0, 0.05)))
            ohlc.append((price, max(price, nxt) * 1.02, min(price, nxt) * 0.98, nxt))
            price = nxt
        rows += candle_rows(tok, ohlc, start_us=T0 + i * 30 * MIN)
    a = store.publish("alerts", 1, "oos/alerts", alerts, writer_name="test", writer_version="1")
    c = store.publish("ohlcv_slice", 2, "oos/candles", candles_table(rows), writer_name="test", writer_version="1")
    return {"name": "oos", "experimentId": "oos", "inputs": {"alerts": [a.artifact_id], "ohlcv": [c.artifact_id]},
            "config": {"strategy": {"maxHoldSeconds": 1800, "exitAtEndOfData": True}},
            "provenance": {"createdAt": "2026-02-01T00:00:00Z"}}


def test_sweep_walk_forward_chooses_in_sample_and_publishes_both(store):
    from bridge.experiments.breakdown import trade_stats
    from bridge.experiments.runner import Experiments

    exps = Experiments(store)
    d = _lake_inputs(store)
    grid = {"takeProfitPct": [5, 10, 20], "stopLossPct": [5, 10]}
    res = exps.sweep(d, grid, validation={"method": "walkForward", "folds": 3, "metric": "total_pnl",
                                          "cscvBlocks": 4})
    v = res.validation
    assert v is not None and len(v.folds) == 3
    trades = {p.experiment_id: store.read_table(exps.get_run(p.run_id).outputs.trades) for p in res.points}
    when = {f"a{i:02d}": T0 + i * 30 * MIN for i in range(40)}
    from bridge.store.timeutil import parse_iso, to_micros

    for f in v.folds:
        lo, hi = to_micros(parse_iso(f.in_sample_from)), to_micros(parse_iso(f.in_sample_to))
        olo, ohi = to_micros(parse_iso(f.out_of_sample_from)), to_micros(parse_iso(f.out_of_sample_to))
        assert hi == olo

        def stats(t, a, b):
            keep = [a <= when[x] < b for x in t.column("alert_id").to_pylist()]
            sub = t.filter(pa.array(keep))
            return trade_stats(sub.column("pnl_pct").to_numpy(), sub.column("pnl").to_numpy())

        best_value = max(stats(t, lo, hi)["total_pnl"] for t in trades.values())
        assert f.in_sample["total_pnl"] == pytest.approx(best_value)
        assert f.out_of_sample == pytest.approx(stats(trades[f.experiment_id], olo, ohi))
    assert v.overfit.trials == 6 and v.overfit.observations == 40
    assert v.overfit.pbo is not None and 0 <= v.overfit.pbo <= 1
    table = exps.sweep_validation(res.sweep_id)
    assert table is not None and store.get(v.artifact_id).artifact_type == "experiment_sweep_validation"
    assert set(table.column("section").to_pylist()) == {"fold", "overfit"}
    lineage = {n.artifact_id for n in store.upstream(v.artifact_id).nodes}
    assert set(d["inputs"]["alerts"]) <= lineage
    # a plain sweep keeps its id and publishes no validation
    plain = exps.sweep(d, grid)
    assert plain.validation is None and plain.sweep_id != res.sweep_id


def test_sweep_split_and_bad_settings(store):
    from bridge.errors import ValidationFailed
    from bridge.experiments.runner import Experiments

    exps = Experiments(store)
    d = _lake_inputs(store)
    res = exps.sweep(d, {"takeProfitPct": [5, 20]}, validation={"method": "split", "inSampleFraction": 0.5})
    (fold,) = res.validation.folds
    assert fold.in_sample["trade_count"] + fold.out_of_sample["trade_count"] <= 40
    assert res.validation.overfit.pbo is not None  # 40 alerts >= 2 * 16 blocks
    for bad, field in (({"metric": "sharpe_typo"}, "metric"), ({"folds": 0}, "folds"),
                       ({"cscvBlocks": 5}, "cscvBlocks"), ({"inSampleFraction": 1.0}, "inSampleFraction"),
                       ({"nope": 1}, "nope")):
        with pytest.raises(ValidationFailed, match=field):
            exps.sweep(d, {"takeProfitPct": [5, 20]}, validation=bad)


def test_cli_portfolio_run_and_walk_forward_sweep_with_reports(lake_dir, tmp_path, capsys):
    import json

    from bridge.cli import main
    from bridge.store import Store

    store = Store(lake_dir)
    d = _lake_inputs(store)
    store.close()
    f = tmp_path / "def.json"
    f.write_text(json.dumps(d), encoding="utf-8")
    lake = ["--lake", str(lake_dir)]
    assert main(["experiment", "run", str(f), *lake, "--json", "--capital", "1000", "--fraction", "0.2",
                 "--max-positions", "3", "--min-count", "3", "--bootstrap", "200",
                 "--report", str(tmp_path / "run.html")]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["status"] == "completed" and run["outputs"]["breakdown"]
    html = (tmp_path / "run.html").read_text(encoding="utf-8")
    for text in ("Mark-to-market equity and drawdown", "Daily returns", "Monthly returns", "Caller leaderboard",
                 "Portfolio"):
        assert text in html
    assert "<script" not in html and "http://" not in html and "https://" not in html

    assert main(["experiment", "sweep", str(f), *lake, "--param", "takeProfitPct=5,10,20",
                 "--param", "stopLossPct=5,10", "--walk-forward", "3", "--select-metric", "total_pnl",
                 "--cscv-blocks", "4"]) == 0
    out = capsys.readouterr().out
    assert "out of sample (walkForward" in out and "deflated Sharpe" in out and "PBO" in out
    sweep_id = out.split()[1]
    assert main(["experiment", "report", sweep_id, *lake, "-o", str(tmp_path / "sweep.html")]) == 0
    html = (tmp_path / "sweep.html").read_text(encoding="utf-8")
    for text in ("by takeProfitPct (columns) and stopLossPct (rows)", "In-sample vs out-of-sample", "Overfitting guards",
                 "probability of backtest overfitting"):
        assert text in html
    assert "<script" not in html
    assert main(["experiment", "sweep", str(f), *lake, "--param", "takeProfitPct=5,10", "--split", "0.5",
                 "--walk-forward", "2"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["experiment", "run", str(f), *lake, "--breakdown-column", "nope"]) != 0
    assert "breakdownColumns" in capsys.readouterr().err
