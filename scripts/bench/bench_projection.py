"""Benchmark: building a projection over N OHLCV rows vs DuckDB's own CTAS, plus reuse time.

    .venv/bin/python scripts/bench/bench_projection.py              # 5,000,000 rows (the target run)
    .venv/bin/python scripts/bench/bench_projection.py --rows 200000 # a quick try

Setup (not timed): N candle rows over --tokens tokens at 1-minute resolution, published as
--artifacts ohlcv_slice v2 artifacts into a fresh lake. Then, in the same run, alternating:

    baseline  CREATE TABLE t AS SELECT * FROM read_parquet([the artifact files])
              ORDER BY token, resolution, ts       (a fresh DuckDB file, closed = checkpointed)
    build     Projections.build(...) of the same artifacts in table mode, from nothing
              (temporary file, fsync, rename, sidecar; a new projection id every repeat)
    single    the same with all rows in one artifact (already in canonical order: no sort)
    reuse     Projections.build(...) again with the same inputs (median of 50 calls)

Prints one line per measurement and the ratio build / baseline (target <= 1.3) and the reuse
time (target < 50 ms), or JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rss import PeakRss  # noqa: E402


def make_candles(rows: int, tokens: int, seed: int = 7):
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    per = -(-rows // tokens)
    t0 = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1_000_000)
    token = np.repeat(np.array([f"TOKEN{i:04d}" for i in range(tokens)], dtype=object), per)[:rows]
    ts = (t0 + np.tile(np.arange(per, dtype=np.int64) * 60_000_000, tokens))[:rows]
    close = 1.0 + np.abs(np.cumsum(rng.normal(0, 0.001, rows)))
    open_ = np.concatenate([[1.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.random(rows) * 0.001)
    low = np.minimum(open_, close) * (1 - rng.random(rows) * 0.001)
    return pa.table({
        "token": pa.array(token, pa.string()),
        "resolution": pa.array(["1m"] * rows, pa.string()),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "open": open_, "high": high, "low": low, "close": close,
        "volume": rng.integers(0, 100_000, rows).astype("float64"),
    })


def publish(store, table, parts: int, prefix: str) -> list[str]:
    """Publish `table` as `parts` artifacts, tokens dealt round-robin: every artifact spans the
    whole time range, so the union is not already in order and the build has real sorting to do."""
    import pyarrow as pa
    import pyarrow.compute as pc

    tokens = pc.unique(table.column("token")).to_pylist()
    ids = []
    for i in range(parts):
        group = tokens[i::parts]
        if not group:
            continue
        part = table.filter(pc.is_in(table.column("token"), value_set=pa.array(group))) if parts > 1 else table
        res = store.publish("ohlcv_slice", 2, f"bench={prefix}/part={i}", part, writer_name="bench", writer_version="1")
        ids.append(res.artifact_id)
    return ids


def baseline(files: list[str], path: Path) -> float:
    import duckdb

    path.unlink(missing_ok=True)
    t = time.perf_counter()
    con = duckdb.connect(str(path))
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet([{listed}]) ORDER BY token, resolution, ts")
    con.close()
    elapsed = time.perf_counter() - t
    path.unlink(missing_ok=True)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--tokens", type=int, default=50)
    ap.add_argument("--artifacts", type=int, default=5, help="artifacts the rows are split into (default 5)")
    ap.add_argument("--repeat", type=int, default=3, help="timed repeats of build and baseline (best is kept)")
    ap.add_argument("--lake", help="lake directory (default: a temporary one, removed afterwards)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from bridge.projections import Projections
    from bridge.store import Store

    root = Path(args.lake) if args.lake else Path(tempfile.mkdtemp(prefix="bench-projection-"))
    store = Store(root)
    try:
        t = time.perf_counter()
        table = make_candles(args.rows, args.tokens)
        arrow_bytes = table.nbytes
        multi = publish(store, table, args.artifacts, "multi")
        single = publish(store, table, 1, "single")
        del table
        setup = time.perf_counter() - t
        proj = Projections(store)
        files = [store.get(a).path_parquet for a in multi]
        scratch = store.lake.staging / "bench-baseline.duckdb"
        scratch.parent.mkdir(parents=True, exist_ok=True)

        base_times, build_times, single_times, single_base, build_rss, base_rss = [], [], [], [], [], []
        for i in range(args.repeat):
            with PeakRss() as base_mem:
                base_times.append(baseline(files, scratch))
            base_rss.append(base_mem.growth)
            t = time.perf_counter()
            with PeakRss() as mem:
                proj.build({"candles": multi}, projection_id=f"bench-multi-{i}")
            build_times.append(time.perf_counter() - t)
            build_rss.append(mem.growth)
            single_base.append(baseline([store.get(single[0]).path_parquet], scratch))
            t = time.perf_counter()
            proj.build({"candles": single}, projection_id=f"bench-single-{i}")
            single_times.append(time.perf_counter() - t)
            proj.dispose(f"bench-multi-{i}")
            proj.dispose(f"bench-single-{i}")

        proj.build({"candles": multi}, projection_id="bench-reuse")
        reuse = []
        for _ in range(50):
            t = time.perf_counter()
            info = proj.build({"candles": multi}, projection_id="bench-reuse")
            reuse.append(time.perf_counter() - t)
            assert info.reused
        result = {
            "rows": args.rows, "artifacts": len(multi), "tokens": args.tokens, "setup_s": round(setup, 2),
            "baseline_ctas_s": round(min(base_times), 3),
            "build_s": round(min(build_times), 3),
            "ratio": round(min(build_times) / min(base_times), 3),
            "single_artifact_baseline_s": round(min(single_base), 3),
            "single_artifact_build_s": round(min(single_times), 3),
            "single_artifact_ratio": round(min(single_times) / min(single_base), 3),
            "reuse_median_ms": round(statistics.median(reuse) * 1000, 3),
            "reuse_max_ms": round(max(reuse) * 1000, 3),
            "arrow_bytes": arrow_bytes,
            "build_rss_growth_bytes": max(build_rss),
            "build_rss_growth_x_arrow": round(max(build_rss) / arrow_bytes, 2),
            "baseline_rss_growth_x_arrow": round(max(base_rss) / arrow_bytes, 2),
            "targets": {"ratio_max": 1.3, "reuse_ms_max": 50},
        }
    finally:
        store.close()
        if not args.lake:
            shutil.rmtree(root, ignore_errors=True)

    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"rows {result['rows']:,} in {result['artifacts']} artifacts ({result['tokens']} tokens); "
              f"setup {result['setup_s']} s (not timed)")
        print(f"baseline CTAS ... ORDER BY       {result['baseline_ctas_s']:8.3f} s")
        print(f"projection build (table mode)    {result['build_s']:8.3f} s   ratio {result['ratio']:.2f}x (target <= 1.3x)")
        print(f"one artifact: baseline / build   {result['single_artifact_baseline_s']:8.3f} s / "
              f"{result['single_artifact_build_s']:.3f} s   ratio {result['single_artifact_ratio']:.2f}x")
        print(f"memory during build              {result['build_rss_growth_bytes'] / 1e6:8.0f} MB peak RSS growth = "
              f"{result['build_rss_growth_x_arrow']:.2f}x the data's Arrow size (target <= 3x); "
              f"DuckDB's CTAS alone: {result['baseline_rss_growth_x_arrow']:.2f}x")
        print(f"reuse (same inputs)              {result['reuse_median_ms']:8.3f} ms median, "
              f"{result['reuse_max_ms']:.3f} ms max (target < 50 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
