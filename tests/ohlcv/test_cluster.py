"""`bridge ohlcv init-server --cluster`: the ON CLUSTER DDL (ReplicatedReplacingMergeTree shards under
a Distributed table). chDB parses every statement (EXPLAIN AST) and runs the shard table's columns,
key and partitioning with the single-node engine; what needs a real cluster (Keeper, macros,
remote_servers) is documented in docs/ohlcv.md, not run here."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from bridge.errors import InvalidInput
from bridge.ohlcv.cluster import cluster_ddl
from bridge.ohlcv.source import ColumnMap, SourceConfig
from tests.conftest import REPO

CHDB_CHECK = textwrap.dedent("""
    import json, sys
    from chdb import session
    s = session.Session()
    out = []
    for sql in json.loads(sys.stdin.read()):
        try:
            s.query(sql, "CSV")
            out.append(None)
        except Exception as exc:
            out.append(str(exc)[:300])
    print(json.dumps(out))
""")


def chdb_run(statements: list[str]) -> list[str | None]:
    """Run statements in a fresh chDB (a subprocess: one chDB engine per process); errors or None."""
    proc = subprocess.run([sys.executable, "-c", CHDB_CHECK], input=json.dumps(statements), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


CONFIGS = [
    SourceConfig(dsn="http://u:p@ch.internal:8123/market"),
    SourceConfig(dsn="http://ch:8123", table="md.ohlcv", ts_precision=6,
                 columns=ColumnMap(token="mint", chain=None, interval="res", ts="t")),
]


@pytest.mark.parametrize("config", CONFIGS, ids=["dsn-database", "mapped-columns"])
def test_cluster_ddl_parses_in_chdb_and_the_shard_table_runs(config):
    ddl = cluster_ddl(config, "team")
    assert len(ddl) == 3 and all(" ON CLUSTER `team`" in s for s in ddl)
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/" in ddl[1] and "'{replica}'" in ddl[1]
    assert "ENGINE = Distributed(`team`" in ddl[2] and "cityHash64(" in ddl[2]
    parsed = chdb_run([f"EXPLAIN AST {s}" for s in ddl])
    assert parsed == [None, None, None]
    # what a single node can run: the shard table with its columns, key and partitioning
    runnable = [s.replace(" ON CLUSTER `team`", "") for s in ddl[:2]]
    runnable[1] = runnable[1].split("ENGINE = ")[0] + "ENGINE = ReplacingMergeTree " + \
        runnable[1].split("') ", 1)[1]
    db_table = runnable[1].split(" (")[0].removeprefix("CREATE TABLE IF NOT EXISTS ")
    c = config.columns
    key_cols = [c.token, *([c.chain] if c.chain else []), c.interval, c.ts]
    row = ", ".join(["'T'", *(["'solana'"] if c.chain else []), "'1m'", "'2026-01-01 00:00:00'", "1", "2", "0.5", "1.5", "10"])
    results = chdb_run([*runnable, f"INSERT INTO {db_table} VALUES ({row})", f"INSERT INTO {db_table} VALUES ({row})",
                        f"SELECT count() FROM {db_table} FINAL"])
    assert results == [None] * 5, results
    # a broken statement is caught by the same check (the check can fail)
    assert chdb_run(["EXPLAIN AST " + ddl[1].replace("ORDER BY (", "ORDER BY ((")])[0] is not None
    assert all(f"`{k}`" in ddl[1] for k in key_cols)


def test_bad_names_are_refused():
    with pytest.raises(InvalidInput):
        cluster_ddl(CONFIGS[0], "team; DROP TABLE x")
    with pytest.raises(InvalidInput):
        cluster_ddl(CONFIGS[0], "team", local_suffix="-x")


def test_cli_dry_run_prints_the_ddl_and_a_chdb_dsn_is_refused(tmp_path):
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "bridge", "ohlcv", "init-server", *a], capture_output=True,  # noqa: E731
                                    text=True, env=env, cwd=tmp_path, timeout=120)
    out = run("--cluster", "team", "--dsn", "http://u:secret@ch:8123/market", "--dry-run", "--lake", "lake")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("ON CLUSTER `team`") == 3 and "Distributed(" in out.stdout
    js = json.loads(run("--cluster", "team", "--dsn", "http://u:secret@ch:8123/market", "--dry-run", "--json").stdout)
    assert len(js["statements"]) == 3 and "secret" not in json.dumps(js)
    subprocess.run([sys.executable, "-m", "bridge", "init", "--lake", "lake"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    bad = run("--cluster", "team", "--lake", "lake")  # the embedded chDB is one node
    assert bad.returncode == 2 and "needs a ClickHouse server" in bad.stderr and "Traceback" not in bad.stderr
