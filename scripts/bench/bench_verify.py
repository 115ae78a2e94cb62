"""Benchmark: `verify` against the cost of touching the same files, in the same run (DESIGN §9).

    .venv/bin/python scripts/bench/bench_verify.py [--artifacts 100000] [--rows 200] [--rounds 5] [--keep DIR]

Makes --artifacts real artifacts (distinct Parquet files of --rows rows, sidecars of the manifest
row's fields, ~550 bytes, written on every core; manifest rows inserted in bulk; ids made as the
store makes them, so the files spread over the 256 folders of the lake's layout as real ones do,
not all in one folder as sequential ids would), then times, interleaved round by
round (median and range of --rounds):

* `verify --quick` (existence, size, mode) — target < 5 s at 100,000 artifacts — against its
  baseline "stat walk": os.walk of artifacts/ with an os.stat of every file;
* full `verify` (re-hash of every Parquet file, every sidecar read and checked) — target ≤ 1.5× —
  against reading and sha256-ing the same files (each artifact's Parquet file and sidecar) on both
  cores, three plain ways, the ratio taken to the fastest of them in that run:
  - "sha256sum -P<cpus>": coreutils `sha256sum` over the files, one per usable CPU at a time
    (`xargs -0 -P<cpus> -n 1000`);
  - "hashlib 1 thread": os.open/os.read + hashlib.sha256, one file after another;
  - "hashlib <cpus> processes": the same in one forked process per usable CPU, each a share of
    the list, which they inherit (nothing pickled: only the count comes back).
  (Threads are no baseline here: on files of a few KB the per-file Python holds the GIL, and two
  threads took two to four times as long as one, timed once.) For reference, "sha256sum
  -P<cpus> Parquet only" hashes the Parquet files alone, as the baseline did before 2026-11-30;
  its ratio is printed too.
The files are warm in the page cache for all (read once before the first round, untimed, and
every round reads them all); the targets' order rotates by round. It also prints the
median CPU time (this process and its ended children) of the full verify and the hashlib baselines.
Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import statistics
import sys
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _spread import spread  # noqa: E402
from bridge.proc import usable_cpus  # noqa: E402


def build(root: Path, n: int, rows: int) -> None:
    """The lake: the files written on every core (5,000 artifacts a task), the manifest rows here."""
    from bridge.store import Store, manifest

    con = Store(root).connect()
    tasks = [(root, lo, min(lo + 5000, n), rows) for lo in range(0, n, 5000)]
    with ProcessPoolExecutor(usable_cpus(), mp_context=multiprocessing.get_context("spawn")) as pool:
        for batch in pool.map(_write_artifacts, tasks):
            with manifest.write_txn(con):
                con.executemany(f"INSERT INTO artifacts ({', '.join(batch[0])}) VALUES ({','.join('?' * len(batch[0]))})",
                                [tuple(r.values()) for r in batch])


def _write_artifacts(task: tuple[Path, int, int, int]) -> list[dict]:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from bridge.store import Store
    from bridge.store.files import PARQUET_SETTINGS
    from bridge.store.store import artifact_id_for
    from bridge.store.spec import get_spec

    root, lo, hi, rows = task
    store = Store(root)
    spec = get_spec("run_metrics", 1)
    base = pa.table({"run_id": ["r"] * rows, "metric_name": [f"m{i:05d}" for i in range(rows)],
                     "metric_value": [float(i) for i in range(rows)], "metric_unit": [None] * rows,
                     "computed_at": pa.array([0] * rows, pa.timestamp("us", tz="UTC"))})
    out = []
    for i in range(lo, hi):
        aid = artifact_id_for("run_metrics", 1, f"run=r{i}", f"c{i}")  # spread over the 256 shard folders as real ids are
        parquet, sidecar = store.lake.artifact_paths(spec.dir_name, aid)
        parquet.parent.mkdir(parents=True, exist_ok=True)
        t = base.set_column(0, "run_id", pa.array([f"r{i}"] * rows))
        pq.write_table(t, parquet, **PARQUET_SETTINGS)
        data = parquet.read_bytes()
        row = {"artifact_id": aid, "artifact_type": "run_metrics", "schema_version": 1, "logical_key": f"run=r{i}",
               "status": "active", "path_parquet": parquet.relative_to(root).as_posix(),
               "path_sidecar": sidecar.relative_to(root).as_posix(), "file_hash": hashlib.sha256(data).hexdigest(),
               "content_hash": f"c{i}", "row_count": rows, "min_ts": None, "max_ts": None,
               "created_at": f"2026-01-01T00:00:00.{i:06d}Z", "file_bytes": len(data)}
        sidecar.write_text(json.dumps(row))
        out.append(row)
    return out


def stat_walk(folder: Path) -> int:
    n = 0
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            os.stat(os.path.join(dirpath, name))
            n += 1
    return n


def sha256sum(paths: list[str]) -> int:
    out = subprocess.run(["xargs", "-0", f"-P{usable_cpus()}", "-n", "1000", "sha256sum"],
                         input="\0".join(paths).encode(), capture_output=True, check=True).stdout
    return out.count(b"\n")


def _hash_files(paths: list[str]) -> int:
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        h = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
        os.close(fd)
        h.hexdigest()
    return len(paths)


SUM, PROCS = f"sha256sum -P{usable_cpus()}", f"hashlib {usable_cpus()} processes"  # the baselines' names, as run here
_PATHS: list[str] = []  # the forked processes' list: inherited, not pickled


def _hash_share(share: tuple[int, int]) -> int:
    k, n = share
    return _hash_files(_PATHS[k::n])


def hashlib_processes(paths: list[str]) -> int:
    _PATHS[:] = paths
    n = usable_cpus()
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
        return sum(pool.map(_hash_share, [(k, n) for k in range(n)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifacts", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    from bridge.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        root = (args.keep or Path(tmp)) / f"lake-verify-{args.artifacts}x{args.rows}"
        if not (root / "manifest" / "manifest.sqlite").exists():
            t0 = time.perf_counter()
            build(root, args.artifacts, args.rows)
            print(f"built {args.artifacts:,} artifacts in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        store = Store(root)
        rows = store.connect().execute("SELECT path_parquet, path_sidecar FROM artifacts").fetchall()
        parquet = [str(root / r[0]) for r in rows]
        both = [str(root / p) for r in rows for p in r]
        mb, mb_both = (sum(os.path.getsize(p) for p in ps) / 1e6 for ps in (parquet, both))
        runs = {"quick": lambda: store.verify(quick=True), "stat walk": lambda: stat_walk(store.lake.artifacts),
                "full": lambda: store.verify(), SUM: lambda: sha256sum(both),
                "hashlib 1 thread": lambda: _hash_files(both), PROCS: lambda: hashlib_processes(both),
                f"{SUM} Parquet only": lambda: sha256sum(parquet)}
        t: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        # warm-up, untimed: every file read once, so that no target pays for the page cache alone
        # (a lake left idle may have been evicted: one such first round took 17 s, against 1-2 s)
        _hash_files(both)
        names = list(runs)
        for r in range(args.rounds):  # interleaved: each round runs them all, in an order rotating by round
            for name in names[r % len(names):] + names[:r % len(names)]:
                fn = runs[name]
                c0, t0 = _cpu(), time.perf_counter()
                out = fn()
                t[name].append(time.perf_counter() - t0)
                cpu[name].append(_cpu() - c0)
                if hasattr(out, "ok"):
                    assert out.ok, out.issues[:3]
                else:
                    assert out == len(parquet if "only" in name else both), (name, out)
    print(f"{args.artifacts:,} artifacts: {len(both):,} files, {mb_both:.0f} MB ({mb:.0f} MB of Parquet); "
          f"{args.rounds} interleaved rounds, {usable_cpus()} usable cores")
    print(f"{'':28s} {'median s':>9s} {'range s':>15s}")
    for name, v in t.items():
        print(f"{name:28s} {statistics.median(v):9.2f} {min(v):7.2f}–{max(v):.2f}")
    med = {name: statistics.median(v) for name, v in t.items()}
    q, full = med["quick"], med["full"]
    base = min((SUM, "hashlib 1 thread", PROCS), key=med.get)
    print(f"quick: {q:.2f} s (target < 5 s at 100,000), {q / med['stat walk']:.2f}× the stat walk")
    print(f"full: {full / med[base]:.2f}× the fastest read+sha256 of the same files, {base} (target ≤ 1.5×); "
          f"per round {spread([f / b for f, b in zip(t['full'], t[base])], unit='×')}")
    print(f"      {full / med[f'{SUM} Parquet only']:.2f}× {SUM} of the Parquet files alone (reference)")
    print(f"CPU (this process and its children, median): full {statistics.median(cpu['full']):.2f} s, "
          f"{PROCS} {statistics.median(cpu[PROCS]):.2f} s, "
          f"hashlib 1 thread {statistics.median(cpu['hashlib 1 thread']):.2f} s")


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (workers, pools, sha256sum)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
