"""Benchmark: the OHLCV path on embedded chDB, with its baselines in the same run.

    .venv/bin/python scripts/bench/bench_ohlcv.py [--rows 1000000] [--tokens 10] [--sessions 20] [--rounds 5]

Each round runs in a fresh process (chDB opens one store path per process) on a new lake, every
step once, each measured step right after its baseline, so both see the same load:
  * the cost of the chDB ownership choice (open per operation, close after): importing
    clickhouse-connect + chDB (once per process), the first open, then open+close per session;
  * loading --rows candles (Parquet → ReplacingMergeTree) vs pyarrow reading the same file (its
    second read in the process: the first, untimed, pays pyarrow's first-use costs);
  * exporting one token's slice (query FINAL + validate + publish) vs a bare `query_arrow` of the
    same rows (`SELECT * FROM candles FINAL WHERE token = ... ORDER BY ts`) on an already open
    client, and the reuse of that slice (no query);
  * coverage of that slice (DuckDB) in rows/s.
Prints the median and range over --rounds rounds of every step, and of the per-round ratios
load / pyarrow read and export / bare query. Not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _spread import spread  # noqa: E402

START_US = 1_767_571_200_000_000  # 2026-01-05T00:00:00Z
IMPORT = "import clickhouse_connect + chdb"
LOAD_BASE = "pyarrow read of the candle file"
QUERY_BASE = "bare query_arrow of one token (open client)"
EXPORT = "export_slice (open, query, validate, publish)"


def timed(label: str, fn, results: dict):
    t0 = time.perf_counter()
    out = fn()
    results[label] = time.perf_counter() - t0
    return out


def one_round(folder: Path, path: Path, tokens: list[str], end_us: int, sessions: int) -> dict:
    """Every step once, on a new lake in `folder`: {label: seconds, "export_rows": n}."""
    r: dict[str, float] = {}
    timed(IMPORT, lambda: __import__("clickhouse_connect.driver._chdbclient"), r)
    import pyarrow.parquet as pq

    from bridge.ohlcv.coverage import slice_coverage
    from bridge.ohlcv.grid import TimeRange, format_key_ts, parse_resolution
    from bridge.ohlcv.load import load_candles
    from bridge.ohlcv.slices import export_slice
    from bridge.ohlcv.source import CandleSource
    from bridge.store import Store

    store = Store(folder / "lake")
    source = CandleSource.for_lake(store.lake)
    start, end = format_key_ts(START_US), format_key_ts(end_us)

    def first_open():
        with source.session():
            pass

    timed("first open + close", first_open, r)

    def open_close():
        for _ in range(sessions):
            with source.session():
                pass

    timed(f"{sessions} sessions (open+close)", open_close, r)
    pq.read_table(path)  # not timed: pyarrow's first-use costs, which the load then does not pay either
    rows = timed(LOAD_BASE, lambda: pq.read_table(path), r).num_rows
    timed(f"load {rows:,} candles", lambda: load_candles(source, [path]), r)
    with source.session() as s:
        query = "SELECT * FROM candles FINAL WHERE token = {t:String} ORDER BY ts"
        s.query_arrow(query, {"t": tokens[0]})  # not timed: the first query's costs, which the export meets warm too
        timed(QUERY_BASE, lambda: s.query_arrow(query, {"t": tokens[0]}), r)
        timed("source.candles of one token (open client)",
              lambda: source.candles(tokens[0], "solana", parse_resolution("1m"), TimeRange(START_US, end_us)), r)
    res = timed(EXPORT, lambda: export_slice(store, source, tokens[0], "solana", "1m", start, end), r)
    timed("export_slice again (reuse, no query)",
          lambda: export_slice(store, source, tokens[0], "solana", "1m", start, end), r)
    timed("slice_coverage (read + DuckDB + publish)", lambda: slice_coverage(store, [res.artifact_id]), r)
    return {**r, "rows": rows, "export_rows": res.row_count}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--tokens", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5, help="rounds, each a fresh process (median and range reported)")
    ap.add_argument("--round", metavar="DIR", help=argparse.SUPPRESS)  # one round in this process
    args = ap.parse_args()
    tokens = [f"Tok{i:04d}" for i in range(args.tokens)]
    end_us = START_US + args.rows // args.tokens * 60_000_000
    if args.round:
        folder = Path(args.round)
        print(json.dumps(one_round(folder, folder.parent / "candles.parquet", tokens, end_us, args.sessions)))
        return

    from bridge.ohlcv.grid import format_key_ts
    from bridge.ohlcv.sample import generate_candles, write_candles

    with tempfile.TemporaryDirectory(prefix="bench_ohlcv_") as tmp:
        table = generate_candles(tokens, format_key_ts(START_US), format_key_ts(end_us), "1m", seed=1,
                                 missing_ratio=0.001)
        write_candles(table, Path(tmp) / "candles.parquet")
        runs = []
        for i in range(args.rounds):
            out = subprocess.run([sys.executable, __file__, "--round", str(Path(tmp) / f"round{i}"), "--rows",
                                  str(args.rows), "--tokens", str(args.tokens), "--sessions", str(args.sessions)],
                                 capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows, export_rows = runs[0]["rows"], runs[0]["export_rows"]
    load = f"load {rows:,} candles"
    labels = [k for k in runs[0] if k not in ("rows", "export_rows")]
    width = max(len(k) for k in labels)
    print(f"median (min–max) of {args.rounds} rounds, each a fresh process on a new lake, ms:")
    for k in labels:
        print(f"{k.ljust(width)}  {spread([r[k] for r in runs], scale=1000, fmt='{:9.1f}')}")
    per_session = [r[f"{args.sessions} sessions (open+close)"] / args.sessions for r in runs]
    print(f"\nper-session open+close: {spread(per_session, scale=1000, fmt='{:.1f}')} ms "
          f"(the price of taking turns with other processes on one chDB store)")
    ratio = [r[EXPORT] / r[QUERY_BASE] for r in runs]
    print(f"export_slice / bare query, per round: {spread(ratio, fmt='{:.1f}')}x for {export_rows:,} rows")
    print(f"load: {rows / statistics.median(r[load] for r in runs):,.0f} candles/s; vs pyarrow read, per round "
          f"{spread([r[load] / r[LOAD_BASE] for r in runs], fmt='{:.1f}')}x")


if __name__ == "__main__":
    main()
