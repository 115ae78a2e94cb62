"""Benchmark: the daemon's cold start and request rate against their baselines, same run (DESIGN §9).

    .venv/bin/python scripts/bench/bench_rpc.py [--requests 5000] [--starts 10] [--rounds 5]

* cold start: spawn `python -m bridge serve` → `initialize` reply (target < 100 ms), interleaved
  start by start with its baseline "python -c pass" (spawn → exit of the same interpreter);
  median and range of --starts each, and of the difference. Measured twice, interleaved: with
  the bridge's bytecode cached (PYTHONDONTWRITEBYTECODE unset for the children, so __pycache__
  is written by a first, unmeasured start: what an installed package has), and without it
  (PYTHONDONTWRITEBYTECODE=1 and an empty PYTHONPYCACHEPREFIX: every module compiled from source
  at each start);
* getArtifact requests/s from a Python client, sequentially and with 64 in flight, against the
  baseline "msgspec echo" (ts-client/bench/echo_server.py --decode: decodes each line with msgspec
  as the daemon must, writes it back) over the same kind of pipes; --rounds interleaved rounds,
  median and range of the in-round ratio. Pinned to one CPU with taskset when it exists.
With --instructions (needs valgrind): the instructions executed by `python -c pass` and by
`bridge serve` (initialize, then EOF and exit), counted by callgrind: a load-independent check of
the cold start (the daemon's count includes its exit); and the instructions the server executes
per sequential getArtifact, the msgspec echo's and the daemon's: (count after 6,000 calls - count
after 1,000) / 5,000, so start-up and exit cancel out; three counts each, median and range
(user-space instructions of the server process only: not the kernel's pipe work, not the client).
The TypeScript client's figures (the target, ≥ 0.6 × echo) come from `node ts-client/bench/rpc.mjs`.
Not a test: the numbers go in the README.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _callgrind import Callgrind, instructions  # noqa: E402
from _spread import spread  # noqa: E402

ECHO = REPO / "ts-client" / "bench" / "echo_server.py"


CACHED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
UNCACHED = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def spawn(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO,
                            env=env)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cold_start(lake: Path, env: dict, cpu: list[float]) -> float:
    """Wall time from spawn to the initialize reply; appends the process's whole CPU time (user +
    system, start to exit after EOF) to `cpu`: less sensitive to a loaded machine than wall time."""
    c0 = children_cpu()
    t0 = time.perf_counter()
    p = spawn([sys.executable, "-m", "bridge", "serve", "--lake", str(lake)], env)
    p.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1.0"}}\n')
    p.stdin.flush()
    p.stdout.readline()
    dt = time.perf_counter() - t0
    p.stdin.close()
    p.wait()
    cpu.append(children_cpu() - c0)
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


def pass_start(cpu: list[float]) -> float:
    c0 = children_cpu()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=CACHED)
    dt = time.perf_counter() - t0
    cpu.append(children_cpu() - c0)
    return dt


def instructions_per_call(args: list[str], line: bytes, n1: int = 1000, n2: int = 6000) -> float:
    """Instructions a server executes per sequential request `line` (callgrind), start-up and
    exit cancelled out: (count with n2 requests - count with n1) / (n2 - n1). A first run, not
    counted, answers one request, so that the modules the request imports on first use have their
    bytecode cached for both counted runs (else the first counted run also compiles them: one run
    after an edit counted 5.4 k instead of 23.7 k)."""
    subprocess.run(args, input=line, stdout=subprocess.DEVNULL, cwd=REPO, env=CACHED, check=True)
    counts = []
    for n in (n1, n2):
        with Callgrind(args, cwd=REPO, env=CACHED) as cg:
            for _ in range(n):
                cg.proc.stdin.write(line)
                cg.proc.stdin.flush()
                cg.proc.stdout.readline()
            counts.append(cg.finish())
    return (counts[1] - counts[0]) / (n2 - n1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--instructions", action="store_true", help="also count cold-start instructions (valgrind)")
    args = ap.parse_args()
    if shutil.which("taskset") and not os.environ.get("QB_BENCH_PINNED"):
        os.environ["QB_BENCH_PINNED"] = "cpu 0"
        sys.exit(subprocess.run(["taskset", "-c", "0", sys.executable, *sys.argv]).returncode)
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        sys.path.insert(0, str(REPO))
        from bridge.store import Store

        store = Store(lake)  # held open to the end: a daemon never closes the manifest's last connection
        aid = store.publish("run_metrics", 1, "bench", [{"run_id": "b", "metric_name": "m", "metric_value": 1.0,
                                                               "metric_unit": None, "computed_at": "2026-01-01T00:00:00Z"}],
                                  writer_name="bench", writer_version="1").artifact_id
        cold_start(lake, CACHED, [])  # writes the bytecode cache (not measured)
        cold, uncached, bare = [], [], []
        cpu: dict[str, list[float]] = {"pass": [], "cached": [], "uncached": []}
        for _ in range(args.starts):  # interleaved with the bare interpreter
            bare.append(pass_start(cpu["pass"]))
            cold.append(cold_start(lake, CACHED, cpu["cached"]))
            # a fresh, empty bytecode cache each start: PYTHONDONTWRITEBYTECODE alone still reads
            # the __pycache__ the cached starts wrote
            uncached.append(cold_start(lake, {**UNCACHED, "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(dir=tmp)},
                                       cpu["uncached"]))
        counted = None
        if args.instructions:
            init = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1.0"}}\n'
            counted = (instructions([sys.executable, "-c", "pass"], cwd=REPO, env=CACHED),
                       instructions([sys.executable, "-m", "bridge", "serve", "--lake", str(lake)], init, cwd=REPO,
                                    env=CACHED))
        line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getArtifact", "params": {"artifactId": aid}}).encode() + b"\n"
        per_call = None
        if args.instructions:  # three counts each, interleaved: a one-off (an exit-time checkpoint) shows as a range
            per_call = tuple(zip(*[(instructions_per_call([sys.executable, str(ECHO), "--decode"], line),
                                    instructions_per_call([sys.executable, "-m", "bridge", "serve", "--lake", str(lake)],
                                                          line)) for _ in range(3)]))
        rates: dict[int, dict[str, list[float]]] = {1: {"echo": [], "daemon": []}, 64: {"echo": [], "daemon": []}}
        for _ in range(args.rounds):
            daemon = spawn([sys.executable, "-m", "bridge", "serve", "--lake", str(lake)])
            echo = spawn([sys.executable, str(ECHO), "--decode"])
            for p in (daemon, echo):
                rate(p, line, 200, 1)  # warm-up
            for inflight in (1, 64):
                rates[inflight]["echo"].append(rate(echo, line, args.requests, inflight))
                rates[inflight]["daemon"].append(rate(daemon, line, args.requests, inflight))
            for p in (daemon, echo):
                p.stdin.close()
                p.wait()
    print(f"{os.environ.get('QB_BENCH_PINNED', 'not pinned')}; {os.cpu_count()} cpus; python {sys.version.split()[0]}")
    ms = functools.partial(spread, scale=1000, fmt="{:.0f}")  # seconds as whole milliseconds
    print(f"cold start (spawn -> initialize reply), median (min–max) of {args.starts}, interleaved; target < 100 ms")
    print(f"  python -c pass:                        {ms(bare)} ms   (whole process CPU "
          f"{ms(cpu['pass'])} ms)")
    print(f"  bridge serve, bytecode cached:         {ms(cold)} ms   difference "
          f"{ms([c - b for c, b in zip(cold, bare)])} ms   (whole process CPU {ms(cpu['cached'])} ms)")
    print(f"  bridge serve, PYTHONDONTWRITEBYTECODE: {ms(uncached)} ms   difference "
          f"{ms([c - b for c, b in zip(uncached, bare)])} ms   (whole process CPU "
          f"{ms(cpu['uncached'])} ms)")
    if counted:
        print(f"  instructions (callgrind): python -c pass {counted[0] / 1e6:.1f} M, bridge serve to exit "
              f"{counted[1] / 1e6:.1f} M = {counted[1] / counted[0]:.2f}x")
    if per_call:
        echo_i, daemon_i = per_call
        print(f"instructions per sequential getArtifact (callgrind, the server process, median (min–max) of 3): "
              f"msgspec echo {spread(echo_i, fmt='{:,.0f}')}, daemon {spread(daemon_i, fmt='{:,.0f}')} = "
              f"{statistics.median(daemon_i) / statistics.median(echo_i):.2f}x")
    print("in flight   msgspec echo/s         daemon/s               daemon/echo   (Python client; median (min–max) of "
          f"{args.rounds} interleaved rounds)")
    for inflight, r in rates.items():
        ratio = [d / e for d, e in zip(r["daemon"], r["echo"])]
        print(f"{inflight:9d}   {spread(r['echo'], fmt='{:.0f}'):21s}  {spread(r['daemon'], fmt='{:.0f}'):21s}  {spread(ratio, fmt='{:.2f}')}")


if __name__ == "__main__":
    main()
