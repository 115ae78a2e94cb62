"""The real daemon as a subprocess: lifecycle, one method per group, concurrency, cancellation,
progress, stdout purity, EOF and parent death."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.daemon import REPO, Daemon

METRIC = {"run_id": "r", "metric_name": "m", "metric_value": 1.0, "metric_unit": None, "computed_at": "2026-01-01T00:00:00Z"}


def publish_params(rows, key="k", **extra):
    return {"artifactType": "run_metrics", "schemaVersion": 1, "logicalKey": key, "dataFrame": rows,
            "writerName": "pytest", "writerVersion": "1", **extra}


def test_initialize_reports_versions_methods_paths_limits(daemon, tmp_path):
    res = daemon.result("initialize", {"protocolVersion": "1.0", "clientInfo": {"name": "t", "version": "1"}})
    assert res["protocolVersion"] == "1.0" and res["serverInfo"]["name"] == "quantbot-bridge"
    assert {"getArtifact", "publishDataFrame", "buildProjection", "runExperiment"} <= set(res["capabilities"]["methods"])
    assert res["lake"]["root"] == str((tmp_path / "lake").resolve())
    assert res["limits"]["maxLineBytes"] == 64 * 1024 * 1024


def test_unsupported_protocol_version_is_a_structured_error(daemon):
    reply = daemon.call("initialize", {"protocolVersion": "9.9"})
    assert reply["error"]["code"] == 10
    assert reply["error"]["data"] == {"type": "UnsupportedProtocolVersion", "requested": "9.9", "supported": ["1.0"]}


def test_calls_before_initialize_are_allowed(daemon):
    assert daemon.result("listArtifacts", {})["items"] == []


def test_store_round_trip_over_the_wire(daemon):
    pub = daemon.result("publishDataFrame", publish_params([METRIC], tags={"k": "v"}))
    aid = pub["artifactId"]
    assert pub["deduped"] is False and pub["artifact"]["minTs"] == "2026-01-01T00:00:00.000000Z"
    again = daemon.result("publishDataFrame", publish_params([METRIC]))
    assert again["deduped"] is True and again["mode"] == "content_hash" and again["existingArtifactId"] == aid
    assert daemon.result("getArtifact", {"artifactId": aid})["tags"] == {"k": ["v"]}
    assert [a["artifactId"] for a in daemon.result("findByLogicalKey", {"artifactType": "run_metrics", "logicalKey": "k"})] == [aid]
    child = daemon.result("publishDataFrame", publish_params([{**METRIC, "run_id": "c"}], key="c", inputArtifactIds=[aid]))
    assert [a["artifactId"] for a in daemon.result("getDownstream", {"artifactId": aid})] == [child["artifactId"]]
    lineage = daemon.result("getLineage", {"artifactId": child["artifactId"]})
    assert lineage["nodes"][0]["artifactId"] == aid and lineage["edges"] == [{"artifactId": child["artifactId"], "inputArtifactId": aid}]
    newer = daemon.result("publishDataFrame", publish_params([{**METRIC, "metric_value": 2.0}]))
    assert daemon.result("supersede", {"newArtifactId": newer["artifactId"], "oldArtifactId": aid})["status"] == "superseded"
    stale = daemon.result("listStale", {})
    assert stale[0]["artifactId"] == child["artifactId"] and stale[0]["reasons"][0]["inputStatus"] == "superseded"
    assert daemon.result("verify", {})["ok"] is True
    assert daemon.result("getProvenance", {"artifactId": aid})["writerName"] == "pytest"
    types = {(t["artifactType"], t["schemaVersion"]): t for t in daemon.result("listArtifactTypes", {})}
    slice_type = types[("ohlcv_slice", 2)]
    assert slice_type["columns"][0] == {"name": "token", "type": "string", "nullable": False,
                                        "doc": "token address; filled from the logical key's token= when absent"}
    assert {"name": "volume_non_negative", "sql": "volume >= 0", "doc": "volume >= 0"} in slice_type["rules"]
    assert slice_type["quarantine"] is False and types[("ohlcv_quarantine", 1)]["quarantine"] is True


def test_application_errors_carry_codes_and_data(daemon):
    err = daemon.call("getArtifact", {"artifactId": "nope"})["error"]
    assert err["code"] == 1001 and err["data"] == {"artifactId": "nope", "type": "ArtifactNotFound"}
    err = daemon.call("publishDataFrame", publish_params([{**METRIC, "metric_value": "x"}]))["error"]
    assert err["code"] == 1002 and err["data"]["column"] == "metric_value" and err["data"]["row"] == 0
    err = daemon.call("publishDataFrame", publish_params([METRIC], inputArtifactIds=["f" * 32]))["error"]
    assert err["code"] == 1003 and err["data"]["missing"] == ["f" * 32]
    err = daemon.call("publishDataFrame", {**publish_params([METRIC]), "artifactType": "nope"})["error"]
    assert err["code"] == 1006
    err = daemon.call("listArtifacts", {"limit": "ten"})["error"]
    assert err["code"] == -32602 and "$.limit" in err["data"]["detail"] and err["data"]["path"] == "$.limit"
    err = daemon.call("initialize", {"protocolVersion": "1.0", "clientInfo": {"version": "1"}})["error"]
    assert err["code"] == -32602 and err["data"]["path"] == "$.clientInfo.name"


def big_csv(path: Path, rows: int) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    ts = pa.array(np.arange(rows, dtype="int64") * 1_000_000 + 1_700_000_000_000_000, pa.timestamp("us", tz="UTC"))
    close = np.linspace(1, 2, rows)
    pcsv.write_csv(pa.table({"ts": ts, "open": close, "high": close + 1, "low": close - 0.5, "close": close,
                             "volume": np.ones(rows)}), path)
    return path


def test_quick_call_answered_while_a_big_publish_runs_and_cancel_registers_nothing(daemon, tmp_path):
    csv = big_csv(tmp_path / "big.csv", 3_000_000)
    pid = daemon.request("publishDataFrame", {**publish_params(str(csv), key="token=T/res=1s"),
                                              "artifactType": "ohlcv_slice", "schemaVersion": 2})
    t0 = time.monotonic()
    assert daemon.call("getArtifact", {"artifactId": "x" * 32})["error"]["code"] == 1001
    assert time.monotonic() - t0 < 1.0  # answered while the publish is still running
    while not any(n["params"]["id"] == pid for n in daemon.notifications):  # it is under way
        frame = daemon.next_frame()
        assert frame.get("method") == "$/progress", frame
        daemon.notifications.append(frame)
    daemon.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": pid}})
    reply = daemon.reply(pid, timeout=120)
    assert reply["error"]["code"] == -32800
    assert daemon.result("listArtifacts", {})["items"] == []
    assert not list((tmp_path / "lake" / "artifacts").rglob("*.parquet"))


def test_progress_notifications_for_long_work(daemon, tmp_path):
    csv = big_csv(tmp_path / "mid.csv", 200_000)
    res = daemon.result("publishDataFrame", {**publish_params(str(csv), key="token=T/res=1s"),
                                             "artifactType": "ohlcv_slice", "schemaVersion": 2})
    assert res["artifact"]["rowCount"] == 200_000
    progress = [n["params"] for n in daemon.notifications if n["method"] == "$/progress"]
    assert progress and progress[0]["done"] == 0 and all(p["total"] == 4 for p in progress)


def test_shutdown_then_requests_refused_then_exit(daemon):
    assert daemon.call("shutdown", {})["result"] is None
    assert daemon.call("listArtifacts", {})["error"]["code"] == 11
    daemon.send({"jsonrpc": "2.0", "method": "exit"})
    assert daemon.proc.wait(timeout=10) == 0


def test_eof_finishes_inflight_work_and_exits_zero(daemon):
    rid = daemon.request("publishDataFrame", publish_params([METRIC]))
    daemon.proc.stdin.close()
    assert daemon.reply(rid)["result"]["deduped"] is False
    assert daemon.proc.wait(timeout=20) == 0


def test_exits_when_its_parent_dies(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "--lake", {str(tmp_path / 'lake')!r}],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        print(p.pid, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("daemon outlived its parent")


def test_stdout_carries_only_frames_even_when_handlers_print(tmp_path):
    script = textwrap.dedent("""
        import os, sys
        from bridge.rpc import Server, claim_stdout
        class Noisy:
            long_running = False
            def call(self, params, job, rid):
                print("print() from a handler")
                os.system("echo from a child process")
                sys.stdout.write("direct write\\n")
                return b'"ok"'
        out = claim_stdout()
        sys.exit(Server({"noisy": Noisy()}, map_error=lambda e: None).serve(sys.stdin.buffer, out))
    """)
    proc = subprocess.run([sys.executable, "-c", script], input=b'{"jsonrpc":"2.0","id":1,"method":"noisy"}\n' * 3,
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=30)
    frames = [json.loads(line) for line in proc.stdout.splitlines()]
    assert frames == [{"jsonrpc": "2.0", "id": 1, "result": "ok"}] * 3
    assert proc.stderr.count(b"print() from a handler") == 3 and b"from a child process" in proc.stderr


def test_the_real_daemon_points_fd_1_at_stderr_and_fd_0_at_dev_null(daemon):
    daemon.result("listArtifacts", {})  # it is up and serving
    fd = Path(f"/proc/{daemon.proc.pid}/fd")
    assert os.readlink(fd / "1") == os.readlink(fd / "2")  # print() and children write to the log
    assert os.readlink(fd / "0") == "/dev/null"  # children reading stdin get EOF
    protocol = [os.readlink(p) for p in fd.iterdir() if p.name not in ("0", "1", "2")]
    assert any(t.startswith("pipe:") for t in protocol)  # the private duplicates carry the frames


def test_a_child_reading_stdin_cannot_swallow_requests(tmp_path):
    """A handler's child process that reads its stdin gets EOF (fd 0 is /dev/null), not the
    client's next request, which the daemon still answers."""
    script = textwrap.dedent("""
        import subprocess, sys
        from bridge.rpc import Server, claim_stdin, claim_stdout
        class Child:
            long_running = False
            def call(self, params, job, rid):
                print("spawning", file=sys.stderr, flush=True)
                got = subprocess.run([sys.executable, "-c", "import sys; print(len(sys.stdin.buffer.read()))"],
                                     capture_output=True, timeout=20).stdout
                return b'{"childRead":' + got.strip() + b'}'
        requests, out = claim_stdin(), claim_stdout()
        sys.exit(Server({"child": Child()}, map_error=lambda e: None).serve(requests, out))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    proc.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"child"}\n')
    proc.stdin.flush()
    assert b"spawning" in proc.stderr.readline()  # the handler runs; the reader is not reading now
    proc.stdin.write(b'{"jsonrpc":"2.0","id":2,"method":"child"}\n')
    out, _ = proc.communicate(timeout=30)
    frames = [json.loads(line) for line in out.splitlines()]
    assert frames == [{"jsonrpc": "2.0", "id": i, "result": {"childRead": 0}} for i in (1, 2)]
    assert proc.returncode == 0


def test_the_serve_path_imports_no_heavy_library():
    code = ("import sys; import bridge.cli, bridge.api, bridge.api.daemon, bridge.rpc; bridge.cli.build_parser(); "
            "print([m for m in ('pyarrow','duckdb','pandas','numpy','chdb','clickhouse_connect',"
            "'bridge.experiments.engine','bridge.experiments.runner','bridge.projections.builder') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    assert out.strip() == "[]"


def test_initialize_loads_no_domain_package(tmp_path):
    """Cold start: `bridge serve` answers initialize with only the transport, the lifecycle
    methods and the lake paths loaded; a method's module is imported on its first call."""
    script = textwrap.dedent("""
        import json, sys
        import bridge.cli
        code = bridge.cli.main(["serve", "--lake", sys.argv[1]])
        mods = sorted(m for m in sys.modules if m.split(".")[0] in (
            "pyarrow", "duckdb", "pandas", "numpy", "chdb", "clickhouse_connect", "talib", "psycopg", "boto3",
            "bridge"))
        sys.stderr.write("MODULES " + json.dumps(mods) + "\\n")
        sys.exit(code)
    """)
    run = lambda *lines: subprocess.run(  # noqa: E731
        [sys.executable, "-c", script, str(tmp_path / "lake")], input=b"".join(lines), capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    init = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1.0"}}\n'
    proc = run(init)
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["result"]["capabilities"]["methods"][0] == "alertForwardCoverage"
    loaded = json.loads(proc.stderr.decode().split("MODULES ")[1])
    assert set(loaded) <= {"bridge", "bridge._lazy", "bridge.api", "bridge.api._index", "bridge.api._method", "bridge.api.daemon",
                           "bridge.api.errors", "bridge.api.lifecycle", "bridge.cli", "bridge.cli._common",
                           "bridge.cli.serve", "bridge.errors", "bridge.progress", "bridge.rpc", "bridge.rpc.errors",
                           "bridge.rpc.framing", "bridge.rpc.server", "bridge.rpc.stdio", "bridge.store",
                           "bridge.store.lake", "bridge.store.dialect"}, loaded  # dialect: the manifest's path
    # The first call of a store method loads the store (and answers), not the experiments.
    proc = run(init, b'{"jsonrpc":"2.0","id":2,"method":"listArtifacts","params":{}}\n')
    assert json.loads(proc.stdout.splitlines()[1])["result"]["items"] == []
    loaded = json.loads(proc.stderr.decode().split("MODULES ")[1])
    assert "bridge.api.store" in loaded and "bridge.store.store" in loaded
    assert not [m for m in loaded if m.startswith(("bridge.experiments", "bridge.api.experiments", "bridge.cli.store"))]


def test_adversarial_peer_never_kills_the_daemon(tmp_path):
    d = Daemon(tmp_path / "lake", args=("--max-line-bytes", "4096"))
    try:
        for junk in (b"\xff\xfe not utf8\n", b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"} trailing\n",
                     b"[" * 2000 + b"]" * 2000 + b"\n", b"{\"a\": NaN}\n", b"x" * 10_000 + b"\n", b"\n", b"   \n",
                     b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"listArtifacts\",\"params\":{\"limit\":1e999}}\n",
                     b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"listArtifacts\",\"params\":{\"cursor\":\"\xff\"}}\n"):
            d.send_raw(junk)
        ok = d.call("listArtifacts", {})
        assert "result" in ok
        frames = [json.loads(line) for line in d.raw]
        codes = [f["error"]["code"] for f in frames if isinstance(f, dict) and "error" in f]
        assert codes.count(-32700) >= 5 and -32600 in codes  # the 10 kB line: answered, skipped
        assert -32603 not in codes and b"Traceback" not in b"".join(d.stderr)  # all caught as bad input
    finally:
        assert d.close() == 0


def test_exit_is_bounded_even_when_work_ignores_cancellation(tmp_path):
    script = textwrap.dedent("""
        import sys, time
        from bridge.rpc import Server, serve_stdio
        class Stuck:
            long_running = True
            def call(self, params, job, rid):
                time.sleep(60)  # ignores job.cancel()
                return b'"late"'
        sys.exit(serve_stdio(Server({"stuck": Stuck()}, map_error=lambda e: None, drain_timeout=0.3)))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    t0 = time.monotonic()
    out, err = proc.communicate(b'{"jsonrpc":"2.0","id":1,"method":"stuck"}\n{"jsonrpc":"2.0","method":"exit"}\n',
                                timeout=30)
    assert proc.returncode == 0 and time.monotonic() - t0 < 10, err
    assert [json.loads(line)["error"]["code"] for line in out.splitlines()] == [-32800]


def _rpc(proc, rid, method, params, *, wait=True):
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode() + b"\n")
    proc.stdin.flush()
    while wait:
        reply = json.loads(proc.stdout.readline())
        if reply.get("id") == rid:
            assert "result" in reply, reply
            return reply["result"]


@pytest.mark.parametrize("busy", [False, True])
def test_a_closed_output_ends_the_daemon_like_eof(tmp_path, busy):
    """The client stops reading (closes the daemon's stdout) but never closes stdin: the daemon
    cancels what runs and exits 0 instead of computing for nobody."""
    log = open(tmp_path / "stderr.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "--lake", str(tmp_path / "lake")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        aid = _rpc(proc, 1, "publishDataFrame", publish_params([METRIC]))["artifactId"]
        _rpc(proc, 2, "buildProjection", {"projectionId": "p", "tables": {"m": [aid]}})
        if busy:  # minutes of work unless cancelled
            _rpc(proc, 3, "query", {"projectionId": "p", "sql": "SELECT count(*) FROM range(1000000000000) a, m"},
                 wait=False)
            time.sleep(1)
        proc.stdout.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert b"stopped reading" in (tmp_path / "stderr.log").read_bytes()


@pytest.mark.parametrize("method,hold", [("getDownstream", "lineage_walk"), ("getLineage", "lineage_walk"),
                                         ("listStale", "stale")])
def test_a_long_walk_leaves_the_reader_thread(tmp_path, method, hold):
    """A lineage walk or stale list held mid-way (fault injection) does not hold up getArtifact."""
    from bridge.store import Store

    lake = tmp_path / "lake"
    store = Store(lake)
    root = store.publish("run_metrics", 1, "root", [METRIC], writer_name="t", writer_version="1").artifact_id
    store.close()
    release = tmp_path / "release"
    d = Daemon(lake, env={"QB_HOLD_AT": hold, "QB_HOLD_FILE": str(release)})
    try:
        held = d.request(method, {} if method == "listStale" else {"artifactId": root})
        deadline = time.monotonic() + 30
        while not Path(f"{release}.reached").exists():  # the walk is under way, and stays there
            assert time.monotonic() < deadline and d.proc.poll() is None
            time.sleep(0.01)
        assert d.result("getArtifact", {"artifactId": root}, timeout=10)["artifactId"] == root
        assert held not in d._pending  # answered before the walk, which is still held
        release.touch()
        assert "result" in d.reply(held, timeout=30)
    finally:
        release.touch()
        d.close()


def test_the_daemon_starts_without_dataclasses_inspect_or_typing_extensions(tmp_path):
    """`python -m bridge serve` answers initialize without importing typing_extensions (msgspec is
    imported with it hidden: bridge/__main__.py), dataclasses or inspect (a quarter of the cold
    start, timed); typing_extensions is still there for any later import in the same process."""
    script = textwrap.dedent("""
        import sys
        from bridge.__main__ import main
        code = main(["serve", "--lake", sys.argv[1]])
        loaded = [m for m in ("typing_extensions", "dataclasses", "inspect") if m in sys.modules]
        import typing_extensions
        sys.stderr.write(f"LOADED {loaded} {typing_extensions.__name__}\\n")
        sys.exit(code)
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "lake")], capture_output=True, timeout=60,
                          input=b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1.0"}}\n',
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0 and json.loads(proc.stdout)["result"]["serverInfo"]["name"], proc.stderr.decode()
    assert "LOADED [] typing_extensions" in proc.stderr.decode()
