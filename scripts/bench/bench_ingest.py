"""Benchmark: Telegram export ingestion vs baselines, in the same run.

    .venv/bin/python scripts/bench/bench_ingest.py [--messages 1000000] [--alert-every 10]

Generates a single-chat export of --messages messages (tests/ingest/builder.py), then, each in a
fresh child process with its peak RSS:
  * baseline A: `json.load` of the file (what a non-streaming reader holds);
  * baseline B: ijson C backend, iterating the messages only (the floor for streaming parse);
  * warm_up: ingest_telegram of a 100-message export (imports and first-use costs), subtracted
    from the next;
  * ingest_telegram into an empty lake (parse + normalise + stage + publish);
and prints messages/s, the time ratio ingest / baseline B, and RSS ratios vs the file size.
Not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

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
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--alert-every", type=int, default=10)
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
        res = {name: run(name, path, Path(d) / f"lake-{name}") for name in CHILD}
        for name, r in res.items():
            print(f"{name:12s} {r['s']:7.2f} s  {args.messages / r['s']:>10,.0f} msg/s  peak RSS {r['rss_mb']:7.1f} MB "
                  f"({r['rss_mb'] / size_mb:.2f}x file)")
        delta = res["ingest"]["rss_mb"] - res["warm_up"]["rss_mb"]
        print(f"ingest RSS above warm-up: {delta:.1f} MB ({delta / size_mb:.2f}x file)")
        print(f"ingest / ijson-only time: {res['ingest']['s'] / res['ijson_items']['s']:.2f}x; "
              f"ingest RSS / json.load RSS: {res['ingest']['rss_mb'] / res['json_load']['rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
