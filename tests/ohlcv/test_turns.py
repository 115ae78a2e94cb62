"""Two processes on one embedded chDB store take turns instead of failing or deadlocking:
a session holds the engine only while it works, and a second process waits for it (real chDB,
real child processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bridge.errors import Busy
from bridge.ohlcv.slices import export_slice
from bridge.ohlcv.source import CandleSource
from tests.ohlcv.helpers import candles, seed

HOLDER = """
import sys, time
from bridge.ohlcv.source import CandleSource
src = CandleSource(sys.argv[1])
with src.session() as s:
    s.query_arrow("SELECT 1", {})
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
print("released", flush=True)
"""


def _hold(dsn: str, seconds: float) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, dsn, str(seconds)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, cwd=os.getcwd())
    line = child.stdout.readline().strip()
    assert line == "held", f"holder did not start: {line!r}"
    return child


def test_a_second_process_waits_its_turn(store, source):
    seed(source, candles(n=10))
    child = _hold(source.config.dsn, 1.0)
    try:
        t0 = time.monotonic()
        res = export_slice(store, source, "TokA", "solana", "1m", "2026-01-05T00:00:00Z", "2026-01-05T00:10:00Z")
        waited = time.monotonic() - t0
    finally:
        child.wait(timeout=30)
    assert res.row_count == 10
    assert waited >= 0.5  # it really waited for the holder
    assert child.returncode == 0


def test_waiting_past_the_timeout_is_busy_naming_the_holder(store, source):
    seed(source, candles(n=2))
    impatient = source.with_config(lock_timeout=0.3)
    child = _hold(source.config.dsn, 1.5)
    try:
        with pytest.raises(Busy) as err:
            impatient.count()
        assert err.value.data["holder_pid"] == child.pid
        assert str(child.pid) in str(err.value)
    finally:
        child.wait(timeout=30)
    assert impatient.count() == 2  # and after the holder is gone it works


def test_the_store_is_free_between_operations(store, source):
    """Nothing stays open after an operation: another process opens the same store at once."""
    seed(source, candles(n=3))
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys; from bridge.ohlcv.source import CandleSource; "
         "s = CandleSource(sys.argv[1]).with_config(lock_timeout=0.5); print(s.count())", source.config.dsn],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"


def test_one_process_can_use_two_stores_one_after_the_other(tmp_path):
    a = CandleSource(f"chdb://{tmp_path / 'a'}")
    b = CandleSource(f"chdb://{tmp_path / 'b'}")
    seed(a, candles(n=2))
    seed(b, candles(n=3))
    assert (a.count(), b.count(), a.count()) == (2, 3, 2)


def test_threads_of_one_process_take_turns(store, source):
    """The daemon runs long methods off its reader loop: concurrent exports share the engine safely."""
    from concurrent.futures import ThreadPoolExecutor

    seed(source, candles(n=30), candles(token="TokB", n=30))
    other = CandleSource(source.config)  # a second source object on the same store, as two requests would have
    jobs = [(src, tok, f"2026-01-05T00:{m:02d}:00Z") for m in range(0, 30, 5)
            for src, tok in ((source, "TokA"), (other, "TokB"))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(
            lambda j: export_slice(store, j[0], j[1], "solana", "1m", j[2], "2026-01-05T00:30:00Z"), jobs))
    assert [r.row_count for r in results] == [30 - m for m in range(0, 30, 5) for _ in (0, 1)]


def test_two_stores_at_once_in_one_thread_is_a_clear_error(tmp_path):
    from bridge.errors import SourceUnavailable

    a = CandleSource(f"chdb://{tmp_path / 'a'}")
    b = CandleSource(f"chdb://{tmp_path / 'b'}")
    with a.session():
        with pytest.raises(SourceUnavailable, match="one store per process"):
            b.count()
    # and b opens fine once a's session is over
    seed(b, candles(n=1))
    assert b.count() == 1


WAITER = """
import sys, time, pathlib
from bridge.ohlcv.source import CandleSource
import clickhouse_connect.driver._chdbclient  # pay the import before the race
src = CandleSource(sys.argv[1]).with_config(lock_timeout=60)
print("ready", flush=True)
signal = pathlib.Path(sys.argv[2])
while not signal.exists():
    time.sleep(0.01)
n = src.count()
print(time.time(), n, flush=True)
"""


def test_a_long_batch_export_hands_the_store_to_a_waiting_process(store, source, tmp_path, monkeypatch):
    import threading

    import bridge.ohlcv.slices as slices
    from bridge.ohlcv.sample import generate_candles
    from bridge.ohlcv.slices import export_slices_for_alerts
    from bridge.progress import Job

    monkeypatch.setattr(slices, "BATCH_WINDOWS", 5)
    seed(source, generate_candles(["TokA"], "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "1m"))
    alerts = store.publish("alerts", 1, "turns", [
        {"alert_id": f"a{i}", "alert_ts": f"2026-01-05T{i // 3:02d}:{(i % 3) * 20:02d}:00Z",
         "token_address": "TokA", "chain": "solana"} for i in range(60)
    ]).artifact_id
    signal = tmp_path / "go"
    child = subprocess.Popen([sys.executable, "-c", WAITER, source.config.dsn, str(signal)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout.readline().strip() == "ready"
    job = Job(lambda done, total, msg: signal.touch() if done >= 1 else None, min_interval=0)
    done = {}

    def batch():
        done["result"] = export_slices_for_alerts(store, source, alerts, "0s", "10m", "1m", job=job)
        done["end"] = time.time()

    worker = threading.Thread(target=batch)
    worker.start()
    worker.join(timeout=120)
    out, _ = child.communicate(timeout=60)
    child_time, count = out.split()
    assert done["result"].windows == 60 and done["result"].exported == 60
    assert int(count) == 1440
    assert float(child_time) < done["end"], "the waiting process only got in after the whole batch"


def test_nested_sessions_of_two_sources_on_one_store(store, source):
    """Two source objects on the same store, one inside the other's session (e.g. a custom mapping
    used while the default table is open): no self-deadlock on the file lock."""
    seed(source, candles(n=2))
    other = CandleSource(source.config).with_config(lock_timeout=2)
    with source.session():
        assert other.count() == 2
    assert other.count() == 2
