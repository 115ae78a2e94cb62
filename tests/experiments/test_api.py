"""The experiment API handlers with wire-decoded params (msgspec, camelCase), on a real lake."""

from __future__ import annotations

import json
from types import SimpleNamespace

import msgspec
import pytest

from bridge.api import experiments as api
from bridge.errors import RunNotFound
from bridge.progress import Job
from tests.experiments.test_lifecycle import _definition, _publish_inputs


def _call(handler, params_type, ctx, payload: dict):
    params = msgspec.json.decode(json.dumps(payload).encode(), type=params_type)
    out = handler(ctx, params)
    wire = json.loads(msgspec.json.encode(out))  # what the daemon would send
    return out, wire


def test_handlers_round_trip(store, tmp_path):
    a, c = _publish_inputs(store)
    events = []
    ctx = SimpleNamespace(store=store, job=Job(lambda d, t, m: events.append(m)))
    _, run = _call(api.run_experiment, api.RunExperimentParams, ctx,
                   {"definition": _definition(a, c), "reportPath": str(tmp_path / "r.html")})
    assert run["status"] == "completed" and set(run["outputs"]) == {"trades", "metrics", "curves", "diagnostics", "fills",
                                                                    "breakdown"}
    assert run["execution"]["startedAt"] and "publishing" in events and (tmp_path / "r.html").exists()

    _, listed = _call(api.list_runs, api.ListRunsParams, ctx, {"experimentId": "exp-test"})
    assert [r["runId"] for r in listed["runs"]] == [run["runId"]]
    _, got = _call(api.get_run, api.GetRunParams, ctx, {"runId": run["runId"]})
    assert got == run

    _, sweep = _call(api.run_sweep, api.RunSweepParams, ctx,
                     {"definition": _definition(a, c), "grid": {"takeProfitPct": [20, 40]}})
    assert len(sweep["points"]) == 2 and all(p["status"] == "completed" for p in sweep["points"])
    assert json.dumps(sweep, allow_nan=False)  # no NaN/Infinity on the wire

    _, rep = _call(api.write_report, api.WriteReportParams, ctx, {"runId": "exp-test"})
    assert rep["path"].endswith("exp-test.html")
    with pytest.raises(RunNotFound):
        _call(api.get_run, api.GetRunParams, ctx, {"runId": "nope"})


def test_params_refuse_unknown_fields():
    with pytest.raises(msgspec.ValidationError, match="bogus"):
        msgspec.json.decode(b'{"runId": "x", "bogus": 1}', type=api.GetRunParams)
    with pytest.raises(msgspec.ValidationError, match="takeProfitPct"):
        msgspec.json.decode(json.dumps({"definition": {"name": "x", "inputs": {"alerts": [], "ohlcv": []},
                                                       "config": {"strategy": {"takeProfitPct": "x"}}}}).encode(),
                            type=api.RunExperimentParams)


def test_declarations_name_each_method_once():
    names = [d["name"] for d in api.DECLARATIONS]
    assert names == ["runExperiment", "runSweep", "listRuns", "getRun", "writeReport", "writeSweepReport"]
    assert {d["name"] for d in api.DECLARATIONS if d["long_running"]} == {"runExperiment", "runSweep", "writeReport",
                                                                          "writeSweepReport"}


def test_methods_build_when_the_rpc_layer_is_present():
    import importlib.util

    if importlib.util.find_spec("bridge.api._method") is None:
        assert api.METHODS == []
        return
    assert [m.name for m in api.METHODS] == [d["name"] for d in api.DECLARATIONS]
    m = api.METHODS[0]
    assert m.decode_params(b'{"definition": {"name": "x", "inputs": {"alerts": ["a"], "ohlcv": ["b"]}, '
                           b'"config": {"strategy": {}}}}').definition.name == "x"
