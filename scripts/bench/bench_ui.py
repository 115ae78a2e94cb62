"""Benchmark: server time of every `bridge ui` page on a lake of N artifacts (target: < 300 ms
each at N = 100,000).

    .venv/bin/python scripts/bench/bench_ui.py                      # 100,000 artifacts (the target run)
    .venv/bin/python scripts/bench/bench_ui.py --artifacts 20000    # a quick try
    .venv/bin/python scripts/bench/bench_ui.py --lake DIR           # reuse a quickstart lake (copied first)
    .venv/bin/python scripts/bench/bench_ui.py --artifacts 5000 --runs 200 --rounds 5   # a smoke run

Setup (not timed): the quickstart (scripts/quickstart.mjs: real alerts, slices, coverage,
projections, an experiment run and a 6-point sweep with walk-forward validation) plus the same
sweep without validation, then N synthetic artifacts added with
bulk SQL in one transaction: 1% "base" ohlcv_slice rows (every 20th superseded) and the rest
derived rows (4 types) each made from one base, with a token tag, provenance and a time range,
all pointing at one real Parquet file; plus 2,000 synthetic run records (copies of the real run).
That gives stale artifacts, superseded ones, fan-outs of ~100 and a 100k-row sort on every page.

Then the UI server runs in this process (uvicorn on 127.0.0.1, as `bridge ui`) and each round
requests, interleaved:

    baseline  GET /static/app.css through the same guard (token and Host check, headers): the
              floor of one request on this machine
    <page>    every request that page makes (the browser sends them when the page opens), in turn

A page's time is the sum of its requests' times measured by the client (wall time from sending
the request to the last byte, which includes the server's work, over loopback). The first round
is reported apart (cold: metrics tables not yet cached, SQLite pages not yet in memory); then
the median and range over --rounds rounds. Prints a table, or JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

TARGET_MS = 300.0

SWEEP = """
import sys
from bridge.experiments import Experiments
from bridge.experiments.runs import RunRecords
from bridge.store import Store
store = Store(sys.argv[1])
ex = Experiments(store)
run = ex.list_runs(limit=1)[0]
ex.sweep(RunRecords(store).definition(run.run_id), {"takeProfitPct": [20, 30, 50], "stopLossPct": [10, 15]})
"""  # the quickstart's grid, without validation


def build_quickstart(lake: Path) -> None:
    node = shutil.which("node")
    if node is None:
        sys.exit("bench_ui: needs node (./scripts/setup.sh)")
    env = {**os.environ, "QUANTBOT_PYTHON": sys.executable}
    subprocess.run([node, str(REPO / "scripts" / "quickstart.mjs"), "--lake", str(lake)], check=True,
                   stdout=subprocess.DEVNULL, env=env, cwd=lake.parent)


def bulk_artifacts(manifest: Path, n: int, runs: int) -> dict:
    """N synthetic artifacts + `runs` run records in one transaction (bulk SQL, recursive CTEs)."""
    con = sqlite3.connect(manifest)
    con.execute("PRAGMA journal_mode=WAL")
    real = con.execute("SELECT path_parquet, path_sidecar, min_ts, max_ts FROM artifacts "
                       "WHERE artifact_type = 'ohlcv_slice' LIMIT 1").fetchone()
    bases = max(1, n // 100)
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.execute("""CREATE TEMP TABLE seq AS WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?)
                   SELECT i, lower(hex(randomblob(16))) AS id FROM s""", (n,))
    types = "CASE i % 4 WHEN 0 THEN 'coverage_summary' WHEN 1 THEN 'experiment_trades' " \
            "WHEN 2 THEN 'experiment_metrics' ELSE 'alert_forward_coverage' END"
    con.execute(f"""INSERT INTO artifacts (artifact_id, artifact_type, schema_version, logical_key, status, path_parquet,
                      path_sidecar, file_hash, content_hash, row_count, min_ts, max_ts, created_at)
                   SELECT id, CASE WHEN i < :bases THEN 'ohlcv_slice' ELSE {types} END,
                          CASE WHEN i < :bases THEN 2 ELSE 1 END,
                          'token=BENCH' || printf('%05d', i % 5000) || '/res=1m/n=' || i,
                          CASE WHEN i < :bases AND i % 20 = 0 THEN 'superseded' ELSE 'active' END,
                          :pq, :sc, 'bench-file-' || id, 'bench-content-' || id, (i * 7919) % 100000,
                          strftime('%Y-%m-%dT%H:%M:00.000000Z', '2025-01-01', '+' || (i % 500000) || ' minutes'),
                          strftime('%Y-%m-%dT%H:%M:00.000000Z', '2025-01-01', '+' || (i % 500000 + 60) || ' minutes'),
                          strftime('%Y-%m-%dT%H:%M:%S', '2025-06-01', '+' || i || ' seconds') || '.000000Z'
                   FROM seq""", {"bases": bases, "pq": real[0], "sc": real[1]})
    con.execute("""INSERT INTO artifact_tags SELECT id, 'token', 'BENCH' || printf('%05d', i % 5000) FROM seq""")
    con.execute("""INSERT INTO artifact_lineage SELECT d.id, b.id FROM seq d JOIN seq b ON b.i = d.i % :bases
                   WHERE d.i >= :bases""", {"bases": bases})
    con.execute("""INSERT INTO artifact_provenance (artifact_id, writer_name, writer_version, git_commit, git_dirty,
                      params_json, canonical_form) SELECT id, 'bench', '1', NULL, 0, '{}', 'qb-content-v1' FROM seq""")
    run = con.execute("SELECT * FROM experiment_runs WHERE sweep_id IS NULL ORDER BY created_at LIMIT 1").fetchone()
    cols = [d[0] for d in con.execute("SELECT * FROM experiment_runs LIMIT 0").description]
    rid = cols.index("run_id")
    con.execute(f"""INSERT INTO experiment_runs SELECT 'run-bench-' || printf('%05d', i),
                      {', '.join(c for c in cols if c != 'run_id')} FROM experiment_runs, seq
                   WHERE run_id = ? AND i < ?""", (run[rid], runs))
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.close()
    return {"seconds": round(time.perf_counter() - t0, 2), "bases": bases}


def pages(lake: Path) -> dict[str, list[tuple[str, str, bytes | None]]]:
    """Each page's requests (method, path, body), found in the lake."""
    from bridge.experiments.views import list_sweeps, sweep_validation
    from bridge.projections import Projections
    from bridge.store import Store

    store = Store(lake)
    trades = store.list(artifact_type="experiment_trades", search="quickstart", limit=1).items[0]
    base = store.list(artifact_type="ohlcv_slice", logical_key_prefix="token=BENCH", status="superseded", limit=1).items[0]
    derived = store.downstream(base.artifact_id, 1).nodes[0].artifact_id
    con = store.connect()
    runs = [r[0] for r in con.execute("SELECT run_id FROM experiment_runs WHERE run_id NOT LIKE 'run-bench-%' "
                                      "ORDER BY created_at LIMIT 2")]
    validated = [s.sweep_id for s in list_sweeps(store) if sweep_validation(store, s.sweep_id) is not None]
    plain = [s.sweep_id for s in list_sweeps(store) if s.sweep_id not in validated]
    if not validated or not plain:
        raise SystemExit("bench_ui: the lake needs a sweep with validation (the quickstart's) and one without")
    proj = next(p.projection_id for p in Projections(store).list() if "alerts" in p.tables)
    page1 = store.list(order="-created_at", limit=50)
    store.close()
    q = json.dumps({"projectionId": proj, "sql": "SELECT chain, count(*) FROM alerts GROUP BY chain"}).encode()

    def art(aid):
        return [("GET", f"/api/artifacts/{aid}", None), ("GET", f"/api/artifacts/{aid}/node", None),
                ("GET", f"/api/lineage/{aid}?direction=upstream", None),
                ("GET", f"/api/lineage/{aid}?direction=downstream", None)]

    return {
        "artifacts": [("GET", "/", None), ("GET", "/api/types", None), ("GET", "/api/artifacts?sort=-created_at&limit=50", None)],
        "artifacts page 2": [("GET", "/api/types", None),
                             ("GET", f"/api/artifacts?sort=-created_at&limit=50&cursor={page1.next_cursor}", None)],
        "artifacts: type+status": [("GET", "/api/types", None),
                                   ("GET", "/api/artifacts?type=alert_forward_coverage&status=active&sort=-created_at&limit=50", None)],
        "artifacts: tag": [("GET", "/api/types", None), ("GET", "/api/artifacts?tag=token%3DBENCH04242&sort=-created_at&limit=50", None)],
        "artifacts: key prefix": [("GET", "/api/types", None), ("GET", "/api/artifacts?prefix=token%3DBENCH0123&sort=-created_at&limit=50", None)],
        "artifacts: search": [("GET", "/api/types", None), ("GET", "/api/artifacts?q=quickstart&sort=-created_at&limit=50", None)],
        "artifacts: time range": [("GET", "/api/types", None),
                                  ("GET", "/api/artifacts?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&sort=-created_at&limit=50", None)],
        "artifacts: sort rows": [("GET", "/api/types", None), ("GET", "/api/artifacts?sort=-row_count&limit=200", None)],
        "artifact (run trades)": art(trades.artifact_id),
        "artifact (superseded base)": art(base.artifact_id),
        "artifact (stale derived)": art(derived),
        "runs": [("GET", "/api/runs", None)],
        "run": [("GET", f"/api/runs/{runs[0]}", None)],
        "compare 2 runs": [("GET", f"/api/compare?runs={runs[0]},{runs[1]}", None)],
        "sweeps": [("GET", "/api/sweeps", None)],
        "sweep": [("GET", f"/api/sweeps/{plain[0]}", None)],
        "sweep (walk-forward validation)": [("GET", f"/api/sweeps/{validated[0]}", None)],
        "docs page (experiments)": [("GET", "/docs/experiments", None)],
        "coverage": [("GET", "/api/coverage", None)],
        "projections": [("GET", "/api/projections", None)],
        "sql query": [("POST", "/api/query", q)],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifacts", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=2_000, help="synthetic run records added")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--lake", type=Path, help="a quickstart lake to copy instead of running the quickstart")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.rounds < 5:
        ap.error("--rounds must be >= 5")

    from bridge.ui import UiServer
    sys.path.insert(0, str(REPO))
    from tests.ui.helpers import request

    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    try:
        lake = tmp / "lake"
        t0 = time.perf_counter()
        if args.lake:
            shutil.copytree(args.lake, lake)
        else:
            build_quickstart(lake)
        subprocess.run([sys.executable, "-c", SWEEP, str(lake)], check=True)  # a sweep without validation too
        qs_s = time.perf_counter() - t0
        bulk = bulk_artifacts(lake / "manifest" / "manifest.sqlite", args.artifacts, args.runs)
        total = sqlite3.connect(lake / "manifest" / "manifest.sqlite").execute("SELECT count(*) FROM artifacts").fetchone()[0]
        plan = pages(lake)
        ui = UiServer.start(lake, port=0)
        auth = {"Authorization": f"token {ui.token}"}

        def timed(method, path, body):
            t = time.perf_counter()
            status, _, _ = request(ui.port, method, path, headers=auth, body=body)
            ms = (time.perf_counter() - t) * 1000
            if status != 200:
                raise SystemExit(f"bench_ui: {method} {path} answered {status}")
            return ms

        results: dict[str, list[float]] = {"baseline (static file)": []}
        results.update({name: [] for name in plan})
        cold: dict[str, float] = {}
        for rnd in range(args.rounds + 1):
            for name, reqs in [("baseline (static file)", [("GET", "/static/app.css", None)]), *plan.items()]:
                ms = sum(timed(*r) for r in reqs)
                if rnd == 0:
                    cold[name] = ms
                else:
                    results[name].append(ms)
        ui.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    for name, vals in results.items():
        rows.append({"page": name, "requests": 1 if name.startswith("baseline") else len(plan[name]),
                     "cold_ms": round(cold[name], 1), "median_ms": round(statistics.median(vals), 1),
                     "min_ms": round(min(vals), 1), "max_ms": round(max(vals), 1)})
    worst = max(r["max_ms"] for r in rows)
    summary = {"artifacts": total, "synthetic": args.artifacts, "runs_added": args.runs, "rounds": args.rounds,
               "setup_quickstart_s": round(qs_s, 1), "bulk_insert_s": bulk["seconds"], "target_ms": TARGET_MS,
               "worst_ms": worst, "met": worst < TARGET_MS, "pages": rows}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"lake: {total:,} artifacts ({args.artifacts:,} bulk-inserted in {bulk['seconds']} s), "
              f"{args.runs:,} synthetic runs; {args.rounds} rounds after a cold one")
        print(f"{'page':32} {'reqs':>4} {'cold ms':>9} {'median ms':>10} {'range ms':>16}")
        for r in rows:
            print(f"{r['page']:32} {r['requests']:>4} {r['cold_ms']:>9.1f} {r['median_ms']:>10.1f} "
                  f"{r['min_ms']:>7.1f}–{r['max_ms']:<7.1f}")
        print(f"worst page (any round after the cold one): {worst:.1f} ms; target < {TARGET_MS:.0f} ms: "
              f"{'met' if worst < TARGET_MS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
