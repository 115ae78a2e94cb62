"""OHLCV through the real daemon (`python -m bridge serve`) on real chDB: load, export with
progress notifications, reuse, coverage, a source error with its code, and cancel of a batch."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading

import pytest

from bridge.ohlcv.sample import generate_candles, write_candles


class Daemon:
    def __init__(self, lake):
        self.proc = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "--lake", str(lake)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.next_id = 0

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def send(self, obj):
        self.proc.stdin.write(json.dumps(obj).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method, params, *, on_message=None, timeout=60):
        self.next_id += 1
        rid = self.next_id
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        notes = []
        while True:
            msg = self.lines.get(timeout=timeout)
            if msg.get("id") == rid and "method" not in msg:
                return msg, notes
            notes.append(msg)
            if on_message:
                on_message(msg)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "lake")
    yield d
    d.close()


def test_load_export_reuse_coverage_over_rpc(daemon, tmp_path):
    path = write_candles(generate_candles(["TokA"], "2026-01-02T00:00:00Z", "2026-01-06T00:00:00Z", "1h",
                                          weekend_gaps=True), tmp_path / "c.parquet")
    reply, _ = daemon.request("loadCandles", {"paths": [str(path)]})
    assert reply["result"]["rowsVisible"] == 48, reply
    params = {"token": "TokA", "chain": "solana", "resolution": "1h",
              "from": "2026-01-02T00:00:00Z", "to": "2026-01-06T00:00:00Z"}
    reply, notes = daemon.request("exportSlice", params)
    first = reply["result"]
    assert first["rowCount"] == 48 and first["reused"] is False
    assert any(n.get("method") == "$/progress" for n in notes)
    reply, _ = daemon.request("exportSlice", params)
    assert reply["result"]["reused"] is True and reply["result"]["artifactId"] == first["artifactId"]
    reply, _ = daemon.request("sliceCoverage", {"sliceIds": [first["artifactId"]]})
    cov = reply["result"]
    assert (cov["expected"], cov["present"], cov["gapCount"]) == (96, 48, 1)
    assert cov["gaps"][0]["gapStart"] == "2026-01-03T00:00:00.000000Z"


def test_errors_carry_codes_and_hide_passwords(daemon):
    reply, _ = daemon.request("exportSlice", {"token": "T", "resolution": "1m", "from": "2026-01-05T00:00:00Z",
                                              "to": "2026-01-05T01:00:00Z",
                                              "source": {"dsn": "http://u:hunter2@127.0.0.1:9/db"}})
    err = reply["error"]
    assert err["code"] == 1301 and "127.0.0.1:9" in err["message"] and "hunter2" not in json.dumps(err)
    reply, _ = daemon.request("exportSlice", {"token": "T", "resolution": "7x", "from": "2026-01-05T00:00:00Z",
                                              "to": "2026-01-05T01:00:00Z"})
    assert reply["error"]["code"] == 1009 and reply["error"]["data"]["field"] == "resolution"
    reply, _ = daemon.request("exportSlice", {"token": "T"})
    assert reply["error"]["code"] == -32602


def test_cancel_a_batch_export(daemon, tmp_path):
    path = write_candles(generate_candles(["TokA"], "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "1m"),
                         tmp_path / "c.parquet")
    daemon.request("loadCandles", {"paths": [str(path)]})
    rows = [{"alert_id": f"a{i}", "alert_ts": f"2026-01-05T{i // 2:02d}:{(i % 2) * 30:02d}:00Z", "token_address": "TokA",
             "chain": "solana"} for i in range(40)]
    from bridge.store import Store

    store = Store(tmp_path / "lake")
    alerts = store.publish("alerts", 1, "daemon-alerts", rows).artifact_id
    store.close()
    sent = []

    def cancel_on_progress(msg):
        if msg.get("method") == "$/progress" and not sent and msg["params"].get("done", 0) >= 1:
            daemon.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": msg["params"]["id"]}})
            sent.append(True)

    reply, _ = daemon.request("exportSlicesForAlerts", {"alertsArtifactId": alerts, "before": "0s", "after": "10m"},
                              on_message=cancel_on_progress)
    assert sent and reply["error"]["code"] == -32800, reply
    store = Store(tmp_path / "lake")
    done = len(store.list(artifact_type="ohlcv_slice").items)
    store.close()
    assert 1 <= done < 40  # finished slices stay published, the rest never started
    # a second run completes and reuses what exists
    reply, _ = daemon.request("exportSlicesForAlerts", {"alertsArtifactId": alerts, "before": "0s", "after": "10m"})
    assert reply["result"]["windows"] == 40 and reply["result"]["reused"] == done
