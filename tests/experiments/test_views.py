"""Read-only views of runs and sweeps (bridge.experiments.views) on a real lake: what a run's
report shows, the candles around a trade, runs side by side, sweeps with every metric."""

from __future__ import annotations

import msgspec
import pytest

from bridge.errors import RunNotFound, ValidationFailed
from bridge.experiments import Experiments
from bridge.experiments import views
from tests.experiments.test_lifecycle import _definition, _publish_inputs


@pytest.fixture
def runs(store):
    a, c = _publish_inputs(store)
    exps = Experiments(store)
    run = exps.run(_definition(a, c))
    sweep = exps.sweep(_definition(a, c), {"takeProfitPct": [20, 40], "stopLossPct": [10]})
    return store, run, sweep


def test_run_view_has_what_the_report_shows(runs):
    store, run, _ = runs
    v = views.run_view(store, run.run_id)
    trades = store.read_table(run.outputs.trades).to_pylist()
    metrics = {r["metric_name"]: r["metric_value"] for r in store.read_table(run.outputs.metrics).to_pylist()}
    assert v["tradeCount"] == len(trades) == len(v["trades"]) and trades
    assert {m["name"]: m["value"] for m in v["metrics"]} == metrics
    curve = store.read_table(run.outputs.curves)
    assert v["equity"]["equity"] == curve.column("equity").to_pylist()
    assert v["equity"]["ts"][0] == curve.column("ts")[0].as_py().timestamp() * 1000
    roles = [l["role"] for l in v["lineage"]]
    assert roles.count("output: trades") == 1 and any(r.startswith("input: ") for r in roles)
    assert v["strategy"]["takeProfitPct"] is not None
    with pytest.raises(RunNotFound):
        views.run_view(store, "run-nope")


def test_trade_candles_cover_the_trade_from_the_runs_own_inputs(runs):
    store, run, _ = runs
    trade = store.read_table(run.outputs.trades).to_pylist()[0]
    got = views.trade_candles(store, run.run_id, trade["trade_id"], pad_s=120)
    ts = got["candles"]["ts"]
    entry, exit_ = trade["entry_ts"].timestamp() * 1000, trade["exit_ts"].timestamp() * 1000
    assert ts == sorted(set(ts)) and ts[0] <= entry and ts[-1] >= exit_ - 60_000
    assert all(entry - 120_000 <= t < exit_ + 120_000 for t in ts)
    assert got["trade"]["entry_ts"] == entry
    fills = store.read_table(run.outputs.fills).to_pylist()
    mine = [f for f in fills if f["trade_id"] == trade["trade_id"]]
    assert [f["reason"] for f in got["fills"]] == [f["reason"] for f in sorted(mine, key=lambda f: f["fill_seq"])]
    assert got["fills"][0]["side"] == "buy" and got["fills"][0]["ts"] == entry
    assert sum(f["fills"] for f in views.run_view(store, run.run_id)["fills"]) == len(fills)
    with pytest.raises(ValidationFailed, match="no trade"):
        views.trade_candles(store, run.run_id, "nope")


def test_compare_diffs_definitions_and_lines_up_metrics(runs):
    store, run, sweep = runs
    ids = [p.run_id for p in sweep.points]
    cmp = views.compare_runs(store, ids)
    assert [r["runId"] for r in cmp["runs"]] == ids
    paths = {d["path"]: d["values"] for d in cmp["diff"]}
    assert sorted(paths["config.strategy.takeProfitPct"]) == [20, 40] and "experimentId" in paths
    assert "config.strategy.stopLossPct" not in paths  # the same in both
    for row in cmp["metrics"]:
        assert len(row["values"]) == 2
    assert len(cmp["equity"]) == 2
    with pytest.raises(ValidationFailed):
        views.compare_runs(store, [])
    with pytest.raises(RunNotFound):
        views.compare_runs(store, [ids[0], "run-nope"])


def test_definition_diff_flattens_nested_fields():
    a = {"x": 1, "c": {"s": {"tp": 20, "sl": 10}}, "l": [1, 2]}
    b = {"x": 1, "c": {"s": {"tp": 40, "sl": 10}}, "l": [1, 3], "extra": True}
    assert views.definition_diff([a, b]) == [
        {"path": "c.s.tp", "values": [20, 40]}, {"path": "extra", "values": [None, True]},
        {"path": "l", "values": [[1, 2], [1, 3]]}]


def test_sweeps_list_and_view(runs):
    store, _, sweep = runs
    listed = views.list_sweeps(store)
    assert [(s.sweep_id, s.runs, s.completed) for s in listed] == [(sweep.sweep_id, 2, 2)]
    v = views.sweep_view(store, sweep.sweep_id)
    assert v["grid"] == {"stopLossPct": [10], "takeProfitPct": [20, 40]}
    by_run = {p.run_id: p for p in sweep.points}
    for p in v["points"]:
        assert p["params"]["takeProfitPct"] == by_run[p["runId"]].params["takeProfitPct"]
        for k, val in by_run[p["runId"]].metrics.items():  # the sweep's own comparison subset agrees
            assert p["metrics"][k] == val
    assert msgspec.json.encode(v)
    with pytest.raises(RunNotFound):
        views.sweep_view(store, "sweep-nope")


def test_sweep_validation_reads_back_what_the_sweep_returned(store):
    """The view reads the experiment_sweep_validation artifact; the sweep's own in-memory result
    (SweepResult.validation) is the independent reference."""
    from bridge.store.timeutil import parse_iso
    from tests.experiments.test_overfit import _lake_inputs

    exps = Experiments(store)
    d = _lake_inputs(store)
    grid = {"takeProfitPct": [5, 20], "stopLossPct": [5, 10]}
    res = exps.sweep(d, grid, validation={"method": "walkForward", "folds": 3, "metric": "total_pnl", "cscvBlocks": 4})
    ref = res.validation
    v = views.sweep_view(store, res.sweep_id)["validation"]
    assert v["artifactId"] == ref.artifact_id and v["metric"] == "total_pnl"
    assert v["settings"] == msgspec.to_builtins(ref.settings)
    ms = lambda iso: parse_iso(iso).timestamp() * 1000  # noqa: E731
    points = {p.experiment_id: p for p in res.points}
    assert [f["fold"] for f in v["folds"]] == [1, 2, 3]
    for got, want in zip(v["folds"], ref.folds, strict=True):
        assert got["experimentId"] == want.experiment_id
        assert got["runId"] == points[want.experiment_id].run_id
        assert got["params"] == points[want.experiment_id].params
        assert got["inSample"] == pytest.approx(want.in_sample) and got["outOfSample"] == pytest.approx(want.out_of_sample)
        assert (got["inSampleFrom"], got["inSampleTo"], got["outOfSampleFrom"], got["outOfSampleTo"]) == (
            ms(want.in_sample_from), ms(want.in_sample_to), ms(want.out_of_sample_from), ms(want.out_of_sample_to))
    o, want = v["overfit"], msgspec.to_builtins(ref.overfit)
    for k in ("dsr", "sr", "sr0", "dsrExperimentId", "trials", "observations", "skew", "kurtosis", "pbo",
              "pboCombinations", "cscvBlocks", "dsrReason", "pboReason"):
        assert o[k] == pytest.approx(want.get(k)), k
    v["folds"].clear()  # callers get a copy: the cache is not theirs to change
    assert len(views.sweep_validation(store, res.sweep_id)["folds"]) == 3
    # the same grid without validation: no artifact, so None
    plain = exps.sweep(d, grid)
    assert views.sweep_view(store, plain.sweep_id)["validation"] is None


def test_sweep_validation_explains_a_null_statistic(store):
    from tests.experiments.test_overfit import _lake_inputs

    exps = Experiments(store)
    res = exps.sweep(_lake_inputs(store), {"takeProfitPct": [5]},  # one point: no PBO
                     validation={"method": "split", "inSampleFraction": 0.5})
    o = views.sweep_validation(store, res.sweep_id)["overfit"]
    assert o["pbo"] is None and o["pboReason"] == "fewer than 2 trials"
    assert o["pboReason"] == res.validation.overfit.pbo_reason
    assert o["dsr"] is not None and o["dsrReason"] is None
    assert len(views.sweep_validation(store, res.sweep_id)["folds"]) == 1
