"""Benchmark: `verify` against the cost of touching the same files, in the same run (DESIGN §9).

    .venv/bin/python scripts/bench/bench_verify.py [--artifacts 100000] [--rows 200] [--rounds 5] [--keep DIR]

Makes --artifacts real artifacts (distinct Parquet files of --rows rows, sidecars, manifest rows
inserted in bulk), then times, interleaved round by round (median and range of --rounds):

* `verify --quick` (existence, size, mode) — target < 5 s at 100,000 artifacts — against its
  baseline "stat walk": os.walk of artifacts/ with an os.stat of every file;
* full `verify` (re-hash of every file's bytes and sidecar) — target ≤ 1.5× — against its baseline
  "read+sha256 ×2 threads": every Parquet file read and sha256-ed by hashlib on a two-thread pool
  (hashlib releases the GIL), the fastest plain way to do that part on this machine.
The files are warm in the page cache for both (every round reads them all). Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def build(root: Path, n: int, rows: int) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from bridge.store import Store, manifest
    from bridge.store.files import PARQUET_SETTINGS
    from bridge.store.spec import get_spec

    store = Store(root)
    spec = get_spec("run_metrics", 1)
    con = store.connect()
    base = pa.table({"run_id": ["r"] * rows, "metric_name": [f"m{i:05d}" for i in range(rows)],
                     "metric_value": [float(i) for i in range(rows)], "metric_unit": [None] * rows,
                     "computed_at": pa.array([0] * rows, pa.timestamp("us", tz="UTC"))})
    batch = []
    for i in range(n):
        aid = f"{i:032x}"
        parquet, sidecar = store.lake.artifact_paths(spec.dir_name, aid)
        parquet.parent.mkdir(parents=True, exist_ok=True)
        t = base.set_column(0, "run_id", pa.array([f"r{i}"] * rows))
        pq.write_table(t, parquet, **PARQUET_SETTINGS)
        data = parquet.read_bytes()
        fh = hashlib.sha256(data).hexdigest()
        row = {"artifact_id": aid, "artifact_type": "run_metrics", "schema_version": 1, "logical_key": f"run=r{i}",
               "status": "active", "path_parquet": parquet.relative_to(root).as_posix(),
               "path_sidecar": sidecar.relative_to(root).as_posix(), "file_hash": fh, "content_hash": f"c{i}",
               "row_count": rows, "min_ts": None, "max_ts": None, "created_at": f"2026-01-01T00:00:00.{i:06d}Z",
               "file_bytes": len(data)}
        sidecar.write_text(json.dumps(row))
        batch.append(tuple(row.values()))
        if len(batch) == 5000 or i == n - 1:
            with manifest.write_txn(con):
                con.executemany(f"INSERT INTO artifacts ({', '.join(row)}) VALUES ({','.join('?' * len(row))})", batch)
            batch = []


def stat_walk(folder: Path) -> int:
    n = 0
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            os.stat(os.path.join(dirpath, name))
            n += 1
    return n


def sha_all(paths: list[str]) -> int:
    def one(p: str) -> str:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()

    with ThreadPoolExecutor(2) as pool:
        return len(list(pool.map(one, paths, chunksize=64)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifacts", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    from bridge.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        root = (args.keep or Path(tmp)) / f"lake-verify-{args.artifacts}-{args.rows}"
        if not (root / "manifest" / "manifest.sqlite").exists():
            t0 = time.perf_counter()
            build(root, args.artifacts, args.rows)
            print(f"built {args.artifacts:,} artifacts in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        store = Store(root)
        paths = [str(root / r[0]) for r in store.connect().execute("SELECT path_parquet FROM artifacts")]
        mb = sum(os.path.getsize(p) for p in paths) / 1e6
        t = {"quick": [], "stat walk": [], "full": [], "read+sha256 x2 threads": []}
        for _ in range(args.rounds):  # interleaved: each round runs all four
            for name, fn in (("quick", lambda: store.verify(quick=True)), ("stat walk", lambda: stat_walk(store.lake.artifacts)),
                             ("full", lambda: store.verify()), ("read+sha256 x2 threads", lambda: sha_all(paths))):
                t0 = time.perf_counter()
                out = fn()
                t[name].append(time.perf_counter() - t0)
                if hasattr(out, "ok"):
                    assert out.ok, out.issues[:3]
    print(f"{args.artifacts:,} artifacts, {mb:.0f} MB of Parquet, {args.rounds} interleaved rounds, {os.cpu_count()} cores")
    print(f"{'':26s} {'median s':>9s} {'range s':>15s}")
    for name, v in t.items():
        print(f"{name:26s} {statistics.median(v):9.2f} {min(v):7.2f}–{max(v):.2f}")
    q, full = statistics.median(t["quick"]), statistics.median(t["full"])
    print(f"quick: {q:.2f} s (target < 5 s at 100,000), {q / statistics.median(t['stat walk']):.2f}× the stat walk")
    print(f"full: {full / statistics.median(t['read+sha256 x2 threads']):.2f}× read+sha256 on two threads (target ≤ 1.5×)")


if __name__ == "__main__":
    main()
