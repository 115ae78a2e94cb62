"""Crash safety (SIGKILL at every step of a publish, and at random moments) and several
processes publishing overlapping data into one lake at once."""

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

from bridge.store import Store
from tests.conftest import REPO

PUBLISHER = textwrap.dedent("""
    import sys, json
    sys.path.insert(0, {repo!r})
    from bridge.store import Store
    from tests.store.samples import candles
    lake, n, seeds = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    store = Store(lake)
    for seed in seeds:
        r = store.publish("ohlcv_slice", 2, f"token=T{{seed % 3}}/res=1m", candles(n, seed=seed),
                          writer_name="crash", writer_version="1")
        print(json.dumps([seed, r.artifact_id, r.deduped]), flush=True)
""")

CRASH_POINTS = ["after_staging_parquet", "after_staging_sidecar", "after_journal", "after_parquet_move",
                "after_sidecar_move", "before_register_commit", "after_register"]
# Every step on the embedded default; on the other backends the steps after the journal (where
# what is on the server differs: a journal row with a lease, uploaded objects), plus the first one.
# Both kinds of step run on every backend; this keeps the suite's time in bounds.
REMOTE_POINTS = ["after_staging_parquet", "after_journal", "after_parquet_move", "after_sidecar_move",
                 "before_register_commit"]
CRASH_CASES = [("sqlite-local", p) for p in CRASH_POINTS] + [
    (b, p) for b in ("sqlite-s3", "pg-local", "pg-s3") for p in REMOTE_POINTS]


def run_publisher(lake: Path, seeds, n=2000, env=None, **kw) -> subprocess.Popen:
    script = PUBLISHER.format(repo=str(REPO))
    return subprocess.Popen([sys.executable, "-c", script, str(lake), str(n), json.dumps(seeds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, **kw)


def assert_consistent(lake: Path) -> Store:
    store = Store(lake)  # opening rolls back interrupted publishes
    report = store.verify()
    assert report.ok, report.issues
    fs = store.files
    for a in store.list(limit=10_000).items:
        assert fs.exists(a.path_parquet) and fs.exists(a.path_sidecar)
    finals = set(fs.list_keys("artifacts"))
    registered = {fs.key(a.path_parquet) for a in store.list(limit=10_000).items} | {
        fs.key(a.path_sidecar) for a in store.list(limit=10_000).items}
    assert finals == registered  # no partial or unregistered file at a final path
    assert store.connect().execute("SELECT COUNT(*) FROM publish_journal").fetchone()[0] == 0
    return store


@pytest.mark.parametrize(("backend", "point"), CRASH_CASES, indirect=["backend"])
def test_sigkill_at_each_step_leaves_a_consistent_lake(lake_dir, point):
    lake = lake_dir
    proc = run_publisher(lake, [7], env={"QB_CRASH_AT": point})
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    store = assert_consistent(lake)
    registered = store.list().items
    assert len(registered) == (1 if point == "after_register" else 0)
    # and publishing again succeeds
    again = run_publisher(lake, [7])
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    seed, artifact_id, deduped = json.loads(out.splitlines()[-1])
    assert deduped == (point == "after_register")
    assert_consistent(lake).get(artifact_id).status == "active"


def test_sigkill_at_random_moments(lake_dir, backend):
    lake = lake_dir
    Store(lake)
    delays = [0.35, 0.5, 0.65, 0.8, 1.0, 1.3] if backend.name == "sqlite-local" else [0.6, 1.0, 1.6]
    for i, delay in enumerate(delays):
        proc = run_publisher(lake, list(range(i * 10, i * 10 + 10)), n=20_000)
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=30)
        assert_consistent(lake)
    out, err = run_publisher(lake, list(range(5)), n=20_000).communicate(timeout=120)
    assert len(out.splitlines()) == 5, err
    assert_consistent(lake)


def test_four_processes_publishing_overlapping_data(lake_dir, backend):
    lake = lake_dir
    Store(lake)
    seeds = list(range(12 if backend.name == "sqlite-local" else 8))
    step = len(seeds) // 4
    procs = [run_publisher(lake, seeds[i:] + seeds[:i], n=3000) for i in (0, step, 2 * step, 3 * step)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert "locked" not in err
        results += [json.loads(line) for line in out.splitlines()]
    assert len(results) == 4 * len(seeds)  # every call answered
    by_seed: dict[int, set[str]] = {}
    for seed, aid, _ in results:
        by_seed.setdefault(seed, set()).add(aid)
    assert all(len(ids) == 1 for ids in by_seed.values())  # one artifact per (type, key, content)
    assert sum(1 for _, _, deduped in results if not deduped) == len(seeds)
    store = assert_consistent(lake)
    assert len(store.list(limit=100).items) == len(seeds)
