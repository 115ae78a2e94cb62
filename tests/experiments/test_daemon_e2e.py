"""Experiments through the real daemon (subprocess, JSON-RPC over stdio): publish inputs inline,
runExperiment with progress, getRun/listRuns, runSweep, writeReport, an application error."""

from __future__ import annotations

from pathlib import Path

from tests.daemon import Daemon
from tests.experiments.helpers import T0, candle_rows

FLAT = (1.0, 1.0, 1.0, 1.0)
UP = (1.0, 1.3, 0.95, 1.1)
DOWN = (1.0, 1.05, 0.85, 0.9)


def _iso(us: int) -> str:
    from bridge.store.timeutil import iso_from_micros

    return iso_from_micros(us)


def _publish(d: Daemon, typ: str, version: int, key: str, rows: list[dict]) -> str:
    return d.result("publishDataFrame", {"artifactType": typ, "schemaVersion": version, "logicalKey": key,
                                         "dataFrame": rows, "writerName": "pytest", "writerVersion": "1"})["artifactId"]


def test_experiment_over_the_wire(tmp_path: Path):
    d = Daemon(tmp_path / "lake")
    try:
        d.result("initialize", {"protocolVersion": "1.0", "clientInfo": {"name": "pytest"}})
        alerts = _publish(d, "alerts", 1, "e2e/alerts", [
            {"alert_id": "a", "alert_ts": _iso(T0), "token_address": "A", "chain": "solana"},
            {"alert_id": "b", "alert_ts": _iso(T0), "token_address": "B", "chain": "solana"}])
        rows = candle_rows("A", [FLAT, UP]) + candle_rows("B", [FLAT, DOWN])
        candles = _publish(d, "ohlcv_slice", 2, "e2e/candles", [{**r, "ts": _iso(r["ts"])} for r in rows])
        definition = {"name": "e2e", "experimentId": "e2e-1", "inputs": {"alerts": [alerts], "ohlcv": [candles]},
                      "config": {"strategy": {"takeProfitPct": 20, "stopLossPct": 10}},
                      "provenance": {"createdAt": "2026-02-01T00:00:00Z"}}

        run = d.result("runExperiment", {"definition": definition, "reportPath": str(tmp_path / "r.html")})
        assert run["status"] == "completed" and run["newArtifacts"] == 6  # with the breakdown
        assert any(n["method"] == "$/progress" for n in d.notifications)
        html = (tmp_path / "r.html").read_text(encoding="utf-8")
        charts = html.count("aria-label='price chart'") + html.count("aria-label='indicator panel'")
        assert html.count("<svg") == 2 + charts and "aria-label='equity curve'" in html
        trades = d.result("getArtifact", {"artifactId": run["outputs"]["trades"]})
        assert trades["logicalKey"] == "experiment=e2e-1/trades" and trades["rowCount"] == 2
        strategy_id = next(i["artifactId"] for i in run["inputs"] if i["role"] == "strategies")
        assert d.result("getArtifact", {"artifactId": strategy_id})["artifactType"] == "strategy"
        assert sorted(trades["inputArtifactIds"]) == sorted([alerts, candles, strategy_id])

        again = d.result("runExperiment", {"definition": definition})
        assert again["newArtifacts"] == 0 and again["outputs"] == run["outputs"]
        assert d.result("getRun", {"runId": "e2e-1"})["runId"] == again["runId"]
        assert len(d.result("listRuns", {"experimentId": "e2e-1"})["runs"]) == 2

        sweep = d.result("runSweep", {"definition": definition, "grid": {"stopLossPct": [5, 10]}})
        assert [p["status"] for p in sweep["points"]] == ["completed", "completed"]
        rep = d.result("writeReport", {"runId": run["runId"]})
        assert Path(rep["path"]).exists()

        missing = d.call("runExperiment", {"definition": {**definition, "inputs": {"alerts": ["0" * 32],
                                                                                   "ohlcv": [candles]}}})
        assert "error" in missing and "0" * 32 in str(missing["error"])
        bad = d.call("runExperiment", {"definition": {**definition, "bogus": 1}})
        assert bad["error"]["code"] == -32602
    finally:
        assert d.close() == 0
