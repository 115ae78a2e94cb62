"""The README's main job: scripts/quickstart.mjs through the real TypeScript client and daemon,
twice (the second run must publish nothing new), printing counts people can read."""

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
    assert "[8/9] report:" in first.stdout and (lake / "reports" / "quickstart.html").is_file()
    # counts for people: "129,539 candles loaded", never a raw JSON list such as "[129539]"
    assert re.search(r"^ +\d{1,3}(,\d{3})+ candles loaded from 1 file", first.stdout, re.M), first.stdout[:800]
    assert not re.search(r"^ +[\[{]", first.stdout, re.M), first.stdout
    # the last step: a sweep with walk-forward validation, its folds, DSR and PBO
    assert len(re.findall(r"^ +fold \d: chose takeProfitPct=\d+, stopLossPct=\d+; mean return in-sample -?\d",
                          first.stdout, re.M)) == 4, first.stdout[-1500:]
    assert re.search(r"deflated Sharpe ratio \d\.\d{4}, probability of backtest overfitting \d\.\d{4}", first.stdout)
    new = int(re.search(r"completed in \d+ ms, (\d+) new artifacts", first.stdout).group(1))
    assert new == 6  # trades, metrics, equity, diagnostics, fills, breakdown
    store = Store(lake)
    count = len(store.list(limit=10_000).items)
    trades = store.list(artifact_type="experiment_trades").items[0]
    types = {n.artifact_type for n in store.upstream(trades.artifact_id).nodes}
    assert {"alerts_v1", "ohlcv_slice", "ingest_sources"} <= types
    assert store.verify(quick=True).ok
    (validation,) = store.list(artifact_type="experiment_sweep_validation").items
    assert validation.row_count > 0

    again = subprocess.run([NODE, str(REPO / "scripts" / "quickstart.mjs"), "--lake", str(lake)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.search(r"completed in \d+ ms, 0 new artifacts", again.stdout)
    assert len(Store(lake).list(limit=10_000).items) == count
