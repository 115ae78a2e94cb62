"""A crash mid-build (a real child process, SIGKILLed at a fault-injection point) never leaves a
half-built projection reachable; the next build sweeps the debris."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bridge.errors import ProjectionNotFound
from tests.conftest import REPO

CHILD = textwrap.dedent("""
    import json, sys
    from bridge.store import Store
    from bridge.projections import Projections
    lake, pid, tables = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    store = Store(lake)
    Projections(store).build(tables, projection_id=pid)
    print("built")
""")


def _build_in_child(lake: Path, pid: str, tables: dict, crash_at: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QB_CRASH_AT": crash_at, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", CHILD, str(lake), pid, json.dumps(tables)], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("crash_at", ["projection_before_replace", "projection_before_sidecar"])
def test_crash_during_a_first_build_leaves_nothing_reachable(store, proj, published, crash_at):
    tables = {"candles": [published.abc, published.defg]}
    res = _build_in_child(store.lake.root, "crashy", tables, crash_at)
    assert res.returncode == -9 and "built" not in res.stdout, res.stderr
    with pytest.raises(ProjectionNotFound):
        proj.get("crashy")
    assert proj.list() == []
    debris = list((proj.root / "crashy").iterdir())
    assert debris, "the child died with files on disk"
    info = proj.build(tables, projection_id="crashy")
    assert not info.reused and proj.query("crashy", "SELECT count(*) FROM candles").rows == [[100]]
    assert sorted(p.name for p in (proj.root / "crashy").iterdir()) == sorted(
        ["projection.json", Path(info.duckdb_path).name])


@pytest.mark.parametrize("crash_at", ["projection_before_replace", "projection_before_sidecar"])
def test_crash_during_a_rebuild_keeps_the_old_projection(store, proj, published, crash_at):
    old = proj.build({"candles": [published.abc]}, projection_id="keep")
    res = _build_in_child(store.lake.root, "keep", {"candles": [published.abc, published.defg]}, crash_at)
    assert res.returncode == -9, res.stderr
    info = proj.get("keep")
    assert info.fingerprint == old.fingerprint and info.duckdb_path == old.duckdb_path
    assert proj.query("keep", "SELECT count(*) FROM candles").rows == [[60]]
    assert proj.build({"candles": [published.abc]}, projection_id="keep").reused
    new = proj.build({"candles": [published.abc, published.defg]}, projection_id="keep")
    assert proj.query("keep", "SELECT count(*) FROM candles").rows == [[100]]
    assert sorted(p.name for p in (proj.root / "keep").iterdir()) == sorted(
        ["projection.json", Path(new.duckdb_path).name])
