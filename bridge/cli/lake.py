"""`bridge lake copy SRC DST`: move a lake between backends (docs/team.md)."""

from __future__ import annotations

import argparse

from bridge.cli._common import emit_json, progress_job


def register(sub: argparse._SubParsersAction) -> None:
    lake = sub.add_parser("lake", help="whole-lake operations: copy a lake between backends")
    lsub = lake.add_subparsers(dest="lake_command", metavar="COMMAND", required=True)
    p = lsub.add_parser(
        "copy", help="copy every artifact, file, lineage edge, tag and event from SRC to DST (idempotent)",
        description="Copy a lake between any two backends (SQLite or PostgreSQL manifest, local folder or "
                    "S3 bucket). SRC and DST are lake folders; a folder's lake.toml names its backend "
                    "(`bridge init --lake DST --manifest postgresql://… --artifacts s3://…` makes one). "
                    "Every file is checked against its SHA-256 on the way; artifact ids never change. "
                    "Running it again copies only what is missing.")
    p.add_argument("src", metavar="SRC", help="source lake folder")
    p.add_argument("dst", metavar="DST", help="destination lake folder (created if missing)")
    p.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    p.set_defaults(func=cmd_copy)


def cmd_copy(args) -> int:
    from pathlib import Path

    from bridge.errors import ValidationFailed
    from bridge.store import Lake, Store
    from bridge.store.copy import copy_lake

    src_lake, dst_lake = Lake(args.src), Lake(args.dst)
    if not Path(args.src).is_dir():
        raise ValidationFailed(f"no lake at {args.src}", field="SRC", value=args.src)
    if (src_lake.manifest_url, src_lake.artifacts_url) == (dst_lake.manifest_url, dst_lake.artifacts_url):
        raise ValidationFailed("SRC and DST are the same lake", field="DST", value=args.dst)
    src, dst = Store(src_lake), Store(dst_lake)
    dst.files.ensure()
    report = copy_lake(src, dst, job=progress_job(not args.json, "copy"))
    if args.json:
        emit_json(report)
    else:
        print(f"copied {report.copied} artifact(s), {report.skipped} already there, {report.files_copied} file(s) "
              f"({report.bytes_copied:,} bytes), {report.status_updated} status update(s), {report.runs_copied} run(s)\n"
              f"  from {report.source}\n  to   {report.destination}")
    return 0
