"""The experiment lifecycle on a real lake: validate, freeze, project, run, publish, record;
idempotent re-runs, failures and cancellation leave no outputs, sweeps, reports."""

from __future__ import annotations

import pytest

from bridge.errors import Cancelled, InvalidState, UnknownInputArtifact, ValidationFailed
from bridge.experiments.runner import Experiments
from bridge.progress import Job
from tests.experiments.helpers import MIN, T0, candle_rows, candles_table

FLAT = (1.0, 1.0, 1.0, 1.0)
UP = (1.0, 1.3, 0.95, 1.1)
DOWN = (1.0, 1.05, 0.85, 0.9)
CREATED = "2026-02-01T00:00:00Z"


def _iso(us: int) -> str:
    from bridge.store.timeutil import iso_from_micros

    return iso_from_micros(us)


def _publish_inputs(store, *, tag: str = "") -> tuple[str, str]:
    alerts = [
        {"alert_id": "a", "alert_ts": _iso(T0), "token_address": "A", "chain": "solana"},
        {"alert_id": "b", "alert_ts": _iso(T0 + 30_000_000), "token_address": "B", "chain": "solana"},
        {"alert_id": "c", "alert_ts": _iso(T0), "token_address": "C", "chain": "base"},
        {"alert_id": "x", "alert_ts": _iso(T0), "token_address": "NOPE", "chain": "solana"},
    ]
    a = store.publish("alerts", 1, f"test/alerts{tag}", alerts, writer_name="test", writer_version="1")
    rows = (candle_rows("A", [FLAT, UP, FLAT]) + candle_rows("B", [FLAT, FLAT, DOWN, FLAT])
            + candle_rows("C", [FLAT, FLAT, FLAT, FLAT, UP]))
    c = store.publish("ohlcv_slice", 2, f"test/candles{tag}", candles_table(rows), writer_name="test", writer_version="1")
    return a.artifact_id, c.artifact_id


def _definition(alerts_id: str, ohlcv_id: str, **strategy) -> dict:
    return {
        "name": "tp-sl test",
        "experimentId": "exp-test",
        "inputs": {"alerts": [alerts_id], "ohlcv": [ohlcv_id]},
        "config": {"strategy": {"takeProfitPct": 20, "stopLossPct": 10, "notional": 100, "initialCapital": 1000,
                                **strategy},
                   "params": {"note": "unit test"}},
        "provenance": {"gitCommit": "abc123", "gitDirty": False, "createdAt": CREATED},
    }


def test_run_publishes_five_outputs_with_lineage(store):
    a, c = _publish_inputs(store)
    exps = Experiments(store)
    res = exps.run(_definition(a, c))
    assert res.status == "completed" and res.new_artifacts == 6  # with the breakdown
    assert res.execution.duration is not None and res.execution.error is None
    out = res.outputs
    s = next(f.artifact_id for f in res.inputs if f.role == "strategies")  # the inline strategy, published first
    assert store.get(s).artifact_type == "strategy"
    for aid, typ, key in ((out.trades, "experiment_trades", "trades"), (out.metrics, "experiment_metrics", "metrics"),
                          (out.curves, "experiment_equity_curve", "equity"),
                          (out.diagnostics, "experiment_diagnostics", "diagnostics"),
                          (out.fills, "experiment_fills", "fills")):
        art = store.get(aid)
        assert art.artifact_type == typ and art.logical_key == f"experiment=exp-test/{key}"
        assert sorted(art.input_artifact_ids) == sorted([a, c, s])
    trades = store.read_table(out.trades).to_pylist()
    assert {t["alert_id"]: t["exit_reason"] for t in trades} == {"a": "take_profit", "c": "take_profit",
                                                                 "b": "stop_loss"}
    assert {(f.role, f.artifact_id) for f in res.inputs} == {("alerts", a), ("ohlcv", c), ("strategies", s)}
    assert all(f.content_hash == store.get(f.artifact_id).content_hash for f in res.inputs)
    assert res.projection_id
    diags = store.read_table(out.diagnostics).to_pylist()
    assert {"alert_id": "x", "kind": "skipped", "reason": "no_candles_for_token"}.items() <= \
        next(r for r in diags if r["alert_id"] == "x").items()


def test_rerun_publishes_nothing_new(store):
    a, c = _publish_inputs(store)
    exps = Experiments(store)
    first = exps.run(_definition(a, c))
    before = len(store.list(limit=1000).items)
    second = exps.run(_definition(a, c))
    assert second.run_id != first.run_id and second.new_artifacts == 0
    assert second.outputs == first.outputs
    assert len(store.list(limit=1000).items) == before
    assert [r.run_id for r in exps.list_runs(experiment_id="exp-test")] == [second.run_id, first.run_id]


def test_missing_and_superseded_inputs_fail_the_run(store):
    a, c = _publish_inputs(store)
    exps = Experiments(store)
    with pytest.raises(UnknownInputArtifact):
        exps.run(_definition(a, "0" * 32))
    failed = exps.list_runs(status="failed")
    assert len(failed) == 1 and failed[0].execution.error_type == "UnknownInputArtifact"
    assert failed[0].outputs.trades is None
    a2, _ = _publish_inputs(store, tag="-v2")
    store.supersede(a2, a)
    with pytest.raises(InvalidState, match="superseded"):
        exps.run(_definition(a, c))
    ok = exps.run({**_definition(a, c), "allowSuperseded": True})
    assert ok.status == "completed"


def test_invalid_definition_is_refused_before_recording(store):
    with pytest.raises(ValidationFailed, match="takeProfitPct"):
        Experiments(store).run({"name": "x", "inputs": {"alerts": ["a"], "ohlcv": ["b"]},
                                "config": {"strategy": {"takeProfitPct": "lots"}}})
    assert Experiments(store).list_runs() == []


@pytest.mark.parametrize("rng", [("2026-01-27T00:00:00Z", "2026-01-26T00:00:00Z"),
                                 ("2026-01-26T00:00:00Z", "2026-01-26T00:00:00Z")])
def test_date_range_from_not_before_to_is_an_invalid_definition(store, rng):
    a, c = _publish_inputs(store)
    d = _definition(a, c)
    d["config"]["dateRange"] = {"from": rng[0], "to": rng[1]}
    with pytest.raises(ValidationFailed, match=r"dateRange.from .* must be before config.dateRange.to"):
        Experiments(store).run(d)
    assert Experiments(store).list_runs() == []
    assert store.list(artifact_type="run_metrics").items == []


@pytest.mark.parametrize("at", ["building projection", "backtesting", "publishing"])
def test_cancelled_run_publishes_nothing(store, at):
    a, c = _publish_inputs(store)
    before = {x.artifact_id for x in store.list(limit=1000).items}
    job = Job()
    seen = []

    def sink(done, total, message):
        seen.append(message)
        if message == at:
            job.cancel()

    job._sink = sink
    with pytest.raises(Cancelled):
        Experiments(store).run(_definition(a, c), job=job)
    assert {x.artifact_id for x in store.list(limit=1000).items} == before
    run = Experiments(store).list_runs()[0]
    assert run.status == "failed" and run.execution.error_type == "Cancelled"


def test_sweep_one_pass_runs_per_point_and_comparison(store):
    a, c = _publish_inputs(store)
    exps = Experiments(store)
    sweep = exps.sweep(_definition(a, c), {"takeProfitPct": [20, 50], "stop_loss_pct": [10, 20]})
    assert len(sweep.points) == 4
    assert len({p.experiment_id for p in sweep.points}) == 4
    runs = exps.list_runs(sweep_id=sweep.sweep_id)
    assert len(runs) == 4 and {r.status for r in runs} == {"completed"}
    assert len({r.projection_id for r in runs}) == 1
    for p in sweep.points:
        single = exps.run({**_definition(a, c, takeProfitPct=p.params["takeProfitPct"],
                                         stopLossPct=p.params["stopLossPct"]), "experimentId": p.experiment_id})
        assert single.new_artifacts == 0  # the sweep published exactly what a single run would
        assert single.outputs == next(r for r in runs if r.experiment_id == p.experiment_id).outputs
    compared = exps.compare(sweep.sweep_id)
    assert [p.metrics for p in sorted(compared, key=lambda p: p.experiment_id)] == \
        [p.metrics for p in sorted(sweep.points, key=lambda p: p.experiment_id)]
    with pytest.raises(ValidationFailed, match="resolution"):
        exps.sweep(_definition(a, c), {"resolution": ["1m"]})


def test_report_is_self_contained(store, tmp_path):
    a, c = _publish_inputs(store)
    exps = Experiments(store)
    res = exps.run(_definition(a, c))
    path = exps.write_report(res.run_id, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert path.endswith("report.html")
    assert "<svg" in html and "sharpe" in html and res.outputs.trades in html and a in html
    assert "http://" not in html and "https://" not in html and "<script src" not in html
    # by experiment id too
    assert exps.write_report("exp-test", tmp_path / "r2.html")


def test_failure_during_execution_records_error_and_publishes_nothing(store):
    a, _ = _publish_inputs(store)
    rows = candle_rows("A", [FLAT, UP]) + candle_rows("A", [FLAT, UP], resolution="5m", step_us=5 * MIN)
    c = store.publish("ohlcv_slice", 2, "test/two-resolutions", candles_table(rows), writer_name="t", writer_version="1")
    before = {x.artifact_id for x in store.list(limit=1000).items}
    exps = Experiments(store)
    with pytest.raises(Exception, match="resolution"):
        exps.run(_definition(a, c.artifact_id))
    run = exps.list_runs()[0]
    assert run.status == "failed" and run.execution.error_type == "InvalidInput" and "resolution" in run.execution.error
    assert run.execution.completed_at and run.outputs == type(run.outputs)()
    assert {x.artifact_id for x in store.list(limit=1000).items} == before
    ok = exps.run(_definition(a, c.artifact_id, resolution="5m"))
    assert ok.status == "completed"


def test_runs_of_dead_processes_are_marked_failed(store):
    import subprocess
    import sys

    a, c = _publish_inputs(store)
    exps = Experiments(store)
    run_id = exps.records.create(__import__("bridge.experiments", fromlist=["load_definition"]).load_definition(
        _definition(a, c)))
    exps.records.running(run_id)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(child.stdout)
    with store.connect() as con:
        con.execute("UPDATE experiment_runs SET pid = ? WHERE run_id = ?", (dead_pid, run_id))
    assert Experiments(store).get_run(run_id).status == "failed"
    assert Experiments(store).get_run(run_id).execution.error_type == "Crashed"


def test_cancel_interrupts_a_running_query():
    import threading
    import time

    import duckdb

    from bridge.projections.builder import interrupt_on_cancel

    con = duckdb.connect()
    job = Job()
    threading.Timer(0.2, job.cancel).start()
    t0 = time.monotonic()
    with pytest.raises(duckdb.InterruptException), interrupt_on_cancel(con, job):
        con.execute("SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b").fetchall()
    assert time.monotonic() - t0 < 10


def test_a_cancel_before_the_statement_starts_still_interrupts_it():
    """DuckDB drops an interrupt that arrives while nothing runs: the watcher interrupts again."""
    import threading
    import time

    import duckdb

    from bridge.projections.builder import interrupt_on_cancel

    con = duckdb.connect()
    interrupted = threading.Event()

    class Watched:  # the connection, telling when the watcher has interrupted it
        def interrupt(self):
            con.interrupt()
            interrupted.set()

    job = Job()
    job.cancel()
    backstop = threading.Timer(30, con.interrupt)  # ends the statement should the cancel be lost
    backstop.start()
    try:
        with pytest.raises(duckdb.InterruptException), interrupt_on_cancel(Watched(), job):
            assert interrupted.wait(10)  # the first interrupt has landed, while no statement runs
            t0 = time.monotonic()
            con.execute("SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b").fetchall()
    finally:
        backstop.cancel()
    assert time.monotonic() - t0 < 10


def test_without_created_at_and_id_reruns_are_still_idempotent(store):
    a, c = _publish_inputs(store)
    d = _definition(a, c)
    del d["experimentId"], d["provenance"]["createdAt"]
    exps = Experiments(store)
    first, second = exps.run(d), exps.run(d)
    assert first.experiment_id == second.experiment_id and first.experiment_id.startswith("tp-sl-test-")
    assert second.new_artifacts == 0 and second.outputs == first.outputs
    computed = set(store.read_table(first.outputs.metrics).column("computed_at").to_pylist())
    newest_input = max(store.get(x).created_at for x in (a, c))
    assert [t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for t in computed] == [newest_input]


def test_definition_text_is_held_to_the_manifest_limits(store):
    from bridge.store.limits import MAX_TEXT_CHARS

    a, c = _publish_inputs(store)
    for field, change in (("name", {"name": "n" * (MAX_TEXT_CHARS + 1)}), ("name", {"name": "a\x00b"}),
                          ("description", {"description": "d" * (MAX_TEXT_CHARS + 1)})):
        d = {**_definition(a, c), **change}
        with pytest.raises(ValidationFailed) as info:
            Experiments(store).run(d)
        assert info.value.data["field"] == field
    assert Experiments(store).list_runs() == []
