"""The store CLI, run as a real subprocess: PRD appendix flags, tables, --json, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

CSV = "ts,open,high,low,close,volume\n2026-01-26T00:00:00Z,1,2,0.5,1.5,10\n2026-01-26T00:01:00Z,1.5,2,1,1.2,3\n"
KEY = "token=ABC/res=1s/from=2026-01-26T00:00:00Z/to=2026-01-26T01:00:00Z"


def bridge(*args, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "bridge", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def test_prd_appendix_commands_verbatim(tmp_path):
    (tmp_path / "slice.csv").write_text(CSV)
    opn = tmp_path / "opn"
    sql = REPO / "bridge/store/sql/manifest_v1.sql"
    bridge("init", "--manifest-db", f"{opn}/manifest/manifest.sqlite", "--manifest-sql", str(sql), cwd=tmp_path)
    out = bridge(
        "publish-csv", "--manifest-db", f"{opn}/manifest/manifest.sqlite", "--manifest-sql", str(sql),
        "--artifacts-root", f"{opn}/artifacts", "--artifact-type", "ohlcv_slice", "--schema-version", "2",
        "--logical-key", KEY, "--csv", "slice.csv", "--writer-name", "slice_exporter", "--writer-version", "0.1.0",
        "--git-commit", "deadbeef", "--params-json", '{"resolution":"1s","source":"clickhouse"}',
        "--tag", "res=1s", "--tag", "kind=ohlcv_slice", "--json", cwd=tmp_path,
    ).stdout
    res = json.loads(out)
    assert res["deduped"] is False and res["artifact"]["row_count"] == 2
    assert Path(res["artifact"]["path_parquet"]).is_relative_to(opn / "artifacts")
    assert not (tmp_path / "lake").exists()  # nothing written outside the named lake
    again = json.loads(bridge("publish-csv", "--artifacts-root", f"{opn}/artifacts", "--artifact-type", "ohlcv_slice",
                              "--schema-version", "2", "--logical-key", KEY, "--csv", "slice.csv", "--writer-name", "x",
                              "--writer-version", "1", "--json", cwd=tmp_path).stdout)
    assert again["deduped"] is True and again["mode"] == "content_hash"
    table = bridge("ls", "--lake", str(opn), cwd=tmp_path).stdout
    assert "ohlcv_slice" in table and res["artifact_id"] in table and table.startswith("ID ")
    show = json.loads(bridge("show", res["artifact_id"], "--lake", str(opn), "--json", cwd=tmp_path).stdout)
    assert show["provenance"]["params"] == {"resolution": "1s", "source": "clickhouse"}
    assert show["tags"] == {"kind": ["ohlcv_slice"], "res": ["1s"]}


def test_publish_lineage_stale_supersede_tombstone_verify_gc(tmp_path):
    (tmp_path / "a.csv").write_text(CSV)
    (tmp_path / "b.csv").write_text(CSV.replace("1.2,3", "1.3,3"))
    lake = ["--lake", str(tmp_path / "lake")]
    bridge("init", *lake, cwd=tmp_path)
    pub = lambda f, key, *extra: json.loads(bridge("publish", f, "--artifact-type", "ohlcv_slice", "--schema-version",
                                                   "2", "--logical-key", key, "--writer-name", "w", "--writer-version",
                                                   "1", "--json", *extra, *lake, cwd=tmp_path).stdout)["artifact_id"]
    a = pub("a.csv", "token=A/res=1m")
    (tmp_path / "m.csv").write_text("run_id,metric_name,metric_value,metric_unit,computed_at\nr,sharpe,1.5,,2026-01-01T00:00:00Z\n")
    m = json.loads(bridge("publish", "m.csv", "--artifact-type", "run_metrics", "--schema-version", "1",
                          "--logical-key", "run=r", "--writer-name", "w", "--writer-version", "1",
                          "--input-artifact-id", a, "--json", *lake, cwd=tmp_path).stdout)["artifact_id"]
    up = json.loads(bridge("lineage", m, "--json", *lake, cwd=tmp_path).stdout)
    assert [n["artifact_id"] for n in up["nodes"]] == [a]
    down = bridge("lineage", a, "--downstream", *lake, cwd=tmp_path).stdout
    assert m in down
    b = pub("b.csv", "token=A/res=1m")
    bridge("supersede", b, a, *lake, cwd=tmp_path)
    stale = json.loads(bridge("stale", "--json", *lake, cwd=tmp_path).stdout)
    assert stale[0]["artifact_id"] == m and stale[0]["reasons"][0]["input_artifact_id"] == a
    assert bridge("verify", *lake, cwd=tmp_path).stdout.startswith("ok:")
    bridge("tombstone", b, "--reason", "bad", *lake, cwd=tmp_path)
    dry = json.loads(bridge("gc", "--json", *lake, cwd=tmp_path).stdout)
    assert dry["dry_run"] and dry["removed"] == [b]
    bridge("gc", "--apply", *lake, cwd=tmp_path)
    assert bridge("verify", *lake, cwd=tmp_path).returncode == 0
    Path(json.loads(bridge("show", a, "--json", *lake, cwd=tmp_path).stdout)["path_parquet"]).unlink()
    bad = bridge("verify", *lake, cwd=tmp_path, check=False)
    assert bad.returncode == 1 and "missing_file" in bad.stdout
    assert bridge("verify", "--workers", "1", *lake, cwd=tmp_path, check=False).stdout == bad.stdout
    assert f"{a} reaches 1 active artifact(s): {m}" in bad.stdout  # the metrics made from it


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["show", "0" * 32], 3, "not in the manifest"),
        (["publish", "nope.csv", "--artifact-type", "ohlcv_slice", "--schema-version", "2", "--logical-key", "k",
          "--writer-name", "w", "--writer-version", "1"], 2, "no such file"),
        (["publish", "bad.csv", "--artifact-type", "ohlcv_slice", "--schema-version", "2", "--logical-key",
          "token=A/res=1m", "--writer-name", "w", "--writer-version", "1"], 2, "bad.csv line 4"),
        (["publish", "bad.csv", "--artifact-type", "ohlcv", "--schema-version", "2", "--logical-key", "k",
          "--writer-name", "w", "--writer-version", "1"], 2, "known types"),
        (["ls", "--tag", "novalue"], 2, "K=V"),
        (["verify", "--workers", "0"], 2, "--workers"),
    ],
)
def test_errors_exit_nonzero_and_say_what_to_do(tmp_path, args, code, message):
    (tmp_path / "bad.csv").write_text(CSV + "2026-01-26T00:02:00Z,1,2,0.5,oops,1\n")
    bridge("init", "--lake", str(tmp_path / "lake"), cwd=tmp_path)
    proc = bridge(*args, "--lake", str(tmp_path / "lake"), cwd=tmp_path, check=False)
    assert proc.returncode == code and message in proc.stderr, proc.stderr


def test_json_errors_are_json(tmp_path):
    bridge("init", "--lake", str(tmp_path / "lake"), cwd=tmp_path)
    proc = bridge("show", "0" * 32, "--json", "--lake", str(tmp_path / "lake"), cwd=tmp_path, check=False)
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["error"]["type"] == "ArtifactNotFound"


def test_help_lists_every_store_command(tmp_path):
    out = bridge("--help", cwd=tmp_path).stdout
    for cmd in ("init", "publish-csv", "publish", "ls", "show", "lineage", "stale", "supersede", "tombstone",
                "verify", "gc", "types"):
        assert f"    {cmd} " in out or f"    {cmd}\n" in out
