"""Benchmark: content hashing and publishing vs their baselines, in the same run (DESIGN §9).

    .venv/bin/python scripts/bench/bench_store.py [--rows 5000000] [--tokens 200]

Prints, for an OHLCV table of --rows rows:
  * content hash of the Parquet artifact (read + canonicalise + hash) vs pyarrow's plain read of
    the same file (target ≤ 2.5×), vs a naive per-row Python loop (timed on a subset and scaled;
    target ≥ 20×), and its rows/s (target ≥ 1 M/s);
  * publish of the same rows as CSV vs pyarrow's typed read_csv (the spec's column types, ts as
    timestamp[us, UTC]) + pq.write_table with the store's Parquet settings, not fsync'd (the
    publish fsyncs its file; target ≤ 1.2×);
  * peak RSS of each measured step (each runs in a fresh child process) vs the table's in-memory
    Arrow size (target ≤ 2× for the publish of rows in order, ≤ 3× otherwise).
Every step runs in a fresh process, once per round, rounds interleaved; median and range printed,
and the CPU time (user + system) of the publish and its baseline: on a loaded machine no core is
idle, so the wall-time ratio then shows the extra work rather than what runs beside the writer.
The publish/baseline ratio is also given per round (each publish over the baseline run just
before it, so both saw the same load): median and range.
Each child imports pyarrow (with its csv and parquet modules), numpy and duckdb before its clock
starts; the publish also opens its lake and loads the modules it uses (pyarrow.compute, the
store's) first, as a running daemon has them. What a fresh process (a CLI call) pays once for
those modules is printed apart.
With --instructions ROWS (needs valgrind): the instructions the publish and its baseline execute
at ROWS rows, counted by callgrind over all threads: a measure of the work done that does not
depend on the machine's load (it cannot show what runs beside the writer).
Not a test: the numbers go in the README.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _callgrind import Callgrind  # noqa: E402


def make_data(rows: int, tokens: int, folder: Path) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(7)
    per = rows // tokens
    n = per * tokens
    tok = np.repeat(np.array([f"{i:04d}" + "So1anaTokenAddre55pump"[: 40] for i in range(tokens)]), per)
    ts = np.tile(np.arange(per, dtype="int64") * 60_000_000, tokens) + 1_767_225_600_000_000
    close = np.abs(1 + np.cumsum(rng.normal(0, 0.001, n))) + 0.01
    open_ = np.roll(close, 1)
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    table = pa.table({
        "token": tok, "resolution": np.repeat("1m", n), "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "open": open_, "high": high, "low": low, "close": close, "volume": rng.random(n) * 1000,
    })
    # Canonical order (token, resolution, ts), as an artifact is stored and a candle export comes;
    # plus a shuffled copy, where canonical ordering has real work to do.
    from bridge.store.files import write_parquet

    write_parquet(table, folder / "ohlcv.parquet", {})  # the store's own writer and settings
    pcsv.write_csv(table, folder / "ohlcv.csv")
    pcsv.write_csv(table.take(pa.array(rng.permutation(n))), folder / "shuffled.csv")
    return {"rows": n, "arrow_bytes": table.nbytes, "parquet_bytes": (folder / "ohlcv.parquet").stat().st_size,
            "csv_bytes": (folder / "ohlcv.csv").stat().st_size}


STEPS = {
    "read_parquet": """
import pyarrow.parquet as pq
t = pq.read_table(F / "ohlcv.parquet")
""",
    "content_hash": """
import pyarrow.parquet as pq
from bridge.store import canonical
from bridge.store.spec import get_spec
spec = get_spec("ohlcv_slice", 2)
t = canonical.canonicalize(pq.read_table(F / "ohlcv.parquet"), spec, "bench")
h = canonical.content_hash(t, spec)
""",
    "naive_loop": """
import hashlib, pyarrow.parquet as pq
t = pq.read_table(F / "ohlcv.parquet").slice(0, SUBSET).to_pylist()
rows = sorted(t, key=lambda r: (r["token"], r["resolution"], r["ts"]))
h = hashlib.sha256()
for r in rows:
    h.update("|".join([r["token"], r["resolution"], r["ts"].isoformat(), repr(r["open"]), repr(r["high"]),
                       repr(r["low"]), repr(r["close"]), repr(r["volume"])]).encode())
""",
    "csv_to_parquet": """
import pyarrow as pa, pyarrow.csv as pcsv, pyarrow.parquet as pq
from bridge.store.files import PARQUET_SETTINGS
types = {"token": pa.string(), "resolution": pa.string(), "ts": pa.timestamp("us", tz="UTC"),
         **dict.fromkeys(("open", "high", "low", "close", "volume"), pa.float64())}
t = pcsv.read_csv(F / "ohlcv.csv", convert_options=pcsv.ConvertOptions(column_types=types))
pq.write_table(t, F / "baseline.parquet", **PARQUET_SETTINGS)
""",
    "publish_csv": """
from bridge.store import Store
import shutil
shutil.rmtree(F / "lake", ignore_errors=True)
s = Store(F / "lake")  # a new lake, opened before the clock starts: the publish is timed, not the set-up
import pyarrow.compute, bridge.store.canonical, bridge.store.files, bridge.store.limits, bridge.store.gitinfo  # as in the daemon
#--timed--
r = s.publish("ohlcv_slice", 2, "bench/csv", F / "ohlcv.csv", writer_name="bench", writer_version="1")
assert not r.deduped
""",
    "publish_shuffled_csv": """
from bridge.store import Store
import shutil
shutil.rmtree(F / "lake", ignore_errors=True)
s = Store(F / "lake")  # a new lake, opened before the clock starts: the publish is timed, not the set-up
import pyarrow.compute, bridge.store.canonical, bridge.store.files, bridge.store.limits, bridge.store.gitinfo  # as in the daemon
#--timed--
r = s.publish("ohlcv_slice", 2, "bench/csv", F / "shuffled.csv", writer_name="bench", writer_version="1")
assert not r.deduped
""",
    "baseline_rss": """
x = 1
""",
    "publish_imports": """
from bridge.store import Store
#--timed--
import pyarrow.compute, bridge.store.canonical, bridge.store.files, bridge.store.limits, bridge.store.gitinfo
""",
}


def step_code(name: str, folder: Path, subset: int, timed_part: bool = True) -> str:
    setup, _, timed = STEPS[name].rpartition("#--timed--")
    if not timed_part:
        timed = "pass"
    return f"""
import sys, time, resource, json
from pathlib import Path
sys.path.insert(0, {str(REPO)!r})
import pyarrow, pyarrow.parquet, pyarrow.csv, numpy, duckdb
F = Path({str(folder)!r}); SUBSET = {subset}
{setup}
ru0 = resource.getrusage(resource.RUSAGE_SELF); cpu0 = ru0.ru_utime + ru0.ru_stime
t0 = time.perf_counter()
{timed}
dt = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": dt, "cpu": ru.ru_utime + ru.ru_stime - cpu0, "peak_rss": ru.ru_maxrss * 1024}}))
"""


def run_step(name: str, folder: Path, subset: int) -> dict:
    """Run one step in a fresh interpreter; time only the step (not imports, nor the set-up before a
    `#--timed--` line: opening a new lake); its CPU time; peak RSS of the child."""
    out = subprocess.run([sys.executable, "-c", step_code(name, folder, subset)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def instructions(name: str, folder: Path) -> tuple[int, int]:
    """Instructions the timed part of a step executes, counted by valgrind's callgrind (all threads;
    the same count on a busy or a quiet machine): the step run whole minus its set-up run alone.
    Also the part of it spent in libcrypto (SHA-256): valgrind hides the CPU's SHA extensions,
    so that part counts several times what the CPU runs."""

    def count(code: str) -> tuple[int, int]:
        with Callgrind([sys.executable, "-c", code]) as cg:
            return cg.finish(), cg.self_cost("libcrypto")

    whole, setup = count(step_code(name, folder, 0)), count(step_code(name, folder, 0, timed_part=False))
    return whole[0] - setup[0], whole[1] - setup[1]


def rounds(names: list[str], folder: Path, repeat: int, subset: int = 0) -> dict:
    """Each step once per round, rounds interleaved (load from other processes hits all alike):
    {name: {"seconds": median, "range": (min, max), "peak_rss": max}}."""
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for _ in range(repeat):
        for n in names:
            runs[n].append(run_step(n, folder, subset))
    out = {}
    for n, rs in runs.items():
        secs = [r["seconds"] for r in rs]
        out[n] = {"seconds": statistics.median(secs), "range": (min(secs), max(secs)), "all": secs,
                  "cpu": statistics.median(r["cpu"] for r in rs), "peak_rss": max(r["peak_rss"] for r in rs)}
    return out


def paired(res: dict, num: str, den: str) -> tuple[float, float, float]:
    """Per-round ratio num/den (the two ran one after the other in each round): median, min, max."""
    r = [a / b for a, b in zip(res[num]["all"], res[den]["all"])]
    return statistics.median(r), min(r), max(r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (median and range reported)")
    ap.add_argument("--loop-subset", type=int, default=200_000, help="rows the naive loop runs on (then scaled)")
    ap.add_argument("--instructions", type=int, metavar="ROWS", default=0,
                    help="instead: count the instructions of the publish and its baseline at ROWS rows (valgrind)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--generate", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        print(json.dumps(make_data(args.rows, args.tokens, Path(args.generate))))
        return
    if args.instructions:
        count_instructions(args.instructions, args.tokens)
        return
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        folder = Path(tmp)
        print(f"generating {args.rows:,} OHLCV rows ...", file=sys.stderr)
        # In a child: Linux keeps a process's peak RSS across fork+exec, so this parent must stay
        # small for the children's peaks to be their own.
        gen = subprocess.run([sys.executable, __file__, "--generate", str(folder), "--rows", str(args.rows),
                              "--tokens", str(args.tokens)], capture_output=True, text=True, check=True)
        info = json.loads(gen.stdout)
        n = info["rows"]
        subset = min(args.loop_subset, n)
        res = rounds(["read_parquet", "content_hash", "csv_to_parquet", "publish_csv", "publish_shuffled_csv"],
                     folder, args.repeat)
        base_rss = rounds(["baseline_rss"], folder, 1)["baseline_rss"]["peak_rss"]
        imports = rounds(["publish_imports"], folder, 3)["publish_imports"]["seconds"]
        loop = rounds(["naive_loop"], folder, 1, subset)["naive_loop"]
        loop_scaled = loop["seconds"] * n / subset
    out = {
        "rows": n, "arrow_bytes": info["arrow_bytes"], "cpus": os.cpu_count(),
        "read_parquet_s": res["read_parquet"]["seconds"],
        "content_hash_s": res["content_hash"]["seconds"],
        "content_hash_rows_per_s": n / res["content_hash"]["seconds"],
        "hash_vs_read": res["content_hash"]["seconds"] / res["read_parquet"]["seconds"],
        "naive_loop_s_scaled": loop_scaled, "naive_loop_subset_rows": subset,
        "hash_speedup_vs_naive": loop_scaled / res["content_hash"]["seconds"],
        "csv_to_parquet_s": res["csv_to_parquet"]["seconds"],
        "publish_csv_s": res["publish_csv"]["seconds"],
        "publish_vs_baseline": res["publish_csv"]["seconds"] / res["csv_to_parquet"]["seconds"],
        "publish_vs_baseline_per_round": paired(res, "publish_csv", "csv_to_parquet"),
        "publish_imports_s": imports,
        "csv_to_parquet_cpu_s": res["csv_to_parquet"]["cpu"], "publish_csv_cpu_s": res["publish_csv"]["cpu"],
        "publish_shuffled_csv_s": res["publish_shuffled_csv"]["seconds"],
        "interpreter_rss": base_rss,
        "peak_rss_hash_x_arrow": res["content_hash"]["peak_rss"] / info["arrow_bytes"],
        "peak_rss_publish_x_arrow": res["publish_csv"]["peak_rss"] / info["arrow_bytes"],
        "peak_rss_publish_shuffled_x_arrow": res["publish_shuffled_csv"]["peak_rss"] / info["arrow_bytes"],
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    mb = info["arrow_bytes"] / 1e6
    print(f"rows {n:,}  (Arrow in memory {mb:,.0f} MB, {os.cpu_count()} cpus), median of {args.repeat} interleaved rounds;"
          " ranges (min-max, s):")
    print("  " + "  ".join(f"{k} {v['range'][0]:.2f}-{v['range'][1]:.2f}" for k, v in res.items()))
    print(f"content hash        {out['content_hash_s']:7.2f} s  {out['content_hash_rows_per_s'] / 1e6:5.2f} M rows/s   target >= 1 M rows/s")
    print(f"  vs pyarrow read   {out['read_parquet_s']:7.2f} s  ratio {out['hash_vs_read']:5.2f}x            target <= 2.5x")
    print(f"  vs naive loop     {loop_scaled:7.2f} s  speed-up {out['hash_speedup_vs_naive']:5.1f}x        target >= 20x"
          f"  (loop timed on {subset:,} rows, scaled)")
    print(f"publish CSV         {out['publish_csv_s']:7.2f} s")
    print(f"  vs typed read_csv + write_table (store's Parquet settings, no fsync) {out['csv_to_parquet_s']:7.2f} s  ratio "
          f"{out['publish_vs_baseline']:5.2f}x  target <= 1.2x")
    pr = out["publish_vs_baseline_per_round"]
    print(f"  ratio per round (publish / the baseline run just before it): median {pr[0]:.2f}x, range {pr[1]:.2f}-{pr[2]:.2f}x")
    print(f"  not timed: the modules a fresh process (a CLI call) loads once for a publish (pyarrow.compute, the store's): {imports:.2f} s (median of 3)")
    print(f"  CPU time (user + system, median): publish {res['publish_csv']['cpu']:.2f} s, baseline "
          f"{res['csv_to_parquet']['cpu']:.2f} s, ratio {res['publish_csv']['cpu'] / res['csv_to_parquet']['cpu']:.2f}x"
          "  (the work done; wall time also shows what overlaps)")
    print(f"publish shuffled CSV{out['publish_shuffled_csv_s']:7.2f} s  ratio {out['publish_shuffled_csv_s'] / out['csv_to_parquet_s']:5.2f}x"
          "            (rows out of order: canonical sort included)")
    print(f"peak RSS hash       {res['content_hash']['peak_rss'] / 1e6:7.0f} MB  {out['peak_rss_hash_x_arrow']:.2f}x Arrow size  target <= 3x")
    print(f"peak RSS publish    {res['publish_csv']['peak_rss'] / 1e6:7.0f} MB  {out['peak_rss_publish_x_arrow']:.2f}x Arrow size  target <= 2x (rows in order)")
    print(f"peak RSS shuffled   {res['publish_shuffled_csv']['peak_rss'] / 1e6:7.0f} MB  {out['peak_rss_publish_shuffled_x_arrow']:.2f}x Arrow size  target <= 3x")
    print(f"(a bare interpreter with pyarrow, numpy and duckdb imported: {base_rss / 1e6:.0f} MB, included above)")


def count_instructions(rows: int, tokens: int) -> None:
    """The load-independent comparison: instructions of the publish and of its baseline."""
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        folder = Path(tmp)
        print(f"generating {rows:,} OHLCV rows; counting under callgrind (minutes) ...", file=sys.stderr)
        subprocess.run([sys.executable, __file__, "--generate", str(folder), "--rows", str(rows),
                        "--tokens", str(tokens)], capture_output=True, text=True, check=True)
        got = {n: instructions(n, folder) for n in ("csv_to_parquet", "publish_csv")}
    (base, base_c), (pub, pub_c) = got["csv_to_parquet"], got["publish_csv"]
    print(f"instructions at {rows:,} rows (callgrind, all threads, set-up subtracted):")
    print(f"  typed read_csv + write_table {base / 1e6:9.1f} M  (SHA-256 {max(0, base_c) / 1e6:.1f} M)")
    print(f"  publish                      {pub / 1e6:9.1f} M  (SHA-256 {pub_c / 1e6:.1f} M)  ratio {pub / base:.2f}x;"
          f" without SHA-256 {(pub - pub_c) / (base - base_c):.2f}x")
    print("  (valgrind hides the CPU's SHA extensions: its SHA-256 count is several times what the CPU runs)")


if __name__ == "__main__":
    main()
