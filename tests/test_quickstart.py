"""The README's main job: scripts/quickstart.mjs through the real TypeScript client and daemon,
twice (the second run must publish nothing new)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from bridge.store import Store
from tests.conftest import REPO

NODE = shutil.which("node")
DIST = REPO / "ts-client" / "dist" / "src" / "index.js"


def test_quickstart_runs_the_whole_flow_and_is_idempotent(tmp_path):
    assert NODE is not None and DIST.is_file(), "needs node and a built ts-client: run ./scripts/setup.sh"
    lake = tmp_path / "lake"
    env = {**os.environ, "QUANTBOT_PYTHON": str(Path(os.sys.executable))}
    first = subprocess.run([NODE, str(REPO / "scripts" / "quickstart.mjs"), "--lake", str(lake)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "[8/8] report:" in first.stdout and (lake / "reports" / "quickstart.html").is_file()
    new = int(re.search(r"completed in \d+ ms, (\d+) new artifacts", first.stdout).group(1))
    assert new == 6  # trades, metrics, equity, diagnostics, fills, breakdown
    store = Store(lake)
    count = len(store.list(limit=10_000).items)
    trades = store.list(artifact_type="experiment_trades").items[0]
    types = {n.artifact_type for n in store.upstream(trades.artifact_id).nodes}
    assert {"alerts_v1", "ohlcv_slice", "ingest_sources"} <= types
    assert store.verify(quick=True).ok

    again = subprocess.run([NODE, str(REPO / "scripts" / "quickstart.mjs"), "--lake", str(lake)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.search(r"completed in \d+ ms, 0 new artifacts", again.stdout)
    assert len(Store(lake).list(limit=10_000).items) == count
