"""Fixtures for projection tests: a lake with real published artifacts of several types."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from tests.store.samples import candles, metrics_rows

KEY = "token={token}/res=1m/from=2026-01-26T00:00:00Z/to=2026-01-27T00:00:00Z"
T0 = datetime(2026, 1, 26, tzinfo=timezone.utc)


@dataclass
class Published:
    abc: str  # ohlcv_slice, token ABC, 60 rows
    defg: str  # ohlcv_slice, token DEF, 40 rows
    ghi: str  # ohlcv_slice, token GHI, 30 rows
    alerts: str  # alerts v1, 5 rows
    metrics: str  # run_metrics, derived from abc


def publish_all(store) -> Published:
    def ohlcv(token: str, n: int, seed: int) -> str:
        return store.publish("ohlcv_slice", 2, KEY.format(token=token), candles(n, seed=seed),
                             writer_name="test", writer_version="1").artifact_id

    abc, defg, ghi = ohlcv("ABC", 60, 0), ohlcv("DEF", 40, 1), ohlcv("GHI", 30, 2)
    alerts = store.publish("alerts", 1, "source=test", alert_rows(), writer_name="test",
                           writer_version="1").artifact_id
    metrics = store.publish("run_metrics", 1, "run=r1", metrics_rows(), writer_name="test", writer_version="1",
                            input_artifact_ids=[abc]).artifact_id
    return Published(abc=abc, defg=defg, ghi=ghi, alerts=alerts, metrics=metrics)


def alert_rows() -> list[dict]:
    tokens = ["ABC", "DEF", "GHI", "ABC", "DEF"]
    return [
        {"alert_id": f"a{i}", "alert_ts": (T0 + timedelta(minutes=7 * i)).isoformat(), "token_address": t,
         "chain": "solana", "caller": None if i % 2 else f"caller{i}", "source": "test", "text": f"call {t}"}
        for i, t in enumerate(tokens)
    ]


@pytest.fixture
def published(store) -> Published:
    return publish_all(store)


@pytest.fixture
def proj(store):
    from bridge.projections import Projections

    return Projections(store)


def table_digest(proj, projection_id: str, table: str) -> str:
    """SHA-256 of a table's rows in stored order (no ORDER BY) and fully ordered, plus its column types."""
    con = proj.connect_readonly(projection_id)
    try:
        stored = con.execute(f'SELECT * FROM "{table}"').fetchall()
        cols = [(d[0], str(d[1])) for d in con.description]
    finally:
        con.close()
    return hashlib.sha256(json.dumps([cols, stored], default=str).encode()).hexdigest()


def result_digest(result) -> str:
    import msgspec

    return hashlib.sha256(msgspec.json.encode([result.columns, result.rows])).hexdigest()
