"""`bridge demo`: the main job on the embedded default lake, end to end in Python.

Creates the lake, generates sample candles, publishes them, publishes metrics derived from them,
and prints the artifacts with their lineage. (The README's first command runs the full research
flow through the TypeScript client; this is the same story without Node.)
"""

from __future__ import annotations

import argparse

from bridge.cli._common import add_common, emit_json, lake_from, print_table, to_plain


def register(sub: argparse._SubParsersAction) -> None:
    p = add_common(sub.add_parser("demo", help="create a lake, publish sample data, list it with lineage"))
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from datetime import datetime, timedelta, timezone

    import numpy as np
    import pyarrow as pa

    from bridge.store import Store

    store = Store(lake_from(args, create=True))
    rng = np.random.default_rng(42)
    t0 = datetime(2026, 1, 26, tzinfo=timezone.utc)
    published = []
    for token in ("So1anaDemoToken1111111111111111111111111pump", "0x00000000000000000000000000000000000dEaD0"):
        n = 240
        close = 1 + np.cumsum(rng.normal(0, 0.01, n))
        open_ = np.concatenate([[1.0], close[:-1]])
        table = pa.table({
            "ts": pa.array([t0 + timedelta(minutes=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
            "open": open_, "high": np.maximum(open_, close) + 0.002, "low": np.minimum(open_, close) - 0.002,
            "close": close, "volume": rng.integers(1, 1000, n).astype(float),
        })
        key = f"token={token}/res=1m/from=2026-01-26T00:00:00Z/to=2026-01-26T04:00:00Z"
        published.append(store.publish("ohlcv_slice", 2, key, table, tags={"res": "1m", "source": "demo"},
                                       writer_name="bridge-demo", writer_version="1"))
    inputs = [r.artifact_id for r in published]
    metrics = store.publish(
        "run_metrics", 1, "run=demo",
        [{"run_id": "demo", "metric_name": "candles", "metric_value": float(sum(r.artifact.row_count for r in published)),
          "metric_unit": "count", "computed_at": "2026-01-26T04:00:00Z"}],
        input_artifact_ids=inputs, writer_name="bridge-demo", writer_version="1",
    )
    lineage = store.upstream(metrics.artifact_id)
    if args.json:
        emit_json({"lake": str(store.lake.root), "artifacts": [to_plain(a) for a in store.list().items],
                   "lineage": to_plain(lineage)})
        return 0
    print(f"lake: {store.lake.root}\n")
    print_table([to_plain(a) for a in store.list().items],
                ("artifact_id", "artifact_type", "status", "row_count", "logical_key"), max_width=60)
    print(f"\nlineage of {metrics.artifact_id} (run_metrics):")
    for node in lineage.nodes:
        print(f"  {'  ' * (node.depth - 1)}<- {node.artifact_id} {node.artifact_type} {node.logical_key[:60]}")
    print("\nrun it again: every publish is deduped, nothing new is written.")
    return 0
