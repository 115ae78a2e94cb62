"""Benchmark: the OHLCV path on embedded chDB, with its baselines in the same run.

    .venv/bin/python scripts/bench/bench_ohlcv.py [--rows 1000000] [--tokens 10] [--sessions 20]

Prints:
  * the cost of the chDB ownership choice (open per operation, close after): importing
    clickhouse-connect + chDB (once per process), the first open, then open+close per session;
  * loading --rows candles (Parquet → ReplacingMergeTree) vs pyarrow reading the same file;
  * exporting one token's slice (query FINAL + validate + publish) vs a bare `query_arrow` of the
    same rows on an already open client, and the reuse of that slice (no query);
  * coverage of that slice (DuckDB) in rows/s.
Not a test. Child-free: run it alone on a quiet machine for real numbers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def timed(label: str, fn, results: dict):
    t0 = time.perf_counter()
    out = fn()
    results[label] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--tokens", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=20)
    args = ap.parse_args()

    r: dict[str, float] = {}
    timed("import clickhouse_connect + chdb", lambda: __import__("clickhouse_connect.driver._chdbclient"), r)
    import pyarrow.parquet as pq

    from bridge.ohlcv.coverage import slice_coverage
    from bridge.ohlcv.load import load_candles
    from bridge.ohlcv.sample import generate_candles, write_candles
    from bridge.ohlcv.slices import export_slice
    from bridge.ohlcv.source import CandleSource
    from bridge.store import Store

    folder = Path(tempfile.mkdtemp(prefix="bench_ohlcv_"))
    store = Store(folder / "lake")
    source = CandleSource.for_lake(store.lake)
    per_token = args.rows // args.tokens
    tokens = [f"Tok{i:04d}" for i in range(args.tokens)]
    start_us = 1_767_571_200_000_000  # 2026-01-05T00:00:00Z
    end_us = start_us + per_token * 60_000_000
    from bridge.ohlcv.grid import format_key_ts

    start, end = format_key_ts(start_us), format_key_ts(end_us)
    table = generate_candles(tokens, start, end, "1m", seed=1, missing_ratio=0.001)
    path = write_candles(table, folder / "candles.parquet")

    def first_open():
        with source.session():
            pass

    timed("first open + close", first_open, r)

    def sessions():
        for _ in range(args.sessions):
            with source.session():
                pass

    timed(f"{args.sessions} sessions (open+close)", sessions, r)
    timed("pyarrow read of the candle file", lambda: pq.read_table(path), r)
    timed(f"load {table.num_rows:,} candles", lambda: load_candles(source, [path]), r)

    with source.session() as s:
        from bridge.ohlcv.grid import TimeRange, parse_resolution

        rng = TimeRange(start_us, end_us)
        timed("bare query_arrow of one token (open client)",
              lambda: s.query_arrow("SELECT * FROM candles FINAL WHERE token = {t:String} ORDER BY ts",
                                    {"t": tokens[0]}), r)
        timed("source.candles of one token (open client)",
              lambda: source.candles(tokens[0], "solana", parse_resolution("1m"), rng), r)
    res = timed("export_slice (open, query, validate, publish)",
                lambda: export_slice(store, source, tokens[0], "solana", "1m", start, end), r)
    timed("export_slice again (reuse, no query)",
          lambda: export_slice(store, source, tokens[0], "solana", "1m", start, end), r)
    timed("slice_coverage (read + DuckDB + publish)", lambda: slice_coverage(store, [res.artifact_id]), r)

    width = max(len(k) for k in r)
    for k, v in r.items():
        print(f"{k.ljust(width)}  {v * 1000:9.1f} ms")
    per_session = r[f"{args.sessions} sessions (open+close)"] / args.sessions
    print(f"\nper-session open+close: {per_session * 1000:.1f} ms "
          f"(the price of taking turns with other processes on one chDB store)")
    ratio = r["export_slice (open, query, validate, publish)"] / r["bare query_arrow of one token (open client)"]
    print(f"export_slice / bare query: {ratio:.1f}x for {res.row_count:,} rows")
    print(f"load: {table.num_rows / r[f'load {table.num_rows:,} candles']:,.0f} candles/s; "
          f"vs pyarrow read {r[f'load {table.num_rows:,} candles'] / r['pyarrow read of the candle file']:.1f}x")


if __name__ == "__main__":
    main()
