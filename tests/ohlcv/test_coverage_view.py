"""coverage_report: per token and per alert window, checked against plain Python over the rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from bridge.errors import InvalidInput
from bridge.ohlcv.coverage_view import coverage_report
from bridge.store import Store
from tests.store.samples import publish_candles

T0 = datetime(2026, 1, 26, tzinfo=timezone.utc)


def test_alert_windows_and_tokens_where_candles_are_missing(tmp_path):
    store = Store(tmp_path / "lake")
    src = publish_candles(store).artifact_id
    rows = []
    for i, (token, expected, present) in enumerate([("A", 60, 60), ("A", 60, 45), ("B", 60, 0), ("C", 30, 29),
                                                    ("B", 60, 60)]):
        rows.append({"alert_id": f"a{i}", "token": token, "chain": "solana", "alert_ts": T0 + timedelta(hours=i),
                     "horizon_end": T0 + timedelta(hours=i + 1), "expected": expected, "present": present,
                     "coverage_ratio": present / expected, "fully_covered": present == expected})
    aid = store.publish("alert_forward_coverage", 1, "alerts=x/res=1m/horizon=1h", rows, input_artifact_ids=[src]).artifact_id
    rep = coverage_report(store, aid)
    ref = defaultdict(lambda: {"windows": 0, "fullyCovered": 0, "expected": 0, "present": 0})
    for r in rows:
        t = ref[r["token"]]
        t["windows"] += 1
        t["fullyCovered"] += r["fully_covered"]
        t["expected"] += r["expected"]
        t["present"] += r["present"]
    got = {t["token"]: t for t in rep["tokens"]}
    for token, t in ref.items():
        assert {k: got[token][k] for k in t} == t
        assert got[token]["missing"] == t["expected"] - t["present"]
    assert [t["token"] for t in rep["tokens"]] == ["B", "A", "C"]  # most missing first
    assert [w["alertId"] for w in rep["windows"]] == ["a2", "a1", "a3"]  # worst window first
    assert rep["windowsWithGaps"] == 3 and rep["windows"][0]["missing"] == 60
    with pytest.raises(InvalidInput, match="not one of"):
        coverage_report(store, src)
