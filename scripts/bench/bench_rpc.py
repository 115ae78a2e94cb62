"""Benchmark: the daemon's cold start and request rate against a bare echo, same run (DESIGN §9).

    .venv/bin/python scripts/bench/bench_rpc.py [--requests 5000] [--starts 10]

* cold start: spawn `python -m bridge serve` → `initialize` reply, median of --starts (target < 0.3 s);
* getArtifact requests/s from a Python client, sequentially and with 64 in flight, against a bare
  NDJSON echo (ts-client/bench/echo_server.py) over the same kind of pipes (ratio printed).
The TypeScript client's figures (the DESIGN's target, ≥ 0.6 × echo) come from
`node ts-client/bench/rpc.mjs`. Not a test: the numbers go in the README.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ECHO = REPO / "ts-client" / "bench" / "echo_server.py"


def spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)


def cold_start(lake: Path) -> float:
    t0 = time.perf_counter()
    p = spawn([sys.executable, "-m", "bridge", "serve", "--lake", str(lake)])
    p.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1.0"}}\n')
    p.stdin.flush()
    p.stdout.readline()
    dt = time.perf_counter() - t0
    p.stdin.close()
    p.wait()
    return dt


def rate(p: subprocess.Popen, line: bytes, n: int, inflight: int) -> float:
    t0 = time.perf_counter()
    sent = got = 0
    while got < n:
        burst = min(inflight - (sent - got), n - sent)
        if burst > 0:
            p.stdin.write(line * burst)
            p.stdin.flush()
            sent += burst
        p.stdout.readline()
        got += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--starts", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        sys.path.insert(0, str(REPO))
        from bridge.store import Store

        aid = Store(lake).publish("run_metrics", 1, "bench", [{"run_id": "b", "metric_name": "m", "metric_value": 1.0,
                                                               "metric_unit": None, "computed_at": "2026-01-01T00:00:00Z"}],
                                  writer_name="bench", writer_version="1").artifact_id
        starts = [cold_start(lake) for _ in range(args.starts)]
        line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getArtifact", "params": {"artifactId": aid}}).encode() + b"\n"
        daemon = spawn([sys.executable, "-m", "bridge", "serve", "--lake", str(lake)])
        echo = spawn([sys.executable, str(ECHO)])
        rows = []
        for inflight in (1, 64):
            e = max(rate(echo, line, args.requests, inflight) for _ in range(3))
            d = max(rate(daemon, line, args.requests, inflight) for _ in range(3))
            rows.append((inflight, e, d))
        for p in (daemon, echo):
            p.stdin.close()
            p.wait()
    print(f"cold start (spawn -> initialize reply): median {statistics.median(starts) * 1000:.0f} ms, "
          f"min {min(starts) * 1000:.0f} ms over {len(starts)}   target < 300 ms")
    print("in flight   echo/s   daemon/s   ratio (Python client)")
    for inflight, e, d in rows:
        print(f"{inflight:9d} {e:8.0f} {d:10.0f}   {d / e:5.2f}")


if __name__ == "__main__":
    main()
