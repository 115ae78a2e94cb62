"""Strategies as artifacts: publish/get/list, scenario import (the fixture format), runs by strategy
id, the inline strategy published and frozen, sweeps over ladder legs, and the CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.errors import InvalidInput, ValidationFailed
from bridge.experiments import Experiments
from bridge.experiments.scenario import convert_scenarios
from bridge.experiments.strategies import Strategies
from bridge.experiments.strategy import LadderLeg, Strategy, strategy_from_mapping
from bridge.store import Store
from tests.experiments.test_lifecycle import _definition, _publish_inputs

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "strategy-scenarios.json"


def _scenarios(without_signals: bool = True) -> dict:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    if without_signals:
        data["scenarios"] = [s for s in data["scenarios"] if "entrySignal" not in s and "exitSignal" not in s]
    return data


def test_import_maps_every_field_of_the_fixture():
    got = {c.name: c for c in convert_scenarios(_scenarios())}
    ladder = got["ladder-2x-5x-10x"].strategy
    assert ladder.ladder == [LadderLeg(take_profit_pct=100, size_pct=50), LadderLeg(take_profit_pct=400, size_pct=30),
                             LadderLeg(take_profit_pct=900, size_pct=20)]
    assert (ladder.stop_loss_pct, ladder.break_even_trigger_pct) == (30, 50)          # global defaults
    assert (ladder.fee_bps, ladder.entry_slippage_bps, ladder.exit_slippage_bps) == (25, 50, 50)
    dip = got["dip-entry-then-3x"].strategy
    assert (dip.entry_dip_pct, dip.entry_max_wait_seconds, dip.stop_loss_pct) == (20, 7200, 25)
    assert dip.break_even_trigger_pct is None                                          # "none" overrides
    reb = got["rebound-entry-reentry"].strategy
    assert (reb.entry_rebound_pct, reb.re_entry_retrace_pct, reb.max_re_entries, reb.re_entry_size_pct) == (10, 30, 2, 50)
    assert any("look-ahead" in n for n in got["rebound-entry-reentry"].notes)


def test_import_refuses_unknown_fields_with_their_path():
    data = _scenarios()
    data["scenarios"][1]["entry"]["maxWait"] = 5
    with pytest.raises(ValidationFailed, match=r"maxWait.*\$\.scenarios\[1\]\.entry"):
        convert_scenarios(data)
    # signals import (tests/experiments/test_signal_strategy.py has the details)
    assert convert_scenarios(_scenarios(without_signals=False))[3].strategy.entry_signal is not None
    bad = copy.deepcopy(_scenarios())
    bad["global"]["defaults"]["costs"]["borrowAprBps"] = 100
    with pytest.raises(ValidationFailed, match="long-only"):
        convert_scenarios(bad)
    with pytest.raises(ValidationFailed, match=r"strategy\[0\]\.target"):
        convert_scenarios({"name": "x", "strategy": [{"target": 0.5, "percent": 1}]})


def test_strategy_artifacts_are_content_addressed(store):
    strategies = Strategies(store)
    s = Strategy(ladder=[LadderLeg(take_profit_pct=100, size_pct=50)], stop_loss_pct=30)
    a = strategies.publish(s)
    b = strategies.publish(strategy_from_mapping(json.loads(s.canonical_json())))
    assert a.artifact_id == b.artifact_id and b.deduped and strategies.plan(s)[0] == a.artifact_id
    assert strategies.get(a.artifact_id) == s
    assert [r.artifact_id for r in strategies.list()] == [a.artifact_id]
    with pytest.raises(InvalidInput, match="not a strategy"):
        strategies.get(_publish_inputs(store)[0])


def test_canonical_json_leaves_unused_features_out_so_old_ids_stay():
    s = Strategy(take_profit_pct=20, stop_loss_pct=10)
    assert set(s.to_json_dict()) == {"name", "resolution", "entryDelaySeconds", "maxEntryLagSeconds", "takeProfitPct",
                                     "stopLossPct", "trailingStopPct", "maxHoldSeconds", "feeBps", "slippageBps",
                                     "notional", "initialCapital", "exitAtEndOfData"}


def test_run_by_strategy_id_equals_the_inline_run(store):
    a, c = _publish_inputs(store)
    exps = Experiments(store)
    inline = exps.run(_definition(a, c))
    sid = next(f.artifact_id for f in inline.inputs if f.role == "strategies")
    d = _definition(a, c)
    strategy = d["config"].pop("strategy")
    d["inputs"]["strategies"] = [sid]
    d["experimentId"] = "by-id"
    by_id = exps.run(d)
    assert by_id.status == "completed"
    def fills(run):  # trade ids differ with the experiment id
        t = store.read_table(run.outputs.fills).drop_columns(["experiment_id", "trade_id"])
        return t.sort_by([("alert_id", "ascending"), ("fill_seq", "ascending")])

    assert fills(by_id).equals(fills(inline)) and fills(by_id).num_rows > 0
    # inline strategy and a different listed strategy: refused, naming both
    other = Strategies(store).publish({**strategy, "takeProfitPct": 99}).artifact_id
    d2 = _definition(a, c)
    d2["inputs"]["strategies"] = [other]
    with pytest.raises(InvalidInput, match=other):
        exps.run(d2)


def test_sweep_over_ladder_legs_and_break_even(store):
    a, c = _publish_inputs(store)
    d = _definition(a, c, ladder=[{"takeProfitPct": 10, "sizePct": 50}, {"takeProfitPct": 40, "sizePct": 50}],
                    breakEvenTriggerPct=5)
    del d["config"]["strategy"]["takeProfitPct"]
    sweep = Experiments(store).sweep(d, {"ladder.0.takeProfitPct": [5, 20], "breakEvenTriggerPct": [5, 50]})
    assert len(sweep.points) == 4 and all(p.status == "completed" for p in sweep.points)
    runs = {p.experiment_id: Experiments(store).records.definition(p.run_id) for p in sweep.points}
    assert sorted((r.config.strategy.ladder[0].take_profit_pct, r.config.strategy.break_even_trigger_pct)
                  for r in runs.values()) == [(5, 5), (5, 50), (20, 5), (20, 50)]
    with pytest.raises(ValidationFailed, match="leg 3"):
        Experiments(store).sweep(d, {"ladder.3.sizePct": [10]})


def test_cli_strategy_import_ls_show_and_run_by_id(lake_dir, tmp_path, capsys):
    f = tmp_path / "scenarios.json"
    f.write_text(json.dumps(_scenarios()), encoding="utf-8")
    lake = ["--lake", str(lake_dir)]
    assert main(["init", *lake]) == 0
    capsys.readouterr()
    assert main(["strategy", "import", str(f), *lake]) == 0
    out = capsys.readouterr().out
    assert "ladder-2x-5x-10x" in out and "50% @ 2x, 30% @ 5x, 20% @ 10x" in out and "look-ahead" in out
    assert main(["strategy", "import", str(f), *lake, "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)["strategies"]
    assert all(s["deduped"] for s in imported)  # the second import: the same artifacts
    sid = imported[0]["artifact_id"]
    assert main(["strategy", "ls", *lake]) == 0
    assert sid in capsys.readouterr().out
    assert main(["strategy", "show", sid, *lake]) == 0
    out = capsys.readouterr().out
    assert "ladder" in out and "TAKEPROFITPCT" in out and "stopLossPct" in out
    assert main(["strategy", "import", str(tmp_path / "missing.json"), *lake]) == 2
    assert "cannot read" in capsys.readouterr().err

    store = Store(lake_dir)
    a, c = _publish_inputs(store)
    store.close()
    assert main(["experiment", "run", "--alerts", a, "--ohlcv", c, "--strategy-id", sid, *lake, "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["status"] == "completed" and run["outputs"]["fills"]


def test_report_shows_the_ladder_and_a_timeline_of_fills(store, tmp_path):
    a, c = _publish_inputs(store)
    d = _definition(a, c, ladder=[{"takeProfitPct": 10, "sizePct": 50}, {"takeProfitPct": 20, "sizePct": 30}],
                    exitAtEndOfData=True)
    del d["config"]["strategy"]["takeProfitPct"]
    exps = Experiments(store)
    res = exps.run(d)
    html = Path(exps.write_report(res.run_id, tmp_path / "r.html")).read_text(encoding="utf-8")
    assert "Profit-target ladder" in html and "1.1×" in html and "1.2×" in html
    assert "20 % of each position is left" in html
    assert "Fills per trade" in html and "take_profit #0" in html and "buy entry" in html
    assert res.outputs.fills in html
