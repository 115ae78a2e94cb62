"""Benchmark: Telegram export ingestion vs baselines, in the same run.

    .venv/bin/python scripts/bench/bench_ingest.py [--messages 1000000] [--alert-every 10] [--rounds 5]

Generates a single-chat export of --messages messages (tests/ingest/builder.py), then runs
--rounds interleaved rounds; each round runs, each in a fresh child process with its peak RSS:
  * baseline A: `json.load` of the file (what a non-streaming reader holds);
  * baseline B: ijson's C backend (yajl2_c) iterating the messages only, building each one as a
    dict (the floor for a streaming parse);
  * warm_up: ingest_telegram of a 100-message export into a new lake (imports and first-use
    costs; its peak RSS is subtracted from the next);
  * ingest_telegram into a new, empty lake (parse + normalise + stage + publish).
Prints the median and range over the rounds of each time, messages/s, the largest peak RSS vs the
file size, and the time ratio ingest / baseline B per round (each ingest over the baseline B of
its own round, so both saw the same load): median and range. Not a test.
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

CHILD = {
    "json_load": "import json,sys; json.load(open(sys.argv[1], 'rb'))",
    "ijson_items": "import ijson,sys; b=ijson.get_backend('yajl2_c'); sum(1 for _ in b.items(open(sys.argv[1],'rb'), 'messages.item'))",
    "warm_up": ("import sys; from bridge.store import Store; from bridge.ingest import ingest_telegram; "
                "from bridge.ingest.provenance import CodeVersion; "
                "ingest_telegram(Store(sys.argv[2]), sys.argv[1].replace('result.json', 'tiny.json'), "
                "code=CodeVersion(None, False))"),
    "ingest": ("import sys; from bridge.store import Store; from bridge.ingest import ingest_telegram; "
               "from bridge.ingest.provenance import CodeVersion; "
               "ingest_telegram(Store(sys.argv[2]), sys.argv[1], code=CodeVersion(None, False))"),
}
WRAP = ("import resource, sys, time, json; t=time.perf_counter(); exec(sys.argv[3]); "
        "print(json.dumps({'s': time.perf_counter()-t, 'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))")


def run(name: str, path: Path, lake: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAP, str(path), str(lake), CHILD[name]], cwd=REPO,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--alert-every", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median and range reported)")
    args = ap.parse_args()
    from tests.ingest.builder import write_large_export

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "result.json"
        t = time.perf_counter()
        expected = write_large_export(path, args.messages, alert_every=args.alert_every)
        write_large_export(Path(d) / "tiny.json", 100)
        size_mb = path.stat().st_size / 2**20
        print(f"export: {args.messages:,} messages, {expected['alerts']:,} alerts, {size_mb:.1f} MB "
              f"(generated in {time.perf_counter() - t:.1f} s)")
        runs: dict[str, list[dict]] = {name: [] for name in CHILD}
        for i in range(args.rounds):  # interleaved: every child once per round
            for name in CHILD:
                runs[name].append(run(name, path, Path(d) / f"lake-{name}-{i}"))
    print(f"median (min–max) of {args.rounds} interleaved rounds, each child a fresh process; peak RSS: the largest")
    for name, rs in runs.items():
        secs, rss = [r["s"] for r in rs], max(r["rss_mb"] for r in rs)
        rate = "(100 messages)" if name == "warm_up" else f"{args.messages / statistics.median(secs):,.0f} msg/s"
        print(f"{name:12s} {spread(secs):>22s} s  {rate:>16s}  peak RSS {rss:7.1f} MB ({rss / size_mb:.2f}x file)")
    warm, ingest = max(r["rss_mb"] for r in runs["warm_up"]), max(r["rss_mb"] for r in runs["ingest"])
    print(f"ingest RSS above warm-up: {ingest - warm:.1f} MB ({(ingest - warm) / size_mb:.2f}x file)")
    ratio = [a["s"] / b["s"] for a, b in zip(runs["ingest"], runs["ijson_items"])]
    print(f"ingest / ijson-only time, per round: {spread(ratio)}x; "
          f"ingest RSS / json.load RSS: {ingest / max(r['rss_mb'] for r in runs['json_load']):.2f}x")


if __name__ == "__main__":
    main()
