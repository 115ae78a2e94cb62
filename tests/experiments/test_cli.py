"""`bridge experiment run|ls|show|sweep|report` in process, on a real lake."""

from __future__ import annotations

import json

from bridge.cli import main
from bridge.store import Store
from tests.experiments.test_lifecycle import _definition, _publish_inputs


def test_cli_run_ls_show_sweep_report(lake_dir, tmp_path, capsys):
    store = Store(lake_dir)
    a, c = _publish_inputs(store)
    store.close()
    d = tmp_path / "def.json"
    d.write_text(json.dumps(_definition(a, c)), encoding="utf-8")
    lake = ["--lake", str(lake_dir)]

    assert main(["experiment", "run", str(d), *lake, "--json", "--report", str(tmp_path / "r.html")]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["status"] == "completed" and run["outputs"]["trades"] and run["report"].endswith("r.html")

    assert main(["experiment", "show", "exp-test", *lake]) == 0
    out = capsys.readouterr().out
    assert run["run_id"] in out and "profit_factor" in out and a in out

    assert main(["experiment", "ls", *lake, "--json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [run["run_id"]]

    assert main(["experiment", "sweep", str(d), *lake, "--param", "takeProfitPct=20,50",
                 "--grid", '{"stopLossPct": [10]}']) == 0
    out = capsys.readouterr().out
    assert "TAKEPROFITPCT" in out and out.count("exp-test--") == 2

    assert main(["experiment", "report", "exp-test", *lake]) == 0
    path = capsys.readouterr().out.strip()
    assert path.endswith(".html") and "<svg" in open(path, encoding="utf-8").read()


def test_cli_errors_map_to_exit_codes(lake_dir, tmp_path, capsys):
    assert main(["init", "--lake", str(lake_dir)]) == 0
    d = tmp_path / "def.json"
    d.write_text(json.dumps(_definition("0" * 32, "1" * 32)), encoding="utf-8")
    assert main(["experiment", "run", str(d), "--lake", str(lake_dir)]) == 2      # unknown inputs
    assert "not in the manifest" in capsys.readouterr().err
    assert main(["experiment", "show", "nope", "--lake", str(lake_dir)]) == 3     # not found
    assert main(["experiment", "sweep", str(d), "--lake", str(lake_dir)]) == 2    # no grid
    assert main(["experiment", "run", str(tmp_path / "missing.json"), "--lake", str(lake_dir)]) == 2


def test_cli_run_without_a_definition_file(lake_dir, tmp_path, capsys):
    store = Store(lake_dir)
    a, c = _publish_inputs(store)
    store.close()
    lake = ["--lake", str(lake_dir)]
    assert main(["experiment", "run", "--alerts", a, "--ohlcv", c, "--strategy", '{"takeProfitPct": 20}',
                 "--name", "quick", *lake, "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["status"] == "completed" and run["experiment_id"].startswith("quick-")
    assert main(["experiment", "run", "--alerts", a, *lake]) == 2
    assert main(["experiment", "run", "--alerts", a, "--ohlcv", c, "--strategy", "{", *lake]) == 2
