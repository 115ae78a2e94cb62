"""The `bridge project` commands, run in-process through the real argument parser."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from bridge.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_build_ls_show_query_rebuild_dispose(capsys, store, published, tmp_path):
    lake = str(store.lake.root)
    code, out, _ = run(capsys, "project", "build", "--lake", lake, "--table", f"candles={published.abc},{published.defg}",
                       "--table", f"alerts={published.alerts}", "--id", "p1", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["projection_id"] == "p1" and info["row_count"] == {"alerts": 5, "candles": 100}

    code, out, _ = run(capsys, "project", "build", "--lake", lake, "--table", f"candles={published.defg}",
                       "--table", f"candles={published.abc}", "--table", f"alerts={published.alerts}", "--id", "p1")
    assert code == 0 and out.startswith("reused p1")

    code, out, _ = run(capsys, "project", "ls", "--lake", lake)
    assert code == 0 and "p1" in out and "candles" in out

    code, out, _ = run(capsys, "project", "show", "--lake", lake, "p1", "--json")
    assert json.loads(out)["fingerprint"] == info["fingerprint"]

    code, out, err = run(capsys, "project", "query", "--lake", lake, "p1",
                         "SELECT token, count(*) AS n FROM candles WHERE close > ? GROUP BY ALL ORDER BY 1",
                         "--param", "0")
    assert code == 0 and out.splitlines()[0].split() == ["token", "n"] and "ABC" in out and "60" in out
    assert "2 row(s)" in err

    code, out, _ = run(capsys, "project", "query", "--lake", lake, "p1", "SELECT count(*) AS n FROM candles WHERE token = $t",
                       "--named", "t=DEF", "--json")
    res = json.loads(out)
    assert res["rows"] == [[40]] and res["columns"] == [{"name": "n", "type": "BIGINT"}]

    target = tmp_path / "out.parquet"
    code, out, _ = run(capsys, "project", "query", "--lake", lake, "p1", "SELECT * FROM candles", "--output", str(target))
    assert code == 0 and pq.read_table(target).num_rows == 100

    code, out, _ = run(capsys, "project", "rebuild", "--lake", lake, "p1", "--json")
    assert code == 0 and json.loads(out)["fingerprint"] == info["fingerprint"]

    code, out, _ = run(capsys, "project", "extend", "--lake", lake, "p1", "--table", f"candles={published.ghi}", "--json")
    assert code == 0 and json.loads(out)["row_count"]["candles"] == 130

    code, out, _ = run(capsys, "project", "dispose", "--lake", lake, "p1")
    assert code == 0 and "disposed p1" in out
    code, _, err = run(capsys, "project", "show", "--lake", lake, "p1")
    assert code == 3 and "does not exist" in err


def test_refused_queries_and_bad_arguments(capsys, store, published):
    lake = str(store.lake.root)
    run(capsys, "project", "build", "--lake", lake, "--table", f"c={published.abc}", "--id", "p")
    code, out, _ = run(capsys, "project", "query", "--lake", lake, "p", "DROP TABLE c", "--json")
    err = json.loads(out)["error"]
    assert code == 2 and err["type"] == "ReadOnlyViolation" and err["data"]["statement_type"] == "DROP"
    code, _, err = run(capsys, "project", "build", "--lake", lake, "--table", "c")
    assert code == 2 and "NAME=ID" in err
    code, _, err = run(capsys, "project", "query", "--lake", lake, "p", "SELEC 1")
    assert code == 2 and "does not parse" in err


def test_query_reads_sql_from_stdin(capsys, store, published, monkeypatch):
    import io

    lake = str(store.lake.root)
    run(capsys, "project", "build", "--lake", lake, "--table", f"c={published.abc}", "--id", "p")
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT count(*) AS n FROM c"))
    code, out, _ = run(capsys, "project", "query", "--lake", lake, "p", "-", "--json")
    assert code == 0 and json.loads(out)["rows"] == [[60]]


@pytest.mark.parametrize("sub", ["build", "ls", "query", "rebuild", "dispose", "extend", "show"])
def test_every_subcommand_has_help(capsys, sub):
    with pytest.raises(SystemExit) as exc:
        main(["project", sub, "--help"])
    assert exc.value.code == 0 and "--lake" in capsys.readouterr().out


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used: /proc/<pid>/stat fields 14-15."""
    import os

    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("sql", ["SELECT count(*) FROM range(1000000000000) a",  # hung until the query ended
                                 "SELECT count(*) FROM range(1000000000000) a, candles"])  # RuntimeError, exit 1
def test_ctrl_c_during_a_query_exits_130_at_once(store, published, proj, sql, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO, sigint_default

    proj.build({"candles": [published.abc]}, projection_id="p1")
    go = tmp_path / "go"
    go.touch()  # the hold point only marks: it touches go.reached just before the statement runs
    child = subprocess.Popen([sys.executable, "-m", "bridge", "project", "query", "--lake", str(store.lake.root), "p1",
                              sql],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=sigint_default,
                             env={**os.environ, "PYTHONPATH": str(REPO), "QB_HOLD_AT": "projection_query", "QB_HOLD_FILE": str(go)})
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "go.reached").exists():
            assert child.poll() is None and time.monotonic() < deadline, (child.kill(), child.communicate(timeout=10))
            time.sleep(0.02)
        # Ctrl-C while DuckDB runs the statement: once the process has used 0.3 s of CPU since the
        # mark (binding takes milliseconds; CPU time, unlike wall time, does not stretch under load)
        cpu = _cpu_seconds(child.pid)
        while _cpu_seconds(child.pid) - cpu < 0.3:
            assert child.poll() is None and time.monotonic() < deadline, (child.kill(), child.communicate(timeout=10))
            time.sleep(0.02)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err
    # "interrupted" alone: not "(the work did not stop in time)", the exit after the CLI's 10 s grace
    assert err.decode().strip() == "interrupted", err
    assert took < 8, f"exit took {took:.1f} s after Ctrl-C"


def test_query_output_cannot_overwrite_the_projection(capsys, store, published, proj, tmp_path):
    lake = str(store.lake.root)
    info = proj.build({"candles": [published.abc]}, projection_id="p1")
    db = info.duckdb_path
    before = open(db, "rb").read()
    for victim in (db, str(tmp_path / "lake" / "cache" / "projections" / "p1" / "projection.json")):
        code, out, err = run(capsys, "project", "query", "--lake", lake, "p1", "SELECT 42 AS x", "--output", victim,
                             "--format", "csv", "--overwrite")
        assert code == 2 and "exports folder" in err and "Traceback" not in err
    assert open(db, "rb").read() == before
    code, out, _ = run(capsys, "project", "build", "--lake", lake, "--table", f"candles={published.abc}", "--id", "p1")
    assert code == 0 and out.startswith("reused p1")
    mine = tmp_path / "mine.csv"
    mine.write_text("keep me\n", encoding="utf-8")
    code, _, err = run(capsys, "project", "query", "--lake", lake, "p1", "SELECT 42 AS x", "--output", str(mine))
    assert code == 2 and "already exists" in err and "--overwrite" in err
    assert mine.read_text(encoding="utf-8") == "keep me\n"
    code, out, _ = run(capsys, "project", "query", "--lake", lake, "p1", "SELECT 42 AS x", "--output", str(mine),
                       "--overwrite")
    assert code == 0 and "wrote 1 rows" in out and mine.read_text(encoding="utf-8").splitlines() == ['"x"', "42"]
