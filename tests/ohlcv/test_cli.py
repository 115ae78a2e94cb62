"""`bridge ohlcv load|export|coverage|sample`: tables for people, --json for scripts, exit codes;
and a CLI command taking its turn while another process holds the chDB store."""

from __future__ import annotations

import json
import subprocess
import sys

from bridge.cli import main
from tests.ohlcv.test_turns import _hold

FROM, TO = "2026-01-02T00:00:00Z", "2026-01-06T00:00:00Z"


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _seeded(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    assert run(capsys, "init", "--lake", lake)[0] == 0
    csv = str(tmp_path / "c.csv")
    code, out, _ = run(capsys, "ohlcv", "sample", csv, "--tokens", "TokA,TokB", "--from", FROM, "--to", TO,
                       "--res", "1h", "--weekend-gaps", "--lake", lake)
    assert code == 0 and "wrote 96 candles for 2 token(s)" in out
    code, out, _ = run(capsys, "ohlcv", "load", csv, "--lake", lake, "--json")
    assert code == 0 and json.loads(out)["rows_visible"] == 96
    return lake


def test_load_export_coverage_round_trip(tmp_path, capsys):
    lake = _seeded(tmp_path, capsys)
    code, out, _ = run(capsys, "ohlcv", "export", "--token", "TokA", "--chain", "solana", "--res", "1h",
                       "--from", FROM, "--to", TO, "--lake", lake, "--json")
    first = json.loads(out)
    assert code == 0 and first["row_count"] == 48 and first["reused"] is False
    code, out, _ = run(capsys, "ohlcv", "export", "--token", "TokA", "--chain", "solana", "--res", "1h",
                       "--from", FROM, "--to", TO, "--lake", lake)
    assert code == 0 and "reused" in out and "True" in out and first["artifact_id"] in out
    code, out, _ = run(capsys, "ohlcv", "coverage", "--slice", first["artifact_id"], "--lake", lake)
    assert code == 0
    assert "2026-01-03T00:00:00.000000Z  2026-01-05T00:00:00.000000Z  48" in out
    code, out, _ = run(capsys, "ohlcv", "coverage", "--slice", first["artifact_id"], "--lake", lake, "--json")
    data = json.loads(out)
    assert data["missing"] == 48 and data["gaps"][0]["missing_count"] == 48
    assert data["summary"][0]["present"] == 48


def test_export_for_alerts_and_forward_coverage(tmp_path, capsys):
    from bridge.store import Store

    lake = _seeded(tmp_path, capsys)
    store = Store(lake)
    alerts = store.publish("alerts", 1, "cli-alerts", [
        {"alert_id": "a", "alert_ts": "2026-01-05T10:00:00Z", "token_address": "TokA", "chain": "solana"},
        {"alert_id": "b", "alert_ts": "2026-01-02T20:00:00Z", "token_address": "TokB", "chain": "solana"},
    ]).artifact_id
    store.close()
    code, out, _ = run(capsys, "ohlcv", "export", "--alerts", alerts, "--before", "1h", "--after", "24h",
                       "--res", "1h", "--lake", lake, "--json")
    res = json.loads(out)
    assert code == 0 and (res["windows"], res["exported"]) == (2, 2)
    code, out, _ = run(capsys, "ohlcv", "coverage", "--alerts", alerts, "--horizon", "12h", "--res", "1h",
                       "--lake", lake, "--json")
    cov = json.loads(out)
    by_id = {r["alert_id"]: r for r in cov["rows"]}
    assert by_id["a"]["fully_covered"] is True
    assert (by_id["b"]["expected"], by_id["b"]["present"]) == (12, 4)  # Friday 20:00 + 12 h runs into Saturday
    assert cov["artifact_id"]
    # --limit cuts the table and --json alike: the hint names --limit and the artifact with every row
    code, out, _ = run(capsys, "ohlcv", "coverage", "--alerts", alerts, "--horizon", "12h", "--res", "1h",
                       "--lake", lake, "--limit", "1")
    assert code == 0 and f"(1 more row(s); raise --limit to show them; every row is in artifact {cov['artifact_id']})" in out
    assert "--json" not in out
    code, out, _ = run(capsys, "ohlcv", "coverage", "--alerts", alerts, "--horizon", "12h", "--res", "1h",
                       "--lake", lake, "--limit", "1", "--json", "--no-publish")
    cut = json.loads(out)
    assert len(cut["rows"]) == 1 and cut["truncated"] is True and cut["artifact_id"] is None
    code, out, _ = run(capsys, "ohlcv", "coverage", "--alerts", alerts, "--horizon", "12h", "--res", "1h",
                       "--lake", lake, "--limit", "1", "--no-publish")
    assert code == 0 and "(1 more row(s); raise --limit to show them)\n" in out


def test_usage_errors_and_source_errors_have_exit_codes(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    assert run(capsys, "init", "--lake", lake)[0] == 0
    code, _, err = run(capsys, "ohlcv", "export", "--res", "1m", "--lake", lake)
    assert code == 2 and "--token" in err
    code, _, err = run(capsys, "ohlcv", "export", "--token", "T", "--res", "1m", "--from", FROM, "--to", TO,
                       "--dsn", "http://u:secret@127.0.0.1:9/db", "--lake", lake)
    assert code == 5 and "127.0.0.1:9" in err and "secret" not in err
    code, out, _ = run(capsys, "ohlcv", "export", "--token", "T", "--res", "1m", "--from", FROM, "--to", TO,
                       "--column", "ts", "--lake", lake, "--json")
    assert code == 2 and json.loads(out)["error"]["type"] == "InvalidInput"
    code, _, err = run(capsys, "ohlcv", "coverage", "--slice", "0" * 32, "--lake", lake)
    assert code == 3


def test_a_cli_command_waits_for_the_store_held_by_another_process(tmp_path, capsys):
    lake = _seeded(tmp_path, capsys)
    dsn = f"chdb://{tmp_path / 'lake' / 'sources' / 'chdb'}"
    holder = _hold(dsn, 1.0)
    try:
        out = subprocess.run([sys.executable, "-m", "bridge", "ohlcv", "export", "--token", "TokB", "--chain",
                              "solana", "--res", "1h", "--from", FROM, "--to", TO, "--lake", lake, "--json"],
                             capture_output=True, text=True, timeout=120)
    finally:
        holder.wait(timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["row_count"] == 48
