"""Benchmark: the manifest's queries at a million artifacts (DESIGN §9), built by bulk SQL.

    .venv/bin/python scripts/bench/bench_manifest.py [--artifacts 1000000] [--reps 15] [--keep DIR]

Builds a manifest of --artifacts rows straight in SQLite (no Parquet files: the queries read only
the manifest), through the store's own migrations, then times each call of `bridge.store.Store`
(p50 and range over --reps calls, each with a different argument so no cache answers it):

* point reads: getArtifact, findByLogicalKey, lineage depth 1, a 50-deep chain (target p50 < 2 ms);
* every listArtifacts filter and combinations, a page of 100, and cursor pages (target p50 < 20 ms);
* getDownstream of a 10,000-artifact fan-out and listStale, against the size of their answer
  (target: proportional to the answer, not to the manifest).

The manifest files are read once before timing (page cache warm): the figures are the queries,
not the disk. Baseline: the manifest at --artifacts / 10 artifacts, built the same way and timed in the same run,
interleaved call by call; a query whose time grows with the manifest shows a ratio near 10.

Data: 4 types (70/20/9/1 %), status 90 % active / 9 % superseded / 1 % tombstoned, tags res=1m
(90 %) or res=1s, a rare tag on 0.1 %, 50,000 logical-key prefixes, time ranges of 5 minutes,
1 hour, 1 day or 1 week (a quarter each) starting anywhere in two years, created in
id-independent order; every ohlcv_slice has one (older) alerts input.
Not a test: the numbers go in the README.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

FANOUT = 10_000
CHAIN = 50


def aid(i: int) -> str:
    """The id of artifact number i (the same formula as the SQL below)."""
    return f"{(i * 2654435761) % 4294967291:08x}{i:024x}"


_ID = "printf('%08x%024x', (i * 2654435761) % 4294967291, i)"


def build(root: Path, n: int) -> Path:
    """A lake whose manifest holds n artifacts (ids 1..n) plus a fan-out and a chain.

    Bulk-loaded: the schema comes from the store's own migrations; then, in one transaction with
    the disk's durability off (a benchmark's scratch file, never a real lake), the secondary
    indexes and triggers of the three loaded tables are dropped, the rows inserted by
    `INSERT … SELECT` from a recursive counter, the indexes rebuilt (one sort each) and the
    triggers restored, and `stale_roots` filled by one statement (what migration 0005 does)."""
    from bridge.store import Store

    store = Store(root)
    db = store.lake.manifest_db
    store.close()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -1000000")  # ~1 GB: the primary-key B-trees stay in memory
    con.execute("PRAGMA temp_store = MEMORY")
    con.execute("BEGIN")
    loaded = ("artifacts", "artifact_tags", "artifact_lineage")
    saved = con.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL"
        f" AND tbl_name IN ({','.join('?' * len(loaded))})", loaded).fetchall()
    for typ, name, _sql in saved:
        con.execute(f'DROP {typ.upper()} "{name}"')
    counter = f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})"
    con.execute(f"""
        {counter}
        INSERT INTO artifacts (artifact_id, artifact_type, schema_version, logical_key, status, path_parquet,
                               path_sidecar, file_hash, content_hash, row_count, min_ts, max_ts, created_at)
        SELECT {_ID},
               CASE WHEN i % 100 < 70 THEN 'ohlcv_slice' WHEN i % 100 < 90 THEN 'alerts_v1'
                    WHEN i % 100 < 99 THEN 'experiment_trades' ELSE 'run_metrics' END,
               1, printf('token=T%05d/res=1m/n=%d', i % 50000, i),
               CASE WHEN i % 100 < 90 THEN 'active' WHEN i % 100 < 99 THEN 'superseded' ELSE 'tombstoned' END,
               'artifacts/x/' || {_ID} || '.parquet', 'artifacts/x/' || {_ID} || '.json',
               printf('%064d', i), printf('%064d', i), 100,
               strftime('%Y-%m-%dT%H:%M:%fZ', '2024-01-01', printf('+%d minutes', (i * 7919) % 1051200)),
               strftime('%Y-%m-%dT%H:%M:%fZ', '2024-01-01', printf('+%d minutes', (i * 7919) % 1051200
                        + CASE i % 4 WHEN 0 THEN 5 WHEN 1 THEN 60 WHEN 2 THEN 1440 ELSE 10080 END)),
               strftime('%Y-%m-%dT%H:%M:%fZ', '2025-01-01', printf('+%d seconds', i))
        FROM s""")
    con.execute(f"""
        {counter}
        INSERT INTO artifact_tags SELECT {_ID}, 'res', CASE WHEN i % 10 = 0 THEN '1s' ELSE '1m' END FROM s""")
    con.execute(f"""
        {counter}
        INSERT INTO artifact_tags SELECT {_ID}, 'rare', 'yes' FROM s WHERE i % 1000 = 7""")
    # every ohlcv_slice made from an alerts artifact of the hundred before (i % 100 in 70..89 are alerts)
    con.execute(f"""
        {counter}
        INSERT INTO artifact_lineage
        SELECT {_ID}, printf('%08x%024x', ((i / 100) * 100 - 30 + i % 20) * 2654435761 % 4294967291,
                             (i / 100) * 100 - 30 + i % 20)
        FROM s WHERE i % 100 < 70 AND i >= 100""")
    # a fan-out: artifact 0 (extra) with FANOUT direct children made of the first slices' ids
    con.execute(f"INSERT INTO artifacts (artifact_id, artifact_type, schema_version, logical_key, status, path_parquet,"
                f" path_sidecar, file_hash, content_hash, row_count, min_ts, max_ts, created_at)"
                f" SELECT '{aid(0)}', artifact_type, schema_version, 'fanout-root', status,"
                f" path_parquet || '0', path_sidecar || '0', 'f0', content_hash, row_count, min_ts, max_ts, created_at"
                f" FROM artifacts WHERE artifact_id = '{aid(70)}'")
    con.execute(f"""
        {counter}
        INSERT OR IGNORE INTO artifact_lineage SELECT {_ID}, '{aid(0)}' FROM s WHERE i % 100 < 70 LIMIT {FANOUT}""")
    # a CHAIN-deep chain among the last ids: n - k made from n - k - 1
    con.execute(f"""
        WITH RECURSIVE s(i) AS (SELECT {n - CHAIN} UNION ALL SELECT i + 1 FROM s WHERE i < {n})
        INSERT OR IGNORE INTO artifact_lineage SELECT {_ID}, printf('%08x%024x', (i - 1) * 2654435761 % 4294967291, i - 1)
        FROM s""")
    for typ, _name, sql in sorted(saved, key=lambda r: r[0] == "trigger"):  # indexes first, then triggers
        con.execute(sql)
    # the triggers were off while lineage went in: the stale roots in one statement (as 0005)
    con.execute("DELETE FROM stale_roots")
    con.execute("INSERT INTO stale_roots SELECT a.artifact_id FROM artifacts a WHERE a.status != 'active'"
                " AND EXISTS (SELECT 1 FROM artifact_lineage l WHERE l.input_artifact_id = a.artifact_id)")
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return root


def timed(fn, args) -> list[float]:
    out = []
    for a in args:
        t0 = time.perf_counter()
        fn(a)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def cases(n: int, reps: int):
    """(name, target ms, fn(store, arg), [args]) — args chosen to be uncached and spread."""
    step = max(1, n // (reps + 1))
    ids = [aid(1 + k * step) for k in range(reps)]
    keys = [("ohlcv_slice", f"token=T{(1 + k * step) % 50000:05d}/res=1m/n={1 + k * step}") for k in range(reps)]
    chain_tips = [aid(n)] * reps
    ts_wins = [(f"2024-{1 + k % 12:02d}-15T00:00:00Z", f"2024-{1 + k % 12:02d}-16T00:00:00Z") for k in range(reps)]
    prefixes = [f"token=T{(k * 3319) % 50000:05d}/" for k in range(reps)]

    def lst(**kw):
        return lambda s, _a: s.list(limit=100, **kw)

    out = [
        ("getArtifact (uncached)", 2, lambda s, a: s._load([a]), ids),
        ("findByLogicalKey", 2, lambda s, a: s.find_by_logical_key(*a), keys),
        ("lineage depth 1", 2, lambda s, a: s.upstream(a, depth=1), ids),
        (f"lineage {CHAIN}-deep chain", 2, lambda s, a: s.upstream(a), chain_tips),
        ("list: no filter", 20, lst(), [None] * reps),
        ("list: type (common)", 20, lst(artifact_type="ohlcv_slice"), [None] * reps),
        ("list: type (1 %)", 20, lst(artifact_type="run_metrics"), [None] * reps),
        ("list: type absent", 20, lst(artifact_type="nope"), [None] * reps),
        ("list: status tombstoned", 20, lst(status="tombstoned"), [None] * reps),
        ("list: type + status (18 %)", 20, lst(artifact_type="alerts_v1", status="active"), [None] * reps),
        ("list: type + status (1 %)", 20, lst(artifact_type="run_metrics", status="tombstoned"), [None] * reps),
        ("list: type + status absent", 20, lst(artifact_type="run_metrics", status="superseded"), [None] * reps),
        ("list: tag present (90 %)", 20, lst(tags={"res": "1m"}), [None] * reps),
        ("list: tag rare (0.1 %)", 20, lst(tags={"rare": "yes"}), [None] * reps),
        ("list: tag absent", 20, lst(tags={"res": "5m"}), [None] * reps),
        ("list: tag + type", 20, lst(tags={"rare": "yes"}, artifact_type="ohlcv_slice"), [None] * reps),
        ("list: key prefix", 20, lambda s, a: s.list(limit=100, logical_key_prefix=a), prefixes),
        ("list: key prefix + type", 20, lambda s, a: s.list(limit=100, logical_key_prefix=a, artifact_type="ohlcv_slice"),
         prefixes),
        ("list: time overlap 1 day", 20, lambda s, a: s.list(limit=100, ts_from=a[0], ts_to=a[1]), ts_wins),
        ("list: time overlap 1 minute", 20, lambda s, a: s.list(limit=100, ts_from=a[0], ts_to=a[0][:14] + "01:00Z"),
         ts_wins),
        ("list: time 1 minute + tag (10 %)", 20, lambda s, a: s.list(limit=100, ts_from=a[0], ts_to=a[0][:14] + "01:00Z",
                                                                      tags={"res": "1s"}), ts_wins),
        ("list: time from (last 2 days)", 20, lambda s, a: s.list(limit=100, ts_from="2025-12-30T00:00:00Z"),
         [None] * reps),
        ("list: time to (first 2 days)", 20, lambda s, a: s.list(limit=100, ts_to="2024-01-03T00:00:00Z"), [None] * reps),
        ("list: time + type + status", 20, lambda s, a: s.list(limit=100, ts_from=a[0], ts_to=a[1],
                                                               artifact_type="alerts_v1", status="active"), ts_wins),
        ("list: type, page 50 by cursor", 20, "cursor", [None] * reps),
        (f"getDownstream fan-out {FANOUT}", None, lambda s, a: s.downstream(a, depth=1), [aid(0)] * max(3, reps // 3)),
        ("listStale", None, lambda s, a: s.stale(), [None] * max(3, reps // 3)),
    ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifacts", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the lakes under this folder")
    args = ap.parse_args()
    from bridge.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        stores = {}
        for label, n in (("big", args.artifacts), ("small", args.artifacts // 10)):
            root = base / f"lake-{n}"
            if not (root / "manifest" / "manifest.sqlite").exists() or not args.keep:
                t0 = time.perf_counter()
                build(root, n)
                print(f"built {n:,} artifacts in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            stores[label] = (Store(root), n)
            with open(stores[label][0].lake.manifest_db, "rb") as fh:  # warm: time queries, not the disk
                while fh.read(1 << 24):
                    pass

        def cursor_walk(store):
            def run(_a):
                page = store.list(limit=100, artifact_type="ohlcv_slice")
                cur = page.next_cursor
                t = 0.0
                for _ in range(49):
                    t0 = time.perf_counter()
                    page = store.list(limit=100, artifact_type="ohlcv_slice", cursor=cur)
                    t = time.perf_counter() - t0
                    cur = page.next_cursor
                return t
            return run

        print(f"{'call':34s} {'p50 ms':>8s} {'range ms':>17s} {'answer':>7s}  {'p50 at n/10':>11s} {'ratio':>5s}  target")
        for (name, target, fn, a_big), (_, _, _, a_small) in zip(cases(stores["big"][1], args.reps),
                                                                 cases(stores["small"][1], args.reps)):
            res = {}
            answers = {}
            # interleaved: one call on the big manifest, one on the small, alternately
            times = {"big": [], "small": []}
            for ab, asm in zip(a_big, a_small):
                for label, arg in (("big", ab), ("small", asm)):
                    store = stores[label][0]
                    if fn == "cursor":
                        times[label].append(cursor_walk(store)(arg) * 1000)
                        answers[label] = 100
                        continue
                    t0 = time.perf_counter()
                    r = fn(store, arg)
                    times[label].append((time.perf_counter() - t0) * 1000)
                    answers[label] = _size(r)
            for label in times:
                res[label] = statistics.median(times[label])
            b = times["big"]
            tgt = f"< {target} ms" if target else "∝ answer"
            ok = "" if target is None else ("ok" if res["big"] < target else "MISSED")
            print(f"{name:34s} {res['big']:8.2f} {min(b):8.2f}–{max(b):8.2f} {answers['big']:7d}  "
                  f"{res['small']:11.2f} {res['big'] / max(res['small'], 1e-6):5.1f}  {tgt} {ok}", flush=True)


def _size(r) -> int:
    if hasattr(r, "items"):
        return len(r.items)
    if hasattr(r, "nodes"):
        return len(r.nodes)
    if isinstance(r, list):
        return len(r)
    return 1


if __name__ == "__main__":
    main()
