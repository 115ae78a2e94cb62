"""Sample data for store tests: OHLCV candles, alerts, metrics, built deterministically."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

T0 = datetime(2026, 1, 26, tzinfo=timezone.utc)
OHLCV_KEY = "token=ABC/res=1m/from=2026-01-26T00:00:00Z/to=2026-01-27T00:00:00Z"


def candles(n: int = 100, *, token: str = "ABC", seed: int = 0, with_token: bool = False) -> pa.Table:
    rng = np.random.default_rng(seed)
    close = 1.0 + np.cumsum(rng.normal(0, 0.01, n)).clip(-0.9, None)
    open_ = np.concatenate([[1.0], close[:-1]])
    high = np.maximum(open_, close) + rng.random(n) * 0.01
    low = np.minimum(open_, close) - rng.random(n) * 0.01
    cols = {
        "ts": pa.array([T0 + timedelta(minutes=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "open": open_, "high": high, "low": low, "close": close,
        "volume": rng.integers(0, 10_000, n).astype(float),
    }
    if with_token:
        cols = {"token": [token] * n, "resolution": ["1m"] * n, **cols}
    return pa.table(cols)


def metrics_rows(run: str = "r1", value: float = 1.5) -> list[dict]:
    return [
        {"run_id": run, "metric_name": "sharpe", "metric_value": value, "metric_unit": None,
         "computed_at": "2026-01-26T00:00:00Z"},
        {"run_id": run, "metric_name": "trades", "metric_value": 10.0, "metric_unit": "count",
         "computed_at": "2026-01-26T00:00:00Z"},
    ]


def publish_candles(store, key: str = OHLCV_KEY, n: int = 50, seed: int = 0, **kw):
    return store.publish("ohlcv_slice", 2, key, candles(n, seed=seed), writer_name="test", writer_version="1", **kw)


def publish_metrics(store, inputs=(), run: str = "r1", value: float = 1.5, key: str | None = None):
    return store.publish("run_metrics", 1, key or f"run={run}", metrics_rows(run, value), writer_name="test",
                         writer_version="1", input_artifact_ids=list(inputs))
