"""A refused write (here: a file-size limit, `ulimit -f`, with SIGXFSZ ignored) is one documented
error naming the path — StorageError: CLI exit 5 (a JSON error with --json), daemon code 1010 —
and the lake is left as it was."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from bridge.store import Store
from tests.conftest import REPO

LIMIT = 128 * 1024


def _limited(limit: int):
    def pre() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _big_csv(path: Path, n: int = 20_000) -> Path:
    rng = np.random.default_rng(0)
    lines = ["ts,open,high,low,close,volume"]
    for i in range(n):
        o, c = 1 + rng.random(), 1 + rng.random()
        lines.append(f"2026-01-26T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z,{o},{max(o, c) + 1},{min(o, c) - 0.5},{c},{rng.random()}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _clean(lake: Path) -> None:
    store = Store(lake)
    assert store.connect().execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0
    assert store.connect().execute("SELECT count(*) FROM publish_journal").fetchone()[0] == 0
    assert [p for p in (lake / "artifacts").rglob("*") if p.is_file()] == []
    assert [p for p in (lake / "staging").rglob("*") if p.is_file()] == []
    assert store.verify().ok


def test_cli_publish_past_the_file_size_limit_is_one_storage_error(tmp_path):
    lake = tmp_path / "lake"
    Store(lake).close()
    csv = _big_csv(tmp_path / "big.csv")
    args = [sys.executable, "-m", "bridge", "publish", str(csv), "--artifact-type", "ohlcv_slice", "--schema-version",
            "2", "--logical-key", "token=A/res=1s", "--writer-name", "w", "--writer-version", "1", "--git-commit", "c",
            "--lake", str(lake)]
    text = subprocess.run(args, capture_output=True, text=True, env=_env(), preexec_fn=_limited(LIMIT), timeout=120)
    assert text.returncode == 5, text.stderr
    assert text.stderr.startswith("error: cannot write ") and text.stderr.count("\n") == 1, text.stderr
    assert "File too large" in text.stderr and str(lake / "staging") in text.stderr
    js = subprocess.run([*args, "--json"], capture_output=True, text=True, env=_env(), preexec_fn=_limited(LIMIT),
                        timeout=120)
    err = json.loads(js.stdout)["error"]
    assert js.returncode == 5 and js.stderr == ""
    assert err["type"] == "StorageError" and err["data"]["errno"] == "EFBIG"
    assert err["data"]["path"].startswith(str(lake / "staging"))
    _clean(lake)


def test_a_full_disk_under_the_manifest_is_a_storage_error_and_rolls_back(tmp_path):
    lake = tmp_path / "lake"
    Store(lake).close()
    script = (
        "import json, sys\n"
        "from bridge.store import Store\n"
        "from bridge.errors import StorageError\n"
        "s = Store(sys.argv[1])\n"
        "rows = [{'ts': '2026-01-26T00:00:00Z', 'open': 1, 'high': 2, 'low': 0.5, 'close': 1.5, 'volume': 1}]\n"
        "try:\n"
        "    s.publish('ohlcv_slice', 2, 'token=T/res=1m', rows, writer_name='w', writer_version='1',\n"
        "              git_commit='c', tags={f'k{i}': 'v' * 1000 for i in range(3000)})\n"
        "except StorageError as e:\n"
        "    print(json.dumps(e.data))\n"
    )
    # the sidecar (~3 MB) fits, the manifest's write-ahead log for 3000 tags and their index does not
    proc = subprocess.run([sys.executable, "-c", script, str(lake)], capture_output=True, text=True, env=_env(),
                          preexec_fn=_limited(4_500_000), timeout=120)
    data = json.loads(proc.stdout)
    assert data["path"] == str(lake / "manifest" / "manifest.sqlite"), proc.stderr
    assert "disk" in data["reason"] or "full" in data["reason"]
    _clean(lake)


def test_the_daemon_answers_a_refused_write_with_storage_error(tmp_path):
    lake = tmp_path / "lake"
    Store(lake).close()
    csv = _big_csv(tmp_path / "big.csv")
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "--lake", str(lake)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), preexec_fn=_limited(LIMIT))
    frames = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "1.0"}},
        {"jsonrpc": "2.0", "id": 2, "method": "publishDataFrame", "params": {
            "artifactType": "ohlcv_slice", "schemaVersion": 2, "logicalKey": "token=A/res=1s", "dataFrame": str(csv),
            "writerName": "w", "writerVersion": "1", "gitCommit": "c"}},
        {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
    ]
    out, err = proc.communicate(b"".join(json.dumps(f).encode() + b"\n" for f in frames), timeout=120)
    replies = {r.get("id"): r for r in map(json.loads, out.splitlines()) if "id" in r}
    e = replies[2]["error"]
    assert e["code"] == 1010 and e["data"]["type"] == "StorageError", e
    assert e["data"]["path"].startswith(str(lake / "staging")) and e["data"]["errno"] == "EFBIG"
    assert b"Traceback" not in err
    _clean(lake)
